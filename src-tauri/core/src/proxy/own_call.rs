//! Gatehouse's own JSON-RPC calls to an upstream, made while bridging the protocol eras (a
//! `server/discover` probe, a legacy `initialize` and its `notifications/initialized`, a `tools/list`
//! to learn a tool's `x-mcp-header` annotations). The call carries the connection's credential like
//! a forwarded request; its answer is read whole, up to a bound, whether it comes as one
//! `application/json` body or as an SSE stream (MCP 2025-11-25 and 2026-07-28 Streamable HTTP
//! §Sending Messages: the server picks either), and the response with the call's id is taken from
//! it. Notifications and server requests in the stream are skipped: nobody asked for them.

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use secrecy::SecretString;
use serde_json::Value;

use super::Proxy;
use super::upstream::{Upstream, set_bearer};

/// What came back.
#[derive(Debug)]
pub(super) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The JSON-RPC response to the call (for a notification: none).
    pub message: Option<Value>,
}

/// Why no reply came.
#[derive(Debug)]
pub(super) enum CallError {
    Unreachable(reqwest::Error),
    TimedOut,
}

/// Largest answer read.
const MAX_REPLY: usize = 16 * 1024 * 1024;

/// POSTs `body` with `headers` (Content-Type and Accept are added) and reads the answer.
pub(super) async fn call(
    proxy: &Proxy,
    upstream: &Upstream,
    bearer: Option<&SecretString>,
    mut headers: HeaderMap,
    body: &Value,
) -> Result<Reply, CallError> {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    if let Some(token) = bearer {
        set_bearer(&mut headers, token);
    }
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let request = upstream
        .request(&proxy.http, Method::POST, headers)
        .body(bytes);
    let exchange = async {
        let response = request.send().await.map_err(CallError::Unreachable)?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = read(response).await;
        let id = body.get("id");
        let message = id.and_then(|id| find_response(&headers, &text, id));
        Ok(Reply {
            status,
            headers,
            message,
        })
    };
    tokio::time::timeout(proxy.options.response_start_timeout, exchange)
        .await
        .unwrap_or(Err(CallError::TimedOut))
}

/// The body up to [`MAX_REPLY`] (what was read, if it broke off).
async fn read(response: reqwest::Response) -> Vec<u8> {
    use futures_util::StreamExt as _;
    let mut stream = response.bytes_stream();
    let mut buf = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        if buf.len() + chunk.len() > MAX_REPLY {
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    buf
}

fn is_sse(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        })
}

/// The JSON-RPC response for `id` in a JSON body or an SSE stream.
pub(super) fn find_response(headers: &HeaderMap, body: &[u8], id: &Value) -> Option<Value> {
    let is_answer = |m: &Value| {
        m.get("id") == Some(id) && (m.get("result").is_some() || m.get("error").is_some())
    };
    if !is_sse(headers) {
        let value: Value = serde_json::from_slice(body).ok()?;
        return is_answer(&value).then_some(value);
    }
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
    text.split("\n\n").find_map(|event| {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if data.is_empty() {
            return None;
        }
        let value: Value = serde_json::from_str(&data.join("\n")).ok()?;
        is_answer(&value).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sse() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h
    }

    #[test]
    fn the_response_is_found_in_an_sse_stream_among_other_messages() {
        let body = b"id: 1\ndata:\n\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\r\ndata: \"result\":{\"ok\":true}}\r\n\r\n";
        assert_eq!(
            find_response(&sse(), body, &json!(7)),
            Some(json!({"jsonrpc": "2.0", "id": 7, "result": {"ok": true}})),
            "multi-line data joined, the notification skipped"
        );
        assert_eq!(
            find_response(&sse(), body, &json!(8)),
            None,
            "another id's answer is not this call's"
        );
    }

    #[test]
    fn a_json_body_must_answer_the_call() {
        let json_headers = HeaderMap::new();
        let body = br#"{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"nope"}}"#;
        assert!(find_response(&json_headers, body, &json!("a")).is_some());
        assert_eq!(find_response(&json_headers, body, &json!(1)), None);
        assert_eq!(find_response(&json_headers, b"<html>", &json!("a")), None);
    }
}
