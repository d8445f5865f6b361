//! Checks on a 2026-07-28 (stateless) request before it is forwarded: the routing headers must agree
//! with the body, and the version must be one Gatehouse speaks (MCP 2026-07-28 Streamable HTTP
//! §Protocol Version Header, §Standard Request Headers, §Server Validation, §Value Encoding;
//! versioning §Unsupported versions).
//!
//! - `MCP-Protocol-Version` must be present and equal `params._meta["io.modelcontextprotocol/
//!   protocolVersion"]`, else 400 `HeaderMismatch` (-32020).
//! - A version Gatehouse does not speak gets 400 `UnsupportedProtocolVersion` (-32022) with
//!   `data.supported` and `data.requested`.
//! - `Mcp-Method` is required and must equal the body's `method`; `Mcp-Name` is required on
//!   `tools/call` and `prompts/get` (equal to `params.name`) and `resources/read` (equal to
//!   `params.uri`). Header names are case-insensitive, values case-sensitive; a value of the form
//!   `=?base64?…?=` is decoded before the comparison.
//!
//! The routing headers pass upstream in every era (the forward allow-list), so a request of an earlier
//! era that sends `Mcp-Method` or `Mcp-Name` anyway is held to the same comparison by
//! [`routing_headers`] with [`Presence::IfSent`]: they are optional there, but never allowed to name a
//! different method or tool than the body the tool filter checked (an upstream or intermediary that
//! routes on them would otherwise run what the filter never saw).
//!
//! `Mcp-Param-*` headers depend on each tool's `x-mcp-header` annotations. [`param_headers`] checks
//! those of the parameters Gatehouse recognises (it read the tool's annotations from the upstream,
//! [`super::tool_annotations`]): a value in the arguments needs its header, a header needs its
//! value, and the two must agree, integers compared as numbers (§Server Behavior for Custom Headers,
//! §Server Validation). A header Gatehouse does not recognise goes upstream untouched and unjudged:
//! "Intermediate servers that do not recognize an Mcp-Param-{Name} header MUST forward it and
//! otherwise ignore it".

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use serde_json::{Value, json};

use super::jsonrpc::MODERN_META_KEY;

/// The stateless revisions Gatehouse forwards.
pub const SUPPORTED_MODERN_VERSIONS: &[&str] = &["2026-07-28"];
/// JSON-RPC code for a routing header that disagrees with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// JSON-RPC code for a protocol version the server does not speak.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Why a modern request is refused: a JSON-RPC error code, a message and optional data; always
/// HTTP 400.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl Refusal {
    fn mismatch(message: impl Into<String>) -> Self {
        Self {
            code: HEADER_MISMATCH,
            message: message.into(),
            data: None,
        }
    }

    /// The JSON-RPC error response body for `id`.
    pub fn body(&self, id: Option<&Value>) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let (Some(data), Some(map)) = (&self.data, error.as_object_mut()) {
            map.insert("data".into(), data.clone());
        }
        json!({ "jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null), "error": error })
    }
}

/// Validates the headers of a request whose body carries the modern `_meta` version.
pub fn validate(headers: &HeaderMap, body: &Value) -> Result<(), Refusal> {
    let params = body.get("params");
    let meta_version = params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(MODERN_META_KEY))
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::mismatch("_meta protocol version must be a string"))?;
    let header_version = header(headers, "mcp-protocol-version")?
        .ok_or_else(|| Refusal::mismatch("MCP-Protocol-Version header is required"))?;
    if header_version != meta_version {
        return Err(Refusal::mismatch(
            "MCP-Protocol-Version header does not match _meta",
        ));
    }
    if !SUPPORTED_MODERN_VERSIONS.contains(&meta_version) {
        return Err(Refusal {
            code: UNSUPPORTED_PROTOCOL_VERSION,
            message: "Unsupported protocol version".into(),
            data: Some(
                json!({ "supported": SUPPORTED_MODERN_VERSIONS, "requested": meta_version }),
            ),
        });
    }
    routing_headers(headers, body, Presence::Required)
}

/// Whether the routing headers must be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// 2026-07-28: `Mcp-Method` always, `Mcp-Name` where the method names something.
    Required,
    /// Earlier eras: optional, but compared with the body when sent.
    IfSent,
}

/// `Mcp-Method` against the body's `method`, and `Mcp-Name` against `params.name` (`tools/call`,
/// `prompts/get`) or `params.uri` (`resources/read`).
pub fn routing_headers(
    headers: &HeaderMap,
    body: &Value,
    presence: Presence,
) -> Result<(), Refusal> {
    let method = body.get("method").and_then(Value::as_str);
    match header(headers, "mcp-method")? {
        Some(header_method) if Some(header_method.as_str()) != method => {
            return Err(Refusal::mismatch(
                "Mcp-Method header does not match the body's method",
            ));
        }
        Some(_) => {}
        None if presence == Presence::Required => {
            return Err(Refusal::mismatch("Mcp-Method header is required"));
        }
        None => {}
    }
    let named_by = match method {
        Some("tools/call" | "prompts/get") => Some("name"),
        Some("resources/read") => Some("uri"),
        _ => None,
    };
    if let Some(field) = named_by {
        let expected = body
            .get("params")
            .and_then(|p| p.get(field))
            .and_then(Value::as_str);
        match header(headers, "mcp-name")? {
            Some(header_name) if Some(header_name.as_str()) != expected => {
                return Err(Refusal::mismatch(format!(
                    "Mcp-Name header does not match params.{field}"
                )));
            }
            Some(_) => {}
            None if presence == Presence::Required => {
                return Err(Refusal::mismatch("Mcp-Name header is required"));
            }
            None => {}
        }
    }
    Ok(())
}

