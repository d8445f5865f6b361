//! JSON-RPC batches (JSON-RPC 2.0 §6) on a 2025-03-26 session, the one MCP version that has them
//! (2025-03-26 Base Protocol "Batching"; 2025-06-18 removed them again). A batch is forwarded
//! as the client's bytes, like a single message, after every member passed the checks a single
//! message gets:
//!
//! - Only on 2025-03-26: a request naming a later `MCP-Protocol-Version` (2025-06-18 on, clients
//!   send it on every request after `initialize`) is refused with 400, as is any member carrying
//!   the 2026-07-28 `_meta` version (that era is stateless and has no batches).
//! - Not empty (JSON-RPC 2.0 §6: an empty array is an Invalid Request), only objects, and no
//!   `initialize` in it (2025-03-26 Lifecycle: "The initialize request MUST NOT be part of a
//!   JSON-RPC batch").
//! - No `Mcp-Method` / `Mcp-Name` header: they name one message, a batch has several.
//! - The tool allow-list: if any member calls a tool the grant does not include, nothing of the
//!   batch is forwarded, and every request in it is answered (HTTP 200, a JSON array of JSON-RPC
//!   errors, §6): the refused calls with the usual "tool not allowed", the others with "not sent".
//!   Sending the rest would make a batch behave differently from its members sent one by one only
//!   in how much of it ran.
//! - Every `tools/list` in it is answered through the filter ([`super::filter`] filters each
//!   response of a batched answer, in JSON or SSE).
//!
//! Errors Gatehouse makes about the upstream itself (unreachable, 401...) carry no id for a batch:
//! there is no single request to answer for.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::filter::ToolAllowList;
use super::forward::{MCP_PROTOCOL_VERSION, TOOL_NOT_ALLOWED};
use super::jsonrpc::{self, Message};

/// The one protocol version with batches.
pub const BATCH_VERSION: &str = "2025-03-26";

/// What to do with a batch.
pub enum Verdict {
    /// Forward it, filtering the responses to these `tools/list` ids (empty when the grant
    /// restricts nothing).
    Forward(Vec<Value>),
    /// Send this answer instead.
    Answer(Response),
}

/// Checks a batch (module docs).
pub fn check(headers: &HeaderMap, members: &[Value], allow: &ToolAllowList) -> Verdict {
    let refuse = |message: &str| {
        Verdict::Answer(jsonrpc::error_response(
            StatusCode::BAD_REQUEST,
            None,
            jsonrpc::INVALID_REQUEST,
            message,
        ))
    };
    if let Some(version) = headers.get(MCP_PROTOCOL_VERSION)
        && version.as_bytes() != BATCH_VERSION.as_bytes()
    {
        return refuse(
            "JSON-RPC batches are only part of MCP 2025-03-26; this request names a later version",
        );
    }
    if headers.contains_key("mcp-method") || headers.contains_key("mcp-name") {
        return refuse("Mcp-Method and Mcp-Name name one message; a batch cannot carry them");
    }
    if members.is_empty() {
        return refuse("Invalid Request: an empty batch");
    }
    let mut messages = Vec::with_capacity(members.len());
    for member in members {
        if !member.is_object() {
            return refuse("Invalid Request: every member of a batch is a JSON-RPC object");
        }
        let message = Message::read(member);
        if message.modern {
            return refuse("MCP 2026-07-28 requests cannot be batched");
        }
        if message.method.as_deref() == Some("initialize") {
            return refuse("initialize must not be part of a JSON-RPC batch (MCP 2025-03-26)");
        }
        messages.push(message);
    }
    let refused = |m: &Message| {
        m.method.as_deref() == Some("tools/call")
            && !m.tool.as_deref().is_some_and(|tool| allow.allows(tool))
    };
    if allow.is_restricted() && messages.iter().any(refused) {
        return Verdict::Answer(refuse_all(&messages, refused));
    }
    Verdict::Forward(if allow.is_restricted() {
        messages
            .into_iter()
            .filter(|m| m.method.as_deref() == Some("tools/list"))
            .filter_map(|m| m.id)
            .collect()
    } else {
        Vec::new()
    })
}

