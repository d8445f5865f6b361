//! A grant's tool allow-list (the tools the person ticked on the consent page; `NULL` = all).
//!
//! * `tools/call` of a tool outside the list is answered by Gatehouse with a JSON-RPC error and never
//!   reaches the upstream.
//! * The `tools/list` response is cut down to the allowed tools. A JSON body is parsed, filtered and
//!   re-serialized (the one response the proxy buffers, bounded). An SSE body is parsed event by event
//!   as it streams: every event is passed on as soon as it is complete, and only the `data` of the
//!   JSON-RPC response whose `id` is the `tools/list` request's is rewritten. Events are delimited by
//!   a blank line with `\n` or `\r\n` line ends (WHATWG HTML §9.2.6). A lone `\r` line end, which
//!   no MCP server in the wild sends, is not recognised: such a stream is held back (up to a bound,
//!   then cut) rather than passed on unfiltered, so the failure mode never leaks a tool.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

/// The tools a grant may use (`None` = every tool), less any tool that must not be offered at all
/// (a 2026-07-28 tool whose `x-mcp-header` annotations are invalid, see
/// [`super::tool_annotations`]).
#[derive(Debug, Clone)]
pub struct ToolAllowList(Option<Arc<HashSet<String>>>, Option<Arc<HashSet<String>>>);

impl ToolAllowList {
    /// From a grant's `tools_json` (a JSON array of names, or NULL). A value that does not parse
    /// allows nothing: failing closed beats exposing tools nobody consented to.
    pub fn from_json(tools_json: Option<&str>) -> Self {
        match tools_json {
            None => Self(None, None),
            Some(text) => {
                let names: Vec<String> = serde_json::from_str(text).unwrap_or_else(|err| {
                    tracing::error!(error = %err, "a grant's tool list is malformed; allowing no tools");
                    Vec::new()
                });
                Self(Some(Arc::new(names.into_iter().collect())), None)
            }
        }
    }

    pub fn all() -> Self {
        Self(None, None)
    }

    /// This list without `tools`.
    #[must_use]
    pub fn without(self, tools: Arc<HashSet<String>>) -> Self {
        Self(self.0, Some(tools).filter(|t| !t.is_empty()))
    }

    /// Whether this list restricts anything.
    pub fn is_restricted(&self) -> bool {
        self.0.is_some() || self.1.is_some()
    }

    pub fn allows(&self, tool: &str) -> bool {
        self.0.as_ref().is_none_or(|set| set.contains(tool))
            && self.1.as_ref().is_none_or(|set| !set.contains(tool))
    }

    /// Removes disallowed tools from `result.tools` of the responses in `message` (one response,
    /// or a 2025-03-26 batch of them) whose id is one of `ids`; how many responses it filtered.
    fn filter_message(&self, message: &mut Value, ids: &[Value]) -> usize {
        match message {
            Value::Array(batch) => batch
                .iter_mut()
                .map(|m| usize::from(self.filter_response(m, ids)))
                .sum(),
            single => usize::from(self.filter_response(single, ids)),
        }
    }

    /// Removes disallowed tools from `result.tools` of a response whose id is in `ids`; whether it
    /// did anything.
    fn filter_response(&self, message: &mut Value, ids: &[Value]) -> bool {
        if !message.get("id").is_some_and(|id| ids.contains(id)) {
            return false;
        }
        let Some(tools) = message
            .get_mut("result")
            .and_then(|r| r.get_mut("tools"))
            .and_then(Value::as_array_mut)
        else {
            return false;
        };
        tools.retain(|tool| {
            tool.get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| self.allows(name))
        });
        true
    }

    /// Filters a JSON body holding the `tools/list` responses with `ids` (alone or in a batch);
    /// `None` when it holds none of them (pass as is).
    pub fn filter_json(&self, body: &[u8], ids: &[Value]) -> Option<Vec<u8>> {
        let mut message: Value = serde_json::from_slice(body).ok()?;
        if self.filter_message(&mut message, ids) > 0 {
            serde_json::to_vec(&message).ok()
        } else {
            None
        }
    }
}

/// Rewrites the `tools/list` responses inside an SSE stream, passing every other event through.
#[derive(Debug)]
pub struct SseToolsFilter {
    allow: ToolAllowList,
    ids: Vec<Value>,
    /// Responses of `ids` not seen yet; filtering stops at 0.
    left: usize,
    buf: Vec<u8>,
    done: bool,
}

/// Longest event held back while looking for the `tools/list` response. Passing a larger one on
/// untouched could leak tools, so the stream is cut instead.
const MAX_EVENT: usize = 16 * 1024 * 1024;

