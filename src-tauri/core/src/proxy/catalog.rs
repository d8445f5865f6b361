//! The upstream's tools, for the consent page's allow-list checkboxes.
//!
//! A short legacy-era MCP conversation with the upstream, with the connection's credential injected:
//! `initialize` (protocol 2025-06-18, client `gatehouse`), `notifications/initialized`, `tools/list`
//! following `nextCursor` up to [`MAX_PAGES`], then `DELETE` of the session if one was given. Each
//! response may be JSON or SSE; each is read with a size cap and the whole exchange has a deadline.
//! The caller's client must not follow redirects ([`super::upstream_client`]).

use std::time::Duration;

use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method, header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::forward::{MCP_PROTOCOL_VERSION, MCP_SESSION_ID};
use std::sync::Arc;

use super::upstream::upstream_of;
use crate::stdio::StdioHost;
use crate::store::connections::ConnectionRow;
use crate::vault::Vault;

/// Most `tools/list` pages followed.
pub const MAX_PAGES: usize = 20;
/// Largest response body read.
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;
/// Deadline for the whole exchange.
pub const DEADLINE: Duration = Duration::from_secs(20);
const PROTOCOL_VERSION: &str = "2025-06-18";

/// `(name, title, description)` of every tool the upstream lists, in its order.
pub async fn list_upstream_tools(
    vault: &Vault,
    http: &reqwest::Client,
    connection: &ConnectionRow,
) -> Result<Vec<(String, Option<String>, Option<String>)>, String> {
    list_upstream_tools_with(vault, http, connection, None).await
}

/// [`list_upstream_tools_with`] that can also reach a stdio connection's local server.
pub async fn list_upstream_tools_via(
    vault: &Vault,
    stdio: &Arc<StdioHost>,
    http: &reqwest::Client,
    connection: &ConnectionRow,
    bearer: Option<&SecretString>,
) -> Result<Vec<(String, Option<String>, Option<String>)>, String> {
    match tokio::time::timeout(DEADLINE, list(vault, Some(stdio), http, connection, bearer)).await {
        Ok(result) => result,
        Err(_) => Err("the upstream MCP server did not answer in time".into()),
    }
}

/// [`list_upstream_tools`] for an OAuth connection: `bearer` is its upstream access token.
pub async fn list_upstream_tools_with(
    vault: &Vault,
    http: &reqwest::Client,
    connection: &ConnectionRow,
    bearer: Option<&SecretString>,
) -> Result<Vec<(String, Option<String>, Option<String>)>, String> {
    match tokio::time::timeout(DEADLINE, list(vault, None, http, connection, bearer)).await {
        Ok(result) => result,
        Err(_) => Err("the upstream MCP server did not answer in time".into()),
    }
}

async fn list(
    vault: &Vault,
    stdio: Option<&Arc<StdioHost>>,
    http: &reqwest::Client,
    connection: &ConnectionRow,
    bearer: Option<&SecretString>,
) -> Result<Vec<(String, Option<String>, Option<String>)>, String> {
    let upstream = upstream_of(vault, stdio, connection)?;
    let authorization = bearer.and_then(|token| {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).ok()?;
        v.set_sensitive(true);
        Some(v)
    });
    let mut session: Option<HeaderValue> = None;
    let mut version = HeaderValue::from_static(PROTOCOL_VERSION);

    let headers = |session: &Option<HeaderValue>, version: Option<&HeaderValue>| {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        if let Some(s) = session {
            h.insert(MCP_SESSION_ID, s.clone());
        }
        if let Some(v) = version {
            h.insert(MCP_PROTOCOL_VERSION, v.clone());
        }
        if let Some(a) = &authorization {
            h.insert(header::AUTHORIZATION, a.clone());
        }
        h
    };

    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "gatehouse", "version": env!("CARGO_PKG_VERSION")}
        }
    });
    let response = upstream
        .request(http, Method::POST, headers(&None, None))
        .json(&init)
        .send()
        .await
        .map_err(|_| "Gatehouse could not reach the upstream MCP server".to_owned())?;
    check_status(response.status())?;
    session = response.headers().get(MCP_SESSION_ID).cloned().or(session);
    let result = read_result(response, &json!(1)).await?;
    if let Some(v) = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        version = v;
    }

    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = upstream
        .request(http, Method::POST, headers(&session, Some(&version)))
        .json(&initialized)
        .send()
        .await
        .map_err(|_| "Gatehouse could not reach the upstream MCP server".to_owned())?;
    check_status(response.status())?;

    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    let mut outcome = Ok(());
    for page in 0..MAX_PAGES {
        let id = json!(2 + page);
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": params});
        let sent = upstream
            .request(http, Method::POST, headers(&session, Some(&version)))
            .json(&request)
            .send()
            .await
            .map_err(|_| "Gatehouse could not reach the upstream MCP server".to_owned());
        let result = match sent {
            Ok(response) => match check_status(response.status()) {
                Ok(()) => read_result(response, &id).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        for tool in result
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                continue;
            };
            let text = |k: &str| tool.get(k).and_then(Value::as_str).map(str::to_owned);
            tools.push((name.to_owned(), text("title"), text("description")));
        }
        cursor = result
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }

    if session.is_some() {
        // Best effort: the upstream may answer 405 (it keeps sessions until they expire).
        let _ = upstream
            .request(http, Method::DELETE, {
                let mut h = headers(&session, Some(&version));
                h.remove(header::CONTENT_TYPE);
                h
            })
            .send()
            .await;
    }
    outcome.map(|()| tools)
}