/// 200 with an error for every request of the batch (module docs).
fn refuse_all(messages: &[Message], refused: impl Fn(&Message) -> bool) -> Response {
    let answers: Vec<Value> = messages
        .iter()
        .filter_map(|m| {
            let id = m.id.clone()?;
            let (code, message) = if refused(m) {
                (jsonrpc::INVALID_PARAMS, TOOL_NOT_ALLOWED)
            } else {
                (
                    jsonrpc::INVALID_REQUEST,
                    "not sent: another request of this batch calls a tool not allowed for this client",
                )
            };
            Some(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
        })
        .collect();
    if answers.is_empty() {
        return StatusCode::ACCEPTED.into_response();
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(serde_json::to_vec(&answers).unwrap_or_default()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(names: &[&str]) -> ToolAllowList {
        ToolAllowList::from_json(Some(&serde_json::to_string(names).unwrap_or_default()))
    }

    fn call(id: u64, tool: &str) -> Value {
        json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool}})
    }

    fn status(verdict: Verdict) -> StatusCode {
        match verdict {
            Verdict::Answer(r) => r.status(),
            Verdict::Forward(_) => StatusCode::OK,
        }
    }

    fn ids(verdict: Verdict) -> Vec<Value> {
        match verdict {
            Verdict::Forward(ids) => ids,
            Verdict::Answer(r) => panic!("refused: {}", r.status()),
        }
    }

    #[test]
    fn later_versions_routing_headers_empty_and_initialize_batches_are_refused() {
        let one = [call(1, "a")];
        let mut later = HeaderMap::new();
        later.insert(MCP_PROTOCOL_VERSION, HeaderValue::from_static("2025-06-18"));
        assert_eq!(
            status(check(&later, &one, &allow(&["a"]))),
            StatusCode::BAD_REQUEST
        );
        let mut routed = HeaderMap::new();
        routed.insert("mcp-method", HeaderValue::from_static("tools/call"));
        assert_eq!(
            status(check(&routed, &one, &allow(&["a"]))),
            StatusCode::BAD_REQUEST
        );
        let none = HeaderMap::new();
        assert_eq!(
            status(check(&none, &[], &ToolAllowList::all())),
            StatusCode::BAD_REQUEST
        );
        let init = [json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})];
        assert_eq!(
            status(check(&none, &init, &ToolAllowList::all())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(check(&none, &[json!(1)], &ToolAllowList::all())),
            StatusCode::BAD_REQUEST
        );
        let mut current = HeaderMap::new();
        current.insert(MCP_PROTOCOL_VERSION, HeaderValue::from_static("2025-03-26"));
        assert!(matches!(
            check(&current, &one, &allow(&["a"])),
            Verdict::Forward(_)
        ));
    }

    #[tokio::test]
    async fn one_call_outside_the_allow_list_stops_the_whole_batch_and_every_request_is_answered() {
        let members = [
            call(1, "a"),
            call(2, "b"),
            json!({"jsonrpc":"2.0","method":"notifications/progress","params":{}}),
        ];
        let Verdict::Answer(answer) = check(&HeaderMap::new(), &members, &allow(&["a"])) else {
            panic!("the batch must be refused");
        };
        assert_eq!(answer.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        let answers: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(answers.as_array().map(Vec::len), Some(2), "{answers}");
        assert_eq!(answers[0]["id"], 1);
        assert_eq!(answers[1]["id"], 2);
        assert_eq!(answers[1]["error"]["message"], TOOL_NOT_ALLOWED);
        assert!(
            answers[0]["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("not sent")),
            "{answers}"
        );
    }

    #[test]
    fn tools_list_ids_are_collected_for_the_filter_only_under_a_restriction() {
        let members = [
            json!({"jsonrpc":"2.0","id":"l1","method":"tools/list"}),
            call(2, "a"),
            json!({"jsonrpc":"2.0","id":"l2","method":"tools/list"}),
        ];
        assert_eq!(
            ids(check(&HeaderMap::new(), &members, &allow(&["a"]))),
            vec![json!("l1"), json!("l2")]
        );
        assert!(ids(check(&HeaderMap::new(), &members, &ToolAllowList::all())).is_empty());
    }
}