impl SseToolsFilter {
    pub fn new(allow: ToolAllowList, ids: Vec<Value>) -> Self {
        Self {
            allow,
            left: ids.len(),
            ids,
            buf: Vec::new(),
            done: false,
        }
    }

    /// Feeds a chunk; returns the bytes that may go to the client now, or `Err` when an event grew
    /// past [`MAX_EVENT`].
    pub fn push(&mut self, chunk: &[u8]) -> Result<Bytes, &'static str> {
        if self.done {
            return Ok(Bytes::copy_from_slice(chunk));
        }
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        while !self.done {
            let Some(len) = event_end(&self.buf[start..]) else {
                break;
            };
            let event = &self.buf[start..start + len];
            match self.rewrite(event) {
                Some((rewritten, filtered)) => {
                    out.extend_from_slice(&rewritten);
                    self.left = self.left.saturating_sub(filtered);
                    self.done = self.left == 0;
                }
                None => out.extend_from_slice(event),
            }
            start += len;
        }
        self.buf.drain(..start);
        if self.done {
            out.append(&mut self.buf);
        } else if self.buf.len() > MAX_EVENT {
            return Err("an SSE event from the upstream is too large");
        }
        Ok(Bytes::from(out))
    }

    /// End of stream: a trailing event without its blank line is passed only if it is not the
    /// `tools/list` response (it cannot be filtered reliably, so it is dropped).
    pub fn finish(&mut self) -> Bytes {
        let rest = std::mem::take(&mut self.buf);
        if self.done || self.rewrite(&rest).is_none() {
            Bytes::from(rest)
        } else {
            Bytes::new()
        }
    }

    /// The event with its responses filtered and how many, if it holds a `tools/list` response.
    fn rewrite(&self, event: &[u8]) -> Option<(Vec<u8>, usize)> {
        let (data, other_lines) = event_fields(event)?;
        if !data.contains("\"tools\"") {
            return None;
        }
        let mut message: Value = serde_json::from_str(&data).ok()?;
        let filtered = self.allow.filter_message(&mut message, &self.ids);
        if filtered == 0 {
            return None;
        }
        Some((event_with_data(&other_lines, &message)?, filtered))
    }
}

/// An SSE event's `data` lines joined with newlines, and its other non-empty lines, in order
/// (WHATWG HTML §9.2.6 Interpreting an event stream); `None` if it is not UTF-8 or has no data.
pub(crate) fn event_fields(event: &[u8]) -> Option<(String, Vec<&str>)> {
    let text = std::str::from_utf8(event).ok()?;
    let mut data: Option<String> = None;
    let mut other = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => data = Some(value.to_owned()),
            }
        } else if !line.is_empty() {
            other.push(line);
        }
    }
    Some((data?, other))
}