fn check_status(status: reqwest::StatusCode) -> Result<(), String> {
    if status.is_success() {
        Ok(())
    } else if status == reqwest::StatusCode::UNAUTHORIZED
        || status == reqwest::StatusCode::FORBIDDEN
    {
        Err(super::forward::UPSTREAM_REJECTED.into())
    } else {
        Err(format!(
            "the upstream MCP server answered HTTP {}",
            status.as_u16()
        ))
    }
}

/// The `result` of the JSON-RPC response with `id`, from a JSON or SSE body.
async fn read_result(response: reqwest::Response, id: &Value) -> Result<Value, String> {
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/event-stream"));
    let mut stream = response.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| "the upstream's response broke off".to_owned())?;
        if buf.len() + chunk.len() > MAX_RESPONSE {
            return Err("the upstream's response is too large".into());
        }
        buf.extend_from_slice(&chunk);
        if is_sse && let Some(found) = find_in_sse(&buf, id) {
            return found;
        }
    }
    if is_sse {
        return find_in_sse(&buf, id)
            .unwrap_or_else(|| Err("the upstream's stream ended without a response".into()));
    }
    let message: Value =
        serde_json::from_slice(&buf).map_err(|_| "the upstream sent invalid JSON".to_owned())?;
    result_of(&message, id).unwrap_or_else(|| Err("the upstream answered another request".into()))
}

fn result_of(message: &Value, id: &Value) -> Option<Result<Value, String>> {
    if message.get("id") != Some(id) {
        return None;
    }
    if let Some(error) = message.get("error") {
        let text = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("error");
        return Some(Err(format!("the upstream MCP server refused: {text}")));
    }
    Some(Ok(message.get("result").cloned().unwrap_or(Value::Null)))
}

/// Looks through the complete SSE events in `buf` for the response with `id`.
fn find_in_sse(buf: &[u8], id: &Value) -> Option<Result<Value, String>> {
    let text = String::from_utf8_lossy(buf).replace("\r\n", "\n");
    let complete = text.rsplit_once("\n\n").map(|(events, _)| events)?;
    for event in complete.split("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if data.is_empty() {
            continue;
        }
        if let Ok(message) = serde_json::from_str::<Value>(&data.join("\n"))
            && let Some(found) = result_of(&message, id)
        {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_response_among_sse_events() {
        let stream = b": prime\r\n\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\r\n\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"a\"}]}}\n\n";
        let found = find_in_sse(stream, &json!(2));
        assert_eq!(
            found,
            Some(Ok(json!({"tools": [{"name": "a"}]}))),
            "the response with the id is found past other events, with CRLF or LF framing"
        );
        assert_eq!(
            find_in_sse(
                b"data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}",
                &json!(2)
            ),
            None,
            "an event without its blank line is not complete yet"
        );
        assert!(
            matches!(
                find_in_sse(
                    b"data: {\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-1,\"message\":\"no\"}}\n\n",
                    &json!(3)
                ),
                Some(Err(_))
            ),
            "a JSON-RPC error is an error"
        );
    }
}