/// The recognised `Mcp-Param-*` headers of a `tools/call` against its `arguments` (module doc).
pub fn param_headers(
    headers: &HeaderMap,
    body: &Value,
    annotations: &[super::param_headers::Annotation],
) -> Result<(), Refusal> {
    let arguments = body.pointer("/params/arguments").unwrap_or(&Value::Null);
    for annotation in annotations {
        let name = format!("mcp-param-{}", annotation.header.to_ascii_lowercase());
        let value = annotation
            .path
            .iter()
            .try_fold(arguments, |node, key| node.get(key))
            .filter(|v| !v.is_null());
        let sent = header(headers, &name)?;
        let agrees = match (value, sent.as_deref()) {
            (None, None) => true,
            (Some(Value::String(v)), Some(s)) => v == s,
            (Some(Value::Bool(v)), Some(s)) => s == if *v { "true" } else { "false" },
            (Some(Value::Number(v)), Some(s)) => {
                s.trim().parse::<f64>().ok() == v.as_f64() && !s.trim().is_empty()
            }
            _ => false,
        };
        if !agrees {
            let header_name = format!("Mcp-Param-{}", annotation.header);
            return Err(Refusal::mismatch(match (value, sent) {
                (Some(_), None) => {
                    format!("{header_name} header is required: the argument has a value")
                }
                (None, Some(_)) => {
                    format!("{header_name} header is sent for an argument without a value")
                }
                _ => format!("{header_name} header does not match the argument"),
            }));
        }
    }
    Ok(())
}

