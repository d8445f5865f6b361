//! The JSON-RPC side of the proxy: what a POST body says (method, id, era, tool name) and the error
//! objects Gatehouse answers itself.
//!
//! A POST body is parsed once, by [`parse_body`], and an object that names a member twice is refused
//! (I-JSON, RFC 7493 §2.3; RFC 8259 §4 leaves such objects to each parser, and parsers disagree:
//! serde_json keeps the last `"method"`, others keep the first). Since no object is ambiguous, the
//! bytes the client sent mean to the upstream what they meant to the tool filter, and they are
//! forwarded as they came, with no second parse or re-serialization.
//!
//! Upstream trouble (unreachable, slow, 5xx, 401/403, a redirect) never becomes an HTTP 401/403 on
//! `/mcp/<slug>`: that would send the local client back through OAuth with
//! Gatehouse, the wrong layer. A request gets HTTP 200 with a JSON-RPC error for its `id` that says what
//! happened and what to do; a notification or a GET gets 502 with an id-less error.

use std::fmt;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value, json};

/// `_meta` key whose presence marks a 2026-07-28 (stateless) request: every such request names its
/// protocol version there (2026-07-28 basic/index §_meta).
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
    /// An `initialize` whose client declares URL-mode elicitation
    /// (`params.capabilities.elicitation.url`, MCP 2025-11-25 Elicitation §Capabilities), or a
    /// 2026-07-28 request declaring it in its `_meta` client capabilities.
    pub url_elicitation: bool,
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
        // Declared once in `initialize` (2025-11-25), or with each 2026-07-28 request.
        let url_elicitation = if modern {
            params
                .and_then(|p| p.get("_meta"))
                .and_then(|m| m.get("io.modelcontextprotocol/clientCapabilities"))
                .and_then(|c| c.pointer("/elicitation/url"))
                .is_some_and(Value::is_object)
        } else {
            method.as_deref() == Some("initialize")
                && params
                    .and_then(|p| p.pointer("/capabilities/elicitation/url"))
                    .is_some_and(Value::is_object)
        };
        Self {
            id,
            method,
            tool,
            modern,
            url_elicitation,
        }
    }

    pub fn is_request(&self) -> bool {
        self.id.is_some()
    }
}

/// Why a POST body was not parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Not one JSON text (JSON-RPC 2.0 §5.1: -32700 Parse error).
    NotJson,
    /// An object names a member twice (-32600 Invalid Request): which one counts depends on the parser.
    DuplicateKey,
}

/// Parses a POST body into one JSON value, refusing an object, at any depth, that names a member
/// twice (module docs). The cost is that of `serde_json::from_slice::<Value>`: the duplicate check
/// is the map insertion the parse makes anyway.
pub fn parse_body(bytes: &[u8]) -> Result<Value, BodyError> {
    match serde_json::from_slice::<UniqueKeys>(bytes) {
        Ok(UniqueKeys(value)) => Ok(value),
        // Syntax, EOF and the recursion limit are not data errors; the only data error the visitor
        // raises is the duplicate key (`deserialize_any` cannot meet a type mismatch).
        Err(err) if err.is_data() => Err(BodyError::DuplicateKey),
        Err(_) => Err(BodyError::NotJson),
    }
}

/// A [`Value`] whose objects never name a member twice.
struct UniqueKeys(Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UniqueKeysVisitor)
            .map(UniqueKeys)
    }
}

/// Builds a [`Value`] as serde_json's own visitor does, except for repeated object keys.
struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value whose objects name each member once")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match map.entry(key) {
                Entry::Vacant(slot) => {
                    let UniqueKeys(value) = access.next_value()?;
                    slot.insert(value);
                }
                Entry::Occupied(_) => {
                    return Err(de::Error::custom("an object names a member twice"));
                }
            }
        }
        Ok(Value::Object(map))
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

/// Gatehouse answering a request itself with a result: HTTP 200, one JSON object.
pub fn answer_result(id: &Value, result: &Value) -> Response {
    let body = json!({ "jsonrpc": "2.0", "id": id, "result": result });
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
        .into_response()
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
    fn url_elicitation_is_declared_in_initialize_or_with_each_modern_request() {
        let legacy = Message::read(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"capabilities": {"elicitation": {"url": {}}}}}));
        assert!(legacy.url_elicitation, "2025-11-25: in initialize");
        let modern = |caps: Value| {
            Message::read(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "echo", "_meta": {MODERN_META_KEY: "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": caps}}}),
            )
        };
        assert!(
            modern(json!({"elicitation": {"url": {}}})).url_elicitation,
            "2026-07-28: per request"
        );
        assert!(
            !modern(json!({"elicitation": {}})).url_elicitation,
            "form mode only is not URL mode"
        );
    }

    #[test]
    fn a_repeated_member_is_refused_at_every_depth() {
        for body in [
            // The filter bypass: serde_json would see tools/list, a first-wins upstream tools/call.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm","name":"echo"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":1,"a":2}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"list":[{"k":1},{"k":2,"k":3}]}}"#,
            r#"{"id":1,"id":2}"#,
        ] {
            assert_eq!(
                parse_body(body.as_bytes()),
                Err(BodyError::DuplicateKey),
                "I-JSON (RFC 7493 §2.3): no member named twice: {body}"
            );
        }
    }

    #[test]
    fn a_body_without_repeats_parses_like_serde_json() {
        let body = br#" {"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"echo",
            "arguments":{"n":-3,"big":18446744073709551615,"f":1.5e3,"s":"\u00e9\n","t":true,"z":null,
            "list":[1,{"k":1},[]],"same":{"k":1},"other":{"k":2}}}} "#;
        let expected: Value = serde_json::from_slice(body).unwrap_or_default();
        assert_eq!(
            parse_body(body),
            Ok(expected),
            "the same key in sibling objects is not a repeat, and every JSON type round-trips"
        );
    }

    #[test]
    fn not_json_is_a_parse_error_not_a_duplicate() {
        for body in [
            &b"{\"a\":"[..],
            b"{\"a\":1}x",
            b"",
            b"{\"a\":1,}",
            b"\xef\xbb\xbf{}",
        ] {
            assert_eq!(
                parse_body(body),
                Err(BodyError::NotJson),
                "-32700 for {body:?}"
            );
        }
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert_eq!(
            parse_body(deep.as_bytes()),
            Err(BodyError::NotJson),
            "the recursion limit still holds and is not mistaken for a repeat"
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
            "a request gets its error in-band, never an HTTP 401/403"
        );
    }
}
