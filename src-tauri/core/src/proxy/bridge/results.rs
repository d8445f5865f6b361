//! A legacy upstream's results as a 2026-07-28 client reads them: every result carries
//! `resultType` (2026-07-28 schema, `Result.resultType`: "complete" for an ordinary result; clients
//! refuse a 2026-07-28 result without it, since only earlier revisions may leave it out). A legacy
//! result is always complete, so Gatehouse stamps `"resultType": "complete"` on each result that
//! lacks one, in a JSON body and in every event of an SSE stream; everything else passes unchanged.
//!
//! The answers to the cacheable requests (`tools/list`, `prompts/list`, `resources/list`,
//! `resources/templates/list`, `resources/read`; 2026-07-28 schema `CacheableResult`) also need
//! `ttlMs` and `cacheScope`. A legacy server announces changes with `list_changed` notifications a
//! stateless client never receives, so the result is stale at once (`ttlMs: 0`), and it is private
//! to the grant it was fetched for (`cacheScope: "private"`, never shared across authorization
//! contexts).

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures_util::{Stream, StreamExt};
use http::header;
use serde_json::Value;

use crate::proxy::filter::{event_end, event_fields, event_with_data};
use crate::proxy::jsonrpc;

/// Largest JSON body or SSE event rewritten.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Whether the answer to `method` is a `CacheableResult`.
pub fn is_cacheable(method: &str) -> bool {
    matches!(
        method,
        "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "server/discover"
    )
}

/// Adds what a 2026-07-28 result must carry and a legacy one lacks; whether it changed anything.
pub fn stamp(message: &mut Value, cacheable: bool) -> bool {
    let Some(result) = message.get_mut("result").and_then(Value::as_object_mut) else {
        return false;
    };
    let mut changed = false;
    let mut add = |key: &str, value: Value| {
        if !result.contains_key(key) {
            result.insert(key.into(), value);
            changed = true;
        }
    };
    add("resultType", Value::from("complete"));
    if cacheable {
        add("ttlMs", Value::from(0));
        add("cacheScope", Value::from("private"));
    }
    changed
}

fn is_sse(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        })
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The response with its results stamped.
pub async fn stamp_response(response: Response, cacheable: bool) -> Response {
    if is_sse(&response) {
        let (parts, body) = response.into_parts();
        let stream = stamp_sse(body.into_data_stream(), cacheable);
        return Response::from_parts(parts, Body::from_stream(stream));
    }
    if !is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_MESSAGE).await else {
        return jsonrpc::answer_error(
            None,
            jsonrpc::UPSTREAM_ERROR,
            "the upstream MCP server's answer broke off or was too large",
        );
    };
    let rewritten = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|mut v| stamp(&mut v, cacheable).then(|| serde_json::to_vec(&v).ok())?);
    match rewritten {
        Some(body) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(body))
        }
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

/// Whether these whole SSE events (as [`stamp_response`] passes them on) hold the JSON-RPC
/// response to `id`: a result or an error (JSON-RPC 2.0 §5).
pub fn holds_answer_to(events: &[u8], id: &Value) -> bool {
    let mut start = 0;
    while let Some(len) = event_end(&events[start..]) {
        if event_answers(&events[start..start + len], id) {
            return true;
        }
        start += len;
    }
    false
}

fn event_answers(event: &[u8], id: &Value) -> bool {
    event_fields(event)
        .and_then(|(data, _)| serde_json::from_str::<Value>(&data).ok())
        .is_some_and(|message| {
            message.get("id") == Some(id)
                && (message.get("result").is_some() || message.get("error").is_some())
        })
}

/// One SSE event with its result stamped, if it holds a result without `resultType`.
fn stamp_event(event: &[u8], cacheable: bool) -> Option<Vec<u8>> {
    let (data, other) = event_fields(event)?;
    let mut message: Value = serde_json::from_str(&data).ok()?;
    if !stamp(&mut message, cacheable) {
        return None;
    }
    event_with_data(&other, &message)
}

