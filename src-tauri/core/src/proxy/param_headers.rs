//! The routing headers a 2026-07-28 client sends, built for a request Gatehouse bridges to a modern
//! upstream (MCP 2026-07-28 Streamable HTTP §Standard Request Headers, §Custom Headers from Tool
//! Parameters, §Value Encoding, §Client Behavior):
//!
//! - `Mcp-Name` carries `params.name` (`tools/call`, `prompts/get`) or `params.uri`
//!   (`resources/read`);
//! - each tool parameter annotated with `x-mcp-header` in the tool's `inputSchema` is mirrored into
//!   `Mcp-Param-{name}`: strings as they are, integers in decimal, booleans as `true`/`false`; a
//!   missing or `null` value omits the header;
//! - a value that is not plain visible ASCII (non-ASCII, control characters, leading or trailing
//!   whitespace, or the sentinel itself) is sent as `=?base64?{UTF-8 in Base64}?=`.
//!
//! An annotation is valid only on a primitive (`string`, `integer`, `boolean`) property reached from
//! the schema root through `properties` keys alone, with a non-empty token name unique among the
//! tool's annotations regardless of case (§Schema Extension); [`annotations`] refuses any other
//! tool definition.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderName, HeaderValue};
use serde_json::Value;

const ANNOTATION: &str = "x-mcp-header";
/// JavaScript's safe integer range (§Schema Extension).
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// One annotated parameter: the header's name part and the property path to its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub header: String,
    pub path: Vec<String>,
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn count_annotations(schema: &Value) -> usize {
    match schema {
        Value::Object(map) => {
            usize::from(map.contains_key(ANNOTATION))
                + map.values().map(count_annotations).sum::<usize>()
        }
        Value::Array(items) => items.iter().map(count_annotations).sum(),
        _ => 0,
    }
}

fn walk(schema: &Value, path: &mut Vec<String>, out: &mut Vec<Annotation>) -> Result<(), String> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    for (key, property) in properties {
        path.push(key.clone());
        if let Some(annotation) = property.get(ANNOTATION) {
            let header = annotation
                .as_str()
                .filter(|h| is_token(h))
                .ok_or_else(|| format!("{ANNOTATION} of {key} is not a header name"))?;
            let kind = property.get("type").and_then(Value::as_str);
            if !matches!(kind, Some("string" | "integer" | "boolean")) {
                return Err(format!(
                    "{ANNOTATION} of {key} is on a property that is not a string, integer or boolean"
                ));
            }
            out.push(Annotation {
                header: header.to_owned(),
                path: path.clone(),
            });
        }
        walk(property, path, out)?;
        path.pop();
    }
    Ok(())
}

/// The annotated parameters of a tool's `inputSchema`, or why the tool definition is invalid.
pub fn annotations(input_schema: &Value) -> Result<Vec<Annotation>, String> {
    let mut out = Vec::new();
    walk(input_schema, &mut Vec::new(), &mut out)?;
    if out.len() != count_annotations(input_schema) {
        return Err(format!(
            "an {ANNOTATION} annotation is not reachable through properties alone"
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for a in &out {
        if !seen.insert(a.header.to_ascii_lowercase()) {
            return Err(format!("{ANNOTATION} {} is used twice", a.header));
        }
    }
    Ok(out)
}

/// A header value per §Value Encoding.
pub fn encode(value: &str) -> HeaderValue {
    let plain = value
        .bytes()
        .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
        && value.trim() == value
        && !(value.starts_with("=?base64?") && value.ends_with("?="));
    let text = if plain {
        value.to_owned()
    } else {
        format!("=?base64?{}?=", STANDARD.encode(value.as_bytes()))
    };
    // Both forms are visible ASCII by construction.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The header text of a parameter value (§Value Encoding, type conversion).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => n
            .as_i64()
            .filter(|i| i.abs() <= MAX_SAFE_INTEGER)
            .map(|i| i.to_string()),
        _ => None,
    }
}

/// The `Mcp-Param-*` headers of a `tools/call` with these `arguments`.
pub fn param_headers(
    annotations: &[Annotation],
    arguments: &Value,
) -> Vec<(HeaderName, HeaderValue)> {
    annotations
        .iter()
        .filter_map(|a| {
            let value = a
                .path
                .iter()
                .try_fold(arguments, |node, key| node.get(key))?;
            let name = HeaderName::from_bytes(format!("mcp-param-{}", a.header).as_bytes()).ok()?;
            Some((name, encode(&text_of(value)?)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_encoded_as_the_value_encoding_table_says() {
        // Streamable HTTP §Value Encoding, "Encoding examples".
        for (value, header) in [
            ("us-west1", "us-west1"),
            ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
            (" padded ", "=?base64?IHBhZGRlZCA=?="),
            ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
            ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
        ] {
            assert_eq!(encode(value), header, "{value:?}");
        }
    }

    #[test]
    fn annotated_parameters_are_mirrored_nested_ones_too() {
        // §Custom Headers from Tool Parameters, the execute_sql example, plus a nested property.
        let schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "query": {"type": "string"},
            "opts": {"type": "object", "properties": {
                "limit": {"type": "integer", "x-mcp-header": "Limit"},
                "dry": {"type": "boolean", "x-mcp-header": "Dry"}}}}});
        let found = annotations(&schema).unwrap_or_else(|e| panic!("{e}"));
        let headers = param_headers(
            &found,
            &json!({"region": "us-west1", "query": "SELECT 1", "opts": {"limit": 42, "dry": null}}),
        );
        let as_text: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        assert!(as_text.contains(&("mcp-param-region".into(), "us-west1".into())));
        assert!(as_text.contains(&("mcp-param-limit".into(), "42".into())));
        assert_eq!(as_text.len(), 2, "null omits its header: {as_text:?}");
    }

    #[test]
    fn invalid_annotations_make_the_tool_invalid() {
        // §Schema Extension constraints.
        for schema in [
            json!({"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "Bad Name"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "X"},
                                  "b": {"type": "string", "x-mcp-header": "x"}}}),
            json!({"properties": {"a": {"type": "array",
                   "items": {"type": "string", "x-mcp-header": "A"}}}}),
            json!({"properties": {"a": {"oneOf": [{"type": "string", "x-mcp-header": "A"}]}}}),
        ] {
            assert!(annotations(&schema).is_err(), "{schema}");
        }
    }
}
