//! Reading and changing the servers in a client's config text without disturbing anything else:
//! JSON through a concrete syntax tree (`jsonc-parser`'s CST keeps comments, trailing commas,
//! indentation and key order), TOML through `toml_edit` (keeps comments and layout). Only the one
//! entry named is added or replaced; every other byte of the file stays as it was.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
use serde_json::{Map, Value};

use super::table::Format;

/// Why a config could not be read or changed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("the file is not valid {format}: {detail}")]
    Syntax {
        format: &'static str,
        detail: String,
    },
    #[error("{key:?} in the file is not an object/table; Gatehouse leaves it alone")]
    NotAContainer { key: String },
}

fn syntax(format: Format, detail: impl std::fmt::Display) -> EditError {
    EditError::Syntax {
        format: match format {
            Format::Json => "JSON",
            Format::Toml => "TOML",
        },
        detail: detail.to_string(),
    }
}

/// The servers in `text` under `at`, by name (empty when the file or the key is absent).
pub fn servers(format: Format, text: &str, at: &[&str]) -> Result<Map<String, Value>, EditError> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let root = match format {
        Format::Json => {
            jsonc_parser::parse_to_serde_value::<Option<Value>>(text, &ParseOptions::default())
                .map_err(|e| syntax(format, e))?
                .unwrap_or(Value::Null)
        }
        Format::Toml => {
            let doc: toml_edit::DocumentMut = text.parse().map_err(|e| syntax(format, e))?;
            table_json(doc.as_table())
        }
    };
    let mut node = &root;
    for key in at {
        match node.get(key) {
            Some(next) => node = next,
            None => return Ok(Map::new()),
        }
    }
    Ok(node.as_object().cloned().unwrap_or_default())
}

/// `text` with the server `name` under `at` set to `entry` (added, or replaced if present).
pub fn set_server(
    format: Format,
    text: &str,
    at: &[&str],
    name: &str,
    entry: &Value,
) -> Result<String, EditError> {
    match format {
        Format::Json => set_json(text, at, name, entry),
        Format::Toml => set_toml(text, at, name, entry),
    }
}

/// `text` without the server `name` under `at` (unchanged when it is not there).
pub fn remove_server(
    format: Format,
    text: &str,
    at: &[&str],
    name: &str,
) -> Result<String, EditError> {
    match format {
        Format::Json => {
            let root = parse_json(text)?;
            if let Some(servers) = json_container(&root, at, false)?
                && let Some(prop) = servers.get(name)
            {
                prop.remove();
            }
            Ok(root.to_string())
        }
        Format::Toml => {
            let mut doc: toml_edit::DocumentMut =
                text.parse().map_err(|e| syntax(Format::Toml, e))?;
            let mut table = doc.as_table_mut();
            for key in at {
                match table.get_mut(key).and_then(toml_edit::Item::as_table_mut) {
                    Some(next) => table = next,
                    None => return Ok(doc.to_string()),
                }
            }
            table.remove(name);
            Ok(doc.to_string())
        }
    }
}

fn parse_json(text: &str) -> Result<CstRootNode, EditError> {
    let text = if text.trim().is_empty() { "{}\n" } else { text };
    let root =
        CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| syntax(Format::Json, e))?;
    if root.value().is_some() && root.object_value().is_none() {
        return Err(EditError::NotAContainer {
            key: "(top level)".into(),
        });
    }
    Ok(root)
}

/// The object at `at`, created along the way when `create`.
fn json_container(
    root: &CstRootNode,
    at: &[&str],
    create: bool,
) -> Result<Option<CstObject>, EditError> {
    let mut object = if create {
        root.object_value_or_set()
    } else {
        match root.object_value() {
            Some(object) => object,
            None => return Ok(None),
        }
    };
    for key in at {
        if object.get(key).is_some() && object.object_value(key).is_none() {
            return Err(EditError::NotAContainer {
                key: (*key).to_owned(),
            });
        }
        object = if create {
            object.object_value_or_set(key)
        } else {
            match object.object_value(key) {
                Some(next) => next,
                None => return Ok(None),
            }
        };
    }
    Ok(Some(object))
}

fn set_json(text: &str, at: &[&str], name: &str, entry: &Value) -> Result<String, EditError> {
    let root = parse_json(text)?;
    let servers = json_container(&root, at, true)?
        .ok_or_else(|| EditError::NotAContainer { key: at.join(".") })?;
    match servers.get(name) {
        Some(prop) => prop.set_value(cst_value(entry)),
        None => {
            servers.append(name, cst_value(entry));
        }
    }
    Ok(root.to_string())
}

fn cst_value(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(cst_value).collect()),
        Value::Object(map) => {
            CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), cst_value(v))).collect())
        }
    }
}

fn set_toml(text: &str, at: &[&str], name: &str, entry: &Value) -> Result<String, EditError> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| syntax(Format::Toml, e))?;
    let mut table = doc.as_table_mut();
    for key in at {
        let item = table.entry(key).or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        });
        table = item
            .as_table_mut()
            .ok_or_else(|| EditError::NotAContainer {
                key: (*key).to_owned(),
            })?;
    }
    let mut server = toml_edit::Table::new();
    if let Value::Object(map) = entry {
        for (key, value) in map {
            if let Some(v) = toml_value(value) {
                server.insert(key, toml_edit::Item::Value(v));
            }
        }
    }
    table.insert(name, toml_edit::Item::Table(server));
    Ok(doc.to_string())
}

