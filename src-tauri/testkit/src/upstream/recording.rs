//! A dual-era MCP-like upstream (MCP 2026-07-28 basic/versioning §Backward Compatibility, like the
//! TypeScript SDK v2's default: `server/discover` for modern clients, `initialize` for legacy
//! ones) that records every request it gets, byte for byte, and has a method for each way an
//! upstream fails (`fail/401`, `fail/500`, `fail/redirect`, `slow/sse`…). The proxy tests run
//! Gatehouse in front of it ([`crate::proxy`]).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// The session the upstream gives a client's `initialize`.
pub const UPSTREAM_SESSION: &str = "up-session-1";

/// What the upstream got.
#[derive(Default)]
pub struct Seen {
    pub requests: Mutex<Vec<(String, HeaderMap, Value)>>,
    /// The POST bodies as they arrived, byte for byte.
    pub raw_bodies: Mutex<Vec<Bytes>>,
    pub elsewhere_hits: Mutex<usize>,
    /// How many `slow/sse` answers the upstream finished sending.
    pub slow_finished: Mutex<usize>,
}

impl Seen {
    /// What the upstream got for the clients: Gatehouse's own calls (the era probe's
    /// `server/discover` and legacy `initialize`, the `tools/list` that reads `x-mcp-header`
    /// annotations; once per connection, ids `gatehouse-…`) left out.
    pub fn client_requests(&self) -> Vec<(String, HeaderMap, Value)> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(method, headers, body)| !is_gatehouse_own_call(method, headers, body))
            .cloned()
            .collect()
    }
}

/// The upstream's tools: one to call, one a grant usually leaves out, one more.
pub fn tools() -> Value {
    json!([
        {"name": "echo", "title": "Echo", "description": "says it back", "inputSchema": {"type": "object"}},
        {"name": "delete_everything", "description": "dangerous", "inputSchema": {"type": "object"}},
        {"name": "search", "inputSchema": {"type": "object"}}
    ])
}

/// An SSE answer made of `events`, each a whole event.
pub fn sse(events: &[String]) -> Response {
    let body: String = events.concat();
    ([("content-type", "text/event-stream")], Body::from(body)).into_response()
}

/// A call Gatehouse makes on its own: the era probe (`server/discover`, a legacy `initialize` and
/// the DELETE that ends its session), the `tools/list` that reads `x-mcp-header` annotations.
pub fn is_gatehouse_own_call(method: &str, headers: &HeaderMap, body: &Value) -> bool {
    body.get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id.starts_with("gatehouse-"))
        || (method == "DELETE"
            && headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) == Some(PROBE_SESSION))
}

/// The session the upstream gives Gatehouse's era probe.
pub const PROBE_SESSION: &str = "up-session-probe";