/// An SSE event made of `other` lines as they were and `message` as its one data line.
pub(crate) fn event_with_data(other: &[&str], message: &Value) -> Option<Vec<u8>> {
    let json = serde_json::to_string(message).ok()?;
    let mut out = String::with_capacity(json.len() + 64);
    for line in other {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("data: ");
    out.push_str(&json);
    out.push_str("\n\n");
    Some(out.into_bytes())
}

/// Length of the first complete event in `buf` (through its blank line), if there is one.
pub(crate) fn event_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            let line = &buf[line_start..i];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return Some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

/// Applies `filter` to an SSE byte stream.
pub fn filter_sse<S, E>(
    upstream: S,
    filter: SseToolsFilter,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    futures_util::stream::unfold(
        (upstream, filter, false),
        |(mut upstream, mut filter, ended)| async move {
            if ended {
                return None;
            }
            loop {
                match upstream.next().await {
                    Some(Ok(chunk)) => match filter.push(&chunk) {
                        Ok(out) if out.is_empty() => {}
                        Ok(out) => return Some((Ok(out), (upstream, filter, false))),
                        Err(why) => {
                            return Some((
                                Err(std::io::Error::other(why)),
                                (upstream, filter, true),
                            ));
                        }
                    },
                    Some(Err(err)) => {
                        return Some((Err(std::io::Error::other(err)), (upstream, filter, true)));
                    }
                    None => {
                        let out = filter.finish();
                        return (!out.is_empty()).then_some((Ok(out), (upstream, filter, true)));
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

    fn allow(names: &[&str]) -> ToolAllowList {
        ToolAllowList::from_json(Some(&serde_json::to_string(names).unwrap_or_default()))
    }

    #[test]
    fn tools_with_invalid_annotations_are_never_offered() {
        // 2026-07-28 Streamable HTTP §Schema Extension: "exclude the invalid tool".
        let invalid: Arc<HashSet<String>> = Arc::new(["broken".to_owned()].into_iter().collect());
        let everything = ToolAllowList::all().without(invalid.clone());
        assert!(everything.is_restricted(), "filtering is needed now");
        assert!(everything.allows("echo") && !everything.allows("broken"));
        let ticked = allow(&["echo", "broken"]).without(invalid);
        assert!(ticked.allows("echo") && !ticked.allows("broken") && !ticked.allows("search"));
        assert!(
            !ToolAllowList::all().without(Arc::default()).is_restricted(),
            "nothing invalid, nothing to filter"
        );
    }

    #[test]
    fn json_list_keeps_only_allowed_tools() {
        let body = json!({"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"a"},{"name":"b"}]}});
        let out = allow(&["b"])
            .filter_json(&serde_json::to_vec(&body).unwrap_or_default(), &[json!(3)])
            .unwrap_or_default();
        let out: Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(
            out["result"]["tools"],
            json!([{"name":"b"}]),
            "only b is allowed"
        );
        assert!(
            allow(&["b"])
                .filter_json(&serde_json::to_vec(&body).unwrap_or_default(), &[json!(4)])
                .is_none(),
            "another id is not the tools/list response"
        );
        assert!(
            !ToolAllowList::from_json(Some("not json")).allows("a"),
            "a malformed list fails closed"
        );
    }

    #[test]
    fn a_batch_of_responses_has_each_tools_list_response_filtered() {
        let body = json!([
            {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"b"}]}},
            {"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"b"}]}},
            {"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"b"},{"name":"a"}]}}
        ]);
        let out = allow(&["a"])
            .filter_json(
                &serde_json::to_vec(&body).unwrap_or_default(),
                &[json!(1), json!(3)],
            )
            .unwrap_or_default();
        let out: Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(out[0]["result"]["tools"], json!([{"name":"a"}]));
        assert_eq!(out[2]["result"]["tools"], json!([{"name":"a"}]));
        assert_eq!(out[1], body[1], "other responses stay as they were");

        // In SSE, filtering goes on until every listed response went by.
        let first = format!("data: {}\n\n", json!([body[0].clone(), body[1].clone()]));
        let second = format!("data: {}\n\n", body[2]);
        let mut filter = SseToolsFilter::new(allow(&["a"]), vec![json!(1), json!(3)]);
        let mut text = Vec::new();
        text.extend_from_slice(&filter.push(first.as_bytes()).unwrap_or_default());
        text.extend_from_slice(&filter.push(second.as_bytes()).unwrap_or_default());
        text.extend_from_slice(&filter.finish());
        let text = String::from_utf8(text).unwrap_or_default();
        assert!(!text.contains("\"b\"}"), "b never leaves: {text}");
        assert_eq!(
            text.matches("\"tools\":[{\"name\":\"a\"}]").count(),
            2,
            "{text}"
        );
    }

    #[test]
    fn sse_rewrites_only_the_matching_event_across_chunk_boundaries() {
        let stream = concat!(
            ": keepalive\n\n",
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"tools\":1}}\n\n",
            "id: 7\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"L\",\"result\":{\"tools\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}\r\n\r\n",
            "data: after\n\n"
        );
        for split in [1, 5, 40, 100, stream.len()] {
            let mut filter = SseToolsFilter::new(allow(&["a"]), vec![json!("L")]);
            let mut out = Vec::new();
            for chunk in stream.as_bytes().chunks(split) {
                out.extend_from_slice(&filter.push(chunk).unwrap_or_default());
            }
            out.extend_from_slice(&filter.finish());
            let out = String::from_utf8(out).unwrap_or_default();
            assert!(
                out.starts_with(
                    ": keepalive\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\""
                ),
                "other events pass byte for byte (split {split}): {out}"
            );
            assert!(
                out.contains("id: 7\nevent: message\ndata: {\"id\":\"L\",\"jsonrpc\":\"2.0\",\"result\":{\"tools\":[{\"name\":\"a\"}]}}\n\n")
                    || out.contains("\"tools\":[{\"name\":\"a\"}]"),
                "the response is filtered (split {split}): {out}"
            );
            assert!(
                !out.contains("\"b\""),
                "b never leaves (split {split}): {out}"
            );
            assert!(
                out.ends_with("data: after\n\n"),
                "later events pass (split {split})"
            );
        }
    }
}
