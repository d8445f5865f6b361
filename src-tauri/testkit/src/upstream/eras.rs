//! One fake upstream for each MCP protocol era, both recording every request: one that speaks
//! only MCP 2026-07-28 (`server/discover`, stateless, routing headers; [`modern_post`]) and one
//! that speaks only the `initialize`/session era of 2025-06-18, like a TypeScript SDK server of
//! that version ([`legacy_post`]). The era tests run Gatehouse between them and clients of the
//! other era ([`crate::eras`]).

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// The modern protocol version.
pub const MODERN: &str = "2026-07-28";

/// One request as an upstream got it.
#[derive(Clone, Debug)]
pub struct Request {
    pub http_method: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    pub fn session(&self) -> Option<&str> {
        self.header("mcp-session-id")
    }

    /// A call Gatehouse makes on its own (era probe, upstream session, annotations read).
    pub fn is_gatehouse_own(&self) -> bool {
        self.body["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("gatehouse-"))
    }
}

#[derive(Default)]
pub struct EraUpstream {
    pub requests: Mutex<Vec<Request>>,
    /// The legacy sessions the fake knows, and how many it ever opened.
    pub live: Mutex<Vec<String>>,
    pub opened: Mutex<usize>,
}

/// The lock, even if a test panicked holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl EraUpstream {
    pub fn record(&self, m: &Method, h: &HeaderMap, body: &Value) {
        let (http_method, headers, body) = (m.to_string(), h.clone(), body.clone());
        lock(&self.requests).push(Request {
            http_method,
            headers,
            body,
        });
    }

    pub fn requests(&self) -> Vec<Request> {
        lock(&self.requests).clone()
    }

    /// The POSTs whose JSON-RPC method is `method`.
    pub fn posts(&self, method: &str) -> Vec<Request> {
        let mut all = self.requests();
        all.retain(|s| s.http_method == "POST" && s.body["method"] == method);
        all
    }
}

fn rpc_result(id: &Value, result: Value) -> Response {
    let mut body = json!({"jsonrpc": "2.0", "id": id});
    body["result"] = result;
    axum::Json(body).into_response()
}

fn rpc_error(status: StatusCode, id: &Value, code: i64, message: &str, data: Value) -> Response {
    let mut body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    body["error"]["data"] = data;
    (status, axum::Json(body)).into_response()
}

fn sse_event(message: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {message}\n\n"))
}

/// A stream body of `first`, then a keep-alive comment every 50 ms, never ending.
fn then_keep_alive(first: Bytes) -> Body {
    let first = futures_util::stream::once(async move { Ok(first) });
    let ticks = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let tick: Result<_, Infallible> = Ok(Bytes::from_static(b": working\n\n"));
        Some((tick, ()))
    });
    Body::from_stream(first.chain(ticks))
}

fn sse(body: Body) -> Response {
    ([("content-type", "text/event-stream")], body).into_response()
}

/// The legacy-only upstream's InitializeResult.
fn legacy_initialize_result() -> Value {
    json!({
        "protocolVersion": "2025-06-18",
        "capabilities": {"tools": {"listChanged": true}},
        "serverInfo": {"name": "legacy-fake", "version": "3.1"},
        "instructions": "call echo",
    })
}

/// Only `initialize` and sessions, like a 2025-06-18 TypeScript SDK server.
pub async fn legacy_post(
    State(fake): State<Arc<EraUpstream>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.record(&Method::POST, &headers, &value);
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let method = value["method"].as_str().unwrap_or("");
    let no_session = |why| rpc_error(StatusCode::BAD_REQUEST, &id, -32000, why, Value::Null);
    if method == "server/discover" {
        // The SDK's legacy transport, asked without a session: era.rs reads this as legacy.
        return no_session("Bad Request: Server not initialized");
    }
    if method == "initialize" {
        let mut opened = lock(&fake.opened);
        *opened += 1;
        let session = format!("legacy-{opened}");
        lock(&fake.live).push(session.clone());
        let result = rpc_result(&id, legacy_initialize_result());
        return ([("mcp-session-id", session)], result).into_response();
    }
    let Some(session) = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) else {
        return no_session("Bad Request: No valid session ID provided");
    };
    if !lock(&fake.live).iter().any(|s| s == session) {
        // 2025-06-18 transports §Session Management: an unknown session is a 404.
        return StatusCode::NOT_FOUND.into_response();
    }
    match (method, value["params"]["name"].as_str()) {
        (m, _) if m.starts_with("notifications/") => StatusCode::ACCEPTED.into_response(),
        ("tools/list", _) => rpc_result(
            &id,
            json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}),
        ),
        ("tools/call", Some("echo")) => {
            let result = json!({"jsonrpc": "2.0", "id": id, "result": {
                "content": [{"type": "text", "text": "echoed"}],
                "structuredContent": value["params"]["arguments"]}});
            sse(Body::from(sse_event(&result)))
        }
        ("tools/call", Some("lingering")) => {
            // The answer, then the stream stays open with keep-alive comments.
            let result = json!({"jsonrpc": "2.0", "id": id, "result": {"content": []}});
            sse(then_keep_alive(sse_event(&result)))
        }
        ("tools/call", Some("slow")) => {
            // A progress event now, then only keep-alive comments: the answer never comes.
            let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                "params": {"progressToken": "slow", "progress": 1}});
            sse(then_keep_alive(sse_event(&progress)))
        }
        _ => rpc_error(StatusCode::OK, &id, -32601, "Method not found", Value::Null),
    }
}

/// Only 2026-07-28: stateless, `server/discover`, routing headers.
pub async fn modern_post(
    State(fake): State<Arc<EraUpstream>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.record(&Method::POST, &headers, &value);
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match value["method"].as_str().unwrap_or("") {
        "server/discover" => rpc_result(
            &id,
            json!({
                "resultType": "complete",
                "supportedVersions": [MODERN],
                "capabilities": {"tools": {"listChanged": false}},
                "instructions": "ask where",
                "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "modern-fake", "version": "7"}},
            }),
        ),
        // Streamable HTTP §Backward Compatibility: a modern-only server refuses the legacy version.
        "initialize" => rpc_error(
            StatusCode::BAD_REQUEST,
            &id,
            -32022,
            "Unsupported protocol version",
            json!({"supported": [MODERN], "requested": value["params"]["protocolVersion"]}),
        ),
        "tools/list" => rpc_result(
            &id,
            json!({"resultType": "complete", "ttlMs": 60000, "cacheScope": "private",
                "tools": [{"name": "where", "inputSchema": {"type": "object", "properties": {
                    "region": {"type": "string", "x-mcp-header": "Region"}}}}]}),
        ),
        "tools/call" => {
            let echoed = json!({"resultType": "complete", "content": [], "structuredContent": {
                "method": header("mcp-method"),
                "name": header("mcp-name"),
                "region": header("mcp-param-region"),
                "version": header("mcp-protocol-version"),
                "session": header("mcp-session-id"),
                "meta": value["params"]["_meta"],
            }});
            ([("mcp-protocol-version", MODERN)], rpc_result(&id, echoed)).into_response()
        }
        // 2026-07-28 Streamable HTTP §Server Validation: an unknown method is a 404.
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Records a GET or DELETE, which neither era upstream serves.
pub async fn record_other(
    State(fake): State<Arc<EraUpstream>>,
    m: Method,
    h: HeaderMap,
) -> StatusCode {
    fake.record(&m, &h, &Value::Null);
    StatusCode::METHOD_NOT_ALLOWED
}