/// An SSE stream with each event's result stamped.
fn stamp_sse<S, E>(
    upstream: S,
    cacheable: bool,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    futures_util::stream::unfold(
        (upstream, Vec::<u8>::new(), false),
        move |(mut upstream, mut buf, ended)| async move {
            if ended {
                return None;
            }
            loop {
                match upstream.next().await {
                    Some(Ok(chunk)) => {
                        buf.extend_from_slice(&chunk);
                        let mut out = Vec::new();
                        let mut start = 0;
                        while let Some(len) = event_end(&buf[start..]) {
                            let event = &buf[start..start + len];
                            match stamp_event(event, cacheable) {
                                Some(stamped) => out.extend_from_slice(&stamped),
                                None => out.extend_from_slice(event),
                            }
                            start += len;
                        }
                        buf.drain(..start);
                        if buf.len() > MAX_MESSAGE {
                            return Some((
                                Err(std::io::Error::other(
                                    "an SSE event from the upstream is too large",
                                )),
                                (upstream, buf, true),
                            ));
                        }
                        if !out.is_empty() {
                            return Some((Ok(Bytes::from(out)), (upstream, buf, false)));
                        }
                    }
                    Some(Err(err)) => {
                        return Some((Err(std::io::Error::other(err)), (upstream, buf, true)));
                    }
                    None => {
                        let rest = std::mem::take(&mut buf);
                        let rest = stamp_event(&rest, cacheable).unwrap_or(rest);
                        return (!rest.is_empty())
                            .then(|| (Ok(Bytes::from(rest)), (upstream, Vec::new(), true)));
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_answer_to_a_call_is_told_from_what_comes_before_it() {
        // JSON-RPC 2.0 §5: a response has the request's id and a result or an error.
        let id = json!("c1");
        let progress = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"c1\"}}\n\n";
        let result =
            b"event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"result\":{}}\r\n\r\n";
        let error = b"data: {\"jsonrpc\":\"2.0\",\"id\":\"c1\",\n\ndata: \"error\":{\"code\":-1,\"message\":\"no\"}}\n\n";
        let other = b"data: {\"jsonrpc\":\"2.0\",\"id\":\"c2\",\"result\":{}}\n\n";
        let keep_alive = b": working\n\n";
        assert!(!holds_answer_to(progress, &id), "a notification");
        assert!(holds_answer_to(result, &id), "the result, CRLF lines");
        assert!(!holds_answer_to(other, &id), "another request's answer");
        assert!(!holds_answer_to(keep_alive, &id), "a comment");
        assert!(
            !holds_answer_to(&result[..result.len() - 2], &id),
            "not a whole event yet"
        );
        let both = [&progress[..], &result[..]].concat();
        assert!(
            holds_answer_to(&both, &id),
            "the answer after a notification"
        );
        // Two data lines of one event are one message; split across events they are not.
        let split = b"data: {\"jsonrpc\":\"2.0\",\"id\":\"c1\",\ndata: \"error\":{\"code\":-1,\"message\":\"no\"}}\n\n";
        assert!(holds_answer_to(split, &id), "an error over two data lines");
        assert!(
            !holds_answer_to(error, &id),
            "halves in two events parse as nothing"
        );
        assert!(
            !holds_answer_to(
                &json!({"id": "c1", "result": {}}).to_string().into_bytes(),
                &id
            ),
            "a JSON body is not an SSE event"
        );
    }

    #[test]
    fn results_get_result_type_complete_and_nothing_else_changes() {
        let mut result = json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": []}});
        assert!(stamp(&mut result, is_cacheable("tools/list")));
        assert_eq!(
            result["result"],
            json!({"tools": [], "resultType": "complete", "ttlMs": 0, "cacheScope": "private"}),
            "a list result is a CacheableResult"
        );
        let mut call = json!({"jsonrpc": "2.0", "id": 1, "result": {"content": []}});
        assert!(stamp(&mut call, is_cacheable("tools/call")));
        assert_eq!(
            call["result"],
            json!({"content": [], "resultType": "complete"})
        );
        let mut already =
            json!({"jsonrpc": "2.0", "id": 1, "result": {"resultType": "input_required"}});
        assert!(
            !stamp(&mut already, false),
            "a result type the upstream gave stays"
        );
        let mut error = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "m"}});
        assert!(!stamp(&mut error, true), "errors have no result type");
    }

    #[tokio::test]
    async fn every_sse_event_with_a_result_is_stamped_across_chunks() {
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\nid: 4\nevent: mess")),
            Ok(Bytes::from_static(b"age\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[]}}\n\n")),
        ];
        let out: Vec<u8> = stamp_sse(futures_util::stream::iter(chunks), false)
            .map(|r| r.unwrap_or_default().to_vec())
            .concat()
            .await;
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(
            text.starts_with("event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n"),
            "a notification passes byte for byte: {text}"
        );
        assert!(
            text.contains("id: 4\nevent: message\ndata: ")
                && text.contains("\"resultType\":\"complete\""),
            "the result is stamped, its event id kept: {text}"
        );
    }
}