/// One header's value, decoded from the `=?base64?…?=` form when it uses it; a header sent twice or
/// not valid text is a mismatch.
fn header(headers: &HeaderMap, name: &str) -> Result<Option<String>, Refusal> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Refusal::mismatch(format!("{name} header must appear once")));
    }
    let text = value
        .to_str()
        .map_err(|_| Refusal::mismatch(format!("{name} header is not valid text")))?;
    match text
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(encoded) => STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Some)
            .ok_or_else(|| {
                Refusal::mismatch(format!("{name} header has a malformed base64 value"))
            }),
        None => Ok(Some(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn request(method: &str, params: Value) -> Value {
        let mut params = params;
        if let Some(map) = params.as_object_mut() {
            map.insert("_meta".into(), json!({ MODERN_META_KEY: "2026-07-28" }));
        }
        json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(v) = HeaderValue::from_str(value) {
                map.append(*name, v);
            }
        }
        map
    }

    #[test]
    fn matching_headers_pass() {
        let body = request("tools/call", json!({ "name": "echo", "arguments": {} }));
        let h = headers(&[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "echo"),
        ]);
        assert_eq!(
            validate(&h, &body),
            Ok(()),
            "headers that agree with the body are fine"
        );
        let list = request("tools/list", json!({}));
        let h = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ]);
        assert_eq!(
            validate(&h, &list),
            Ok(()),
            "header names are case-insensitive; no Mcp-Name on tools/list"
        );
    }

    #[test]
    fn version_header_must_match_meta() {
        let body = request("tools/list", json!({}));
        let h = headers(&[
            ("MCP-Protocol-Version", "2025-11-25"),
            ("Mcp-Method", "tools/list"),
        ]);
        assert_eq!(
            validate(&h, &body).map_err(|r| r.code),
            Err(HEADER_MISMATCH),
            "a version header that differs from _meta"
        );
        let h = headers(&[("Mcp-Method", "tools/list")]);
        assert_eq!(
            validate(&h, &body).map_err(|r| r.code),
            Err(HEADER_MISMATCH),
            "a missing version header"
        );
    }

    #[test]
    fn method_and_name_headers_are_required_and_must_match() {
        let body = request("tools/call", json!({ "name": "echo" }));
        let no_method = headers(&[("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Name", "echo")]);
        assert_eq!(
            validate(&no_method, &body).map_err(|r| r.code),
            Err(HEADER_MISMATCH),
            "no Mcp-Method"
        );
        let wrong_name = headers(&[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "Echo"),
        ]);
        assert_eq!(
            validate(&wrong_name, &body).map_err(|r| r.code),
            Err(HEADER_MISMATCH),
            "values compare case-sensitively"
        );
        let resource = request("resources/read", json!({ "uri": "demo://a b" }));
        let encoded = format!("=?base64?{}?=", STANDARD.encode("demo://a b"));
        let h = headers(&[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "resources/read"),
            ("Mcp-Name", &encoded),
        ]);
        assert_eq!(
            validate(&h, &resource),
            Ok(()),
            "a base64 sentinel decodes to the body value"
        );
        let twice = headers(&[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "echo"),
            ("Mcp-Name", "echo"),
        ]);
        assert_eq!(
            validate(&twice, &body).map_err(|r| r.code),
            Err(HEADER_MISMATCH),
            "a repeated header"
        );
    }

    #[test]
    fn earlier_eras_need_no_routing_headers_but_those_sent_must_match() {
        let legacy = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "echo", "arguments": {} } });
        let check = |pairs: &[(&'static str, &str)]| {
            routing_headers(&headers(pairs), &legacy, Presence::IfSent).map_err(|r| r.code)
        };
        assert_eq!(check(&[]), Ok(()), "optional before 2026-07-28");
        assert_eq!(
            check(&[("Mcp-Method", "tools/call"), ("Mcp-Name", "echo")]),
            Ok(()),
            "headers that agree with the body pass"
        );
        assert_eq!(
            check(&[(
                "Mcp-Name",
                &format!("=?base64?{}?=", STANDARD.encode("echo"))
            )]),
            Ok(()),
            "the base64 form decodes in every era"
        );
        for (pairs, why) in [
            (
                &[("Mcp-Method", "tools/list")][..],
                "a method the body does not have",
            ),
            (
                &[("Mcp-Name", "delete_everything")][..],
                "a tool the filter did not check",
            ),
            (
                &[("Mcp-Method", "tools/call"), ("Mcp-Method", "tools/call")][..],
                "a repeated header",
            ),
        ] {
            assert_eq!(check(pairs), Err(HEADER_MISMATCH), "{why}");
        }
        let modern_without = request("tools/call", json!({ "name": "echo" }));
        assert_eq!(
            routing_headers(&HeaderMap::new(), &modern_without, Presence::Required)
                .map_err(|r| r.code),
            Err(HEADER_MISMATCH),
            "2026-07-28 still requires them"
        );
    }

    #[test]
    fn recognised_param_headers_must_agree_with_the_arguments() {
        // Streamable HTTP §Server Behavior for Custom Headers: the scenario table.
        use crate::proxy::param_headers::annotations;
        let schema = json!({"properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "limit": {"type": "integer", "x-mcp-header": "Limit"}}});
        let found = annotations(&schema).unwrap_or_default();
        let call = |arguments: Value| {
            request(
                "tools/call",
                json!({"name": "query", "arguments": arguments}),
            )
        };
        let ok = headers(&[
            ("mcp-param-region", "us-west1"),
            ("mcp-param-limit", "42.0"),
        ]);
        assert_eq!(
            param_headers(
                &ok,
                &call(json!({"region": "us-west1", "limit": 42})),
                &found
            ),
            Ok(()),
            "integers compare as numbers"
        );
        let encoded = headers(&[("mcp-param-region", "=?base64?SGVsbG8sIOS4lueVjA==?=")]);
        assert_eq!(
            param_headers(&encoded, &call(json!({"region": "Hello, 世界"})), &found),
            Ok(()),
            "decoded before the comparison"
        );
        assert_eq!(
            param_headers(&HeaderMap::new(), &call(json!({"region": null})), &found),
            Ok(()),
            "null or absent: no header expected"
        );
        for (sent, arguments) in [
            (headers(&[]), json!({"region": "eu"})),
            (
                headers(&[("mcp-param-region", "us")]),
                json!({"region": "eu"}),
            ),
            (headers(&[("mcp-param-region", "eu")]), json!({})),
            (headers(&[("mcp-param-limit", "x")]), json!({"limit": 1})),
        ] {
            let refused = param_headers(&sent, &call(arguments.clone()), &found);
            assert_eq!(
                refused.map_err(|r| r.code),
                Err(HEADER_MISMATCH),
                "{arguments} with {sent:?}"
            );
        }
    }

    #[test]
    fn unsupported_version_names_the_supported_ones() {
        let mut body = request("tools/list", json!({}));
        body["params"]["_meta"][MODERN_META_KEY] = json!("2099-01-01");
        let h = headers(&[
            ("MCP-Protocol-Version", "2099-01-01"),
            ("Mcp-Method", "tools/list"),
        ]);
        let refusal = validate(&h, &body).err();
        let refusal = refusal.unwrap_or_else(|| panic!("2099-01-01 must be refused"));
        assert_eq!(
            refusal.code, UNSUPPORTED_PROTOCOL_VERSION,
            "an unsupported version"
        );
        let error = refusal.body(Some(&json!(1)));
        assert_eq!(
            error["error"]["data"]["supported"],
            json!(["2026-07-28"]),
            "data.supported: {error}"
        );
        assert_eq!(
            error["error"]["data"]["requested"],
            json!("2099-01-01"),
            "data.requested: {error}"
        );
        assert_eq!(error["id"], json!(1), "the error answers the request's id");
    }
}
