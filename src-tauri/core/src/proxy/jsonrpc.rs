//! The JSON-RPC side of the proxy: what a POST body says (method, id, era, tool name) and the error
//! objects Gatehouse answers itself.
//!
//! Upstream trouble (unreachable, slow, 5xx, 401/403, a redirect) never becomes an HTTP 401/403 on
//! `/mcp/<slug>` (mcp-auth-checklist D6): that would send the local client back through OAuth with
//! Gatehouse, the wrong layer. A request gets HTTP 200 with a JSON-RPC error for its `id` that says what
//! happened and what to do; a notification or a GET gets 502 with an id-less error.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

/// `_meta` key whose presence marks a 2026-07-28 (stateless) request (mcp-auth-checklist §3.2).
pub const MODERN_META_KEY: &str = "io.modelcontextprotocol/protocolVersion";

/// JSON-RPC 2.0 §5.1 codes and the implementation-defined range MCP uses.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// Gatehouse's "the upstream could not be used" (server error range, JSON-RPC 2.0 §5.1).
pub const UPSTREAM_ERROR: i64 = -32001;

/// What the proxy needs to know about one POSTed JSON-RPC message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    /// `None` for a response or a notification.
    pub id: Option<Value>,
    pub method: Option<String>,
    /// `params.name` of a `tools/call`.
    pub tool: Option<String>,
    /// `params._meta["io.modelcontextprotocol/protocolVersion"]` is present (2026-07-28).
    pub modern: bool,
}

impl Message {
    pub fn read(value: &Value) -> Self {
        let params = value.get("params");
        let method = value
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let id = if method.is_some() {
            value.get("id").filter(|id| !id.is_null()).cloned()
        } else {
            None
        };
        let tool = if method.as_deref() == Some("tools/call") {
            params
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        } else {
            None
        };
        let modern = params
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get(MODERN_META_KEY))
            .is_some();
        Self {
            id,
            method,
            tool,
            modern,
        }
    }

    pub fn is_request(&self) -> bool {
        self.id.is_some()
    }
}

/// A JSON-RPC error object for `id` (or `null`).
pub fn error_body(id: Option<&Value>, code: i64, message: &str) -> Vec<u8> {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": { "code": code, "message": message },
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `status` with a JSON-RPC error body.
pub fn error_response(
    status: StatusCode,
    id: Option<&Value>,
    code: i64,
    message: &str,
) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(error_body(id, code, message)),
    )
        .into_response()
}

/// Gatehouse answering a request itself: HTTP 200 with a JSON-RPC error for the request's id, or,
/// when there is no id to answer (a notification, a GET stream), 502 with an id-less error.
pub fn answer_error(id: Option<&Value>, code: i64, message: &str) -> Response {
    let status = if id.is_some() {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    error_response(status, id, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_method_id_tool_and_era() {
        let m = Message::read(&json!({
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "echo", "_meta": {MODERN_META_KEY: "2026-07-28"}}
        }));
        assert_eq!(m.id, Some(json!(7)), "the id is what the error must answer");
        assert_eq!(m.tool.as_deref(), Some("echo"), "tools/call names its tool");
        assert!(
            m.modern,
            "the _meta protocol version marks a modern request"
        );

        let n = Message::read(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        assert!(!n.is_request(), "a notification has no id");
        assert!(!n.modern, "no _meta means legacy");

        let r = Message::read(&json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
        assert!(
            !r.is_request(),
            "a client's response is not a request even though it has an id"
        );
    }

    #[test]
    fn error_without_id_is_a_502() {
        assert_eq!(
            answer_error(None, UPSTREAM_ERROR, "x").status(),
            StatusCode::BAD_GATEWAY,
            "nothing to answer in-band, so the HTTP status carries it"
        );
        assert_eq!(
            answer_error(Some(&json!(1)), UPSTREAM_ERROR, "x").status(),
            StatusCode::OK,
            "a request gets its error in-band (checklist D6)"
        );
    }
}