/// A dual-era upstream (MCP 2026-07-28 basic/versioning §Backward Compatibility), like the
/// TypeScript SDK v2's default: `server/discover` for modern clients, `initialize` for legacy ones.
pub async fn upstream_post(
    State(seen): State<Arc<Seen>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.raw_bodies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(body);
    seen.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(("POST".into(), headers.clone(), value.clone()));
    let session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok());
    if session.is_some_and(|s| s != UPSTREAM_SESSION && s != PROBE_SESSION) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Value::Array(batch) = &value {
        // A 2025-03-26 batch: one response per request, in a JSON array.
        let answers: Vec<Value> = batch
            .iter()
            .filter(|m| m.get("id").is_some())
            .map(|m| {
                let result = match m["method"].as_str() {
                    Some("tools/list") => json!({"tools": tools()}),
                    _ => json!({"content": [{"type": "text", "text": m["params"]["arguments"]["text"]}]}),
                };
                json!({"jsonrpc": "2.0", "id": m["id"], "result": result})
            })
            .collect();
        return axum::Json(Value::Array(answers)).into_response();
    }
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let method = value.get("method").and_then(Value::as_str).unwrap_or("");
    let sse_wanted = id.as_str().is_some_and(|s| s.starts_with("sse"));
    let reply = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result});
    let probe = id
        .as_str()
        .is_some_and(|s| s.starts_with("gatehouse-era-probe"));
    match method {
        "server/discover" => axum::Json(reply(json!({
            "resultType": "complete",
            "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}},
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "fake-upstream", "version": "1"}}
        })))
        .into_response(),
        "initialize" => (
            [
                ("mcp-session-id", if probe { PROBE_SESSION } else { UPSTREAM_SESSION }),
                ("content-type", "application/json"),
                ("set-cookie", "upstream=1"),
            ],
            reply(json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "fake-upstream", "version": "1"}
            }))
            .to_string(),
        )
            .into_response(),
        m if m.starts_with("notifications/") => StatusCode::ACCEPTED.into_response(),
        "tools/list" if sse_wanted => sse(&[
            ": priming\n\n".into(),
            format!(
                "event: message\ndata: {}\n\n",
                json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"listing"}})
            ),
            format!(
                "id: 1\nevent: message\ndata: {}\n\n",
                reply(json!({"tools": tools()}))
            ),
        ]),
        "tools/list" => axum::Json(reply(json!({"tools": tools()}))).into_response(),
        "tools/call" => {
            let text = value["params"]["arguments"]["text"].clone();
            let result = reply(json!({"content": [{"type": "text", "text": text}]}));
            if sse_wanted {
                sse(&[format!("event: message\ndata: {result}\n\n")])
            } else {
                axum::Json(result).into_response()
            }
        }
        "fail/401-oauth" => (
            StatusCode::UNAUTHORIZED,
            [(
                "www-authenticate",
                "Bearer resource_metadata=\"https://up.example/.well-known/oauth-protected-resource/mcp\"",
            )],
        )
            .into_response(),
        "fail/401" => (
            StatusCode::UNAUTHORIZED,
            [
                ("www-authenticate", "Bearer error=\"invalid_token\""),
                ("set-cookie", "x=y"),
            ],
        )
            .into_response(),
        "slow/sse" => {
            // One event now, the final response 300 ms later; counts the answers sent to the end.
            let first = format!(
                "event: message\ndata: {}\n\n",
                json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}})
            );
            let last = format!("event: message\ndata: {}\n\n", reply(json!({"done": true})));
            let chunks = futures_util::stream::unfold(0u8, move |step| {
                let (first, last, seen) = (first.clone(), last.clone(), seen.clone());
                async move {
                    match step {
                        0 => Some((Ok::<_, Infallible>(Bytes::from(first)), 1)),
                        1 => {
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            *seen.slow_finished.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                            Some((Ok(Bytes::from(last)), 2))
                        }
                        _ => None,
                    }
                }
            });
            (
                [("content-type", "text/event-stream")],
                Body::from_stream(chunks),
            )
                .into_response()
        }
        "fail/403" => StatusCode::FORBIDDEN.into_response(),
        "fail/500" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "fail/redirect" => {
            (StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")]).into_response()
        }
        _ => axum::Json(
            json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"Method not found"}}),
        )
        .into_response(),
    }
}

pub async fn upstream_get(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> Response {
    seen.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(("GET".into(), headers, Value::Null));
    let first = futures_util::stream::once(async {
        Ok::<_, Infallible>(Bytes::from_static(b"id: 0\ndata: \n\n"))
    });
    // Then nothing, forever: a stream only the proxy can end.
    let stream = first.chain(futures_util::stream::pending());
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

pub async fn upstream_delete(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> StatusCode {
    seen.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(("DELETE".into(), headers, Value::Null));
    StatusCode::NO_CONTENT
}

pub async fn elsewhere(State(seen): State<Arc<Seen>>) -> StatusCode {
    *seen
        .elsewhere_hits
        .lock()
        .unwrap_or_else(|e| e.into_inner()) += 1;
    StatusCode::OK
}

/// Starts the recording upstream; its MCP endpoint (`…/mcp`) and what it records.
pub async fn start_upstream() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route(
            "/mcp",
            post(upstream_post)
                .get(upstream_get)
                .delete(upstream_delete),
        )
        .route("/elsewhere", any(elsewhere))
        .with_state(seen.clone());
    (format!("{}/mcp", super::serve(app).await), seen)
}