fn toml_value(value: &Value) -> Option<toml_edit::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64()?.into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => {
            toml_edit::Value::Array(items.iter().filter_map(toml_value).collect())
        }
        Value::Object(map) => {
            let mut inline = toml_edit::InlineTable::new();
            for (k, v) in map {
                if let Some(v) = toml_value(v) {
                    inline.insert(k, v);
                }
            }
            toml_edit::Value::InlineTable(inline)
        }
    })
}

fn table_json(table: &toml_edit::Table) -> Value {
    Value::Object(
        table
            .iter()
            .filter_map(|(k, item)| Some((k.to_owned(), item_json(item)?)))
            .collect(),
    )
}

fn item_json(item: &toml_edit::Item) -> Option<Value> {
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(v) => Some(value_json(v)),
        toml_edit::Item::Table(t) => Some(table_json(t)),
        toml_edit::Item::ArrayOfTables(a) => Some(Value::Array(a.iter().map(table_json).collect())),
    }
}

fn value_json(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(s) => Value::String(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => Value::from(*f.value()),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => Value::String(d.value().to_string()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(value_json).collect()),
        toml_edit::Value::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), value_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VSCODE: &str = r#"{
    // my servers
    "servers": {
        "github": { "type": "http", "url": "https://api.githubcopilot.com/mcp/" }, // work
    },
    "inputs": [],
}
"#;

    #[test]
    fn a_jsonc_file_keeps_its_comments_trailing_commas_and_other_entries() {
        let entry = json!({"type": "http", "url": "http://127.0.0.1:47474/mcp/linear"});
        let after =
            set_server(Format::Json, VSCODE, &["servers"], "linear", &entry).expect("edits");
        assert!(after.contains("// my servers"), "{after}");
        assert!(after.contains("// work"), "{after}");
        assert!(
            after.contains(
                r#""github": { "type": "http", "url": "https://api.githubcopilot.com/mcp/" }"#
            ),
            "{after}"
        );
        assert!(after.contains(r#""inputs": [],"#), "{after}");
        let servers = servers(Format::Json, &after, &["servers"]).expect("reads");
        assert_eq!(servers["linear"], entry);
        assert_eq!(servers.len(), 2);
        // Removing it again gives back the servers as they were.
        let removed = remove_server(Format::Json, &after, &["servers"], "linear").expect("removes");
        let left = super::servers(Format::Json, &removed, &["servers"]).expect("reads");
        assert_eq!(left.keys().collect::<Vec<_>>(), vec!["github"]);
    }

    #[test]
    fn a_missing_file_or_key_is_created() {
        let entry = json!({"url": "http://127.0.0.1:47474/mcp/x"});
        let after = set_server(Format::Json, "", &["mcpServers"], "x", &entry).expect("edits");
        let value: Value = serde_json::from_str(&after).expect("plain JSON");
        assert_eq!(value, json!({"mcpServers": {"x": entry}}));
    }

    #[test]
    fn a_non_object_in_the_way_is_refused_not_overwritten() {
        let err = set_server(
            Format::Json,
            r#"{"mcpServers": 3}"#,
            &["mcpServers"],
            "x",
            &json!({}),
        )
        .expect_err("refused");
        assert_eq!(
            err,
            EditError::NotAContainer {
                key: "mcpServers".into()
            }
        );
        assert!(set_server(Format::Json, "[1]", &["mcpServers"], "x", &json!({})).is_err());
        assert!(matches!(
            set_server(Format::Json, "{ broken", &["mcpServers"], "x", &json!({})),
            Err(EditError::Syntax { .. })
        ));
    }

    #[test]
    fn a_toml_file_keeps_its_comments_and_tables() {
        let codex = "# Codex settings\nmodel = \"o4\" # the model\n\n[mcp_servers.docs]\ncommand = \"npx\"\nargs = [\"-y\", \"docs-mcp\"]\nenv = { DOCS_KEY = \"abc\" }\n";
        let after = set_server(
            Format::Toml,
            codex,
            &["mcp_servers"],
            "linear",
            &json!({"url": "http://127.0.0.1:47474/mcp/linear"}),
        )
        .expect("edits");
        assert!(
            after.starts_with("# Codex settings\nmodel = \"o4\" # the model\n"),
            "{after}"
        );
        assert!(
            after.contains("[mcp_servers.linear]\nurl = \"http://127.0.0.1:47474/mcp/linear\""),
            "{after}"
        );
        let servers = servers(Format::Toml, &after, &["mcp_servers"]).expect("reads");
        assert_eq!(servers["docs"]["env"]["DOCS_KEY"], "abc");
        assert_eq!(
            servers["linear"]["url"],
            "http://127.0.0.1:47474/mcp/linear"
        );
    }
}
