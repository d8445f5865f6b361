//! Reading the servers a client already has, to move them behind Gatehouse: an HTTP entry (its
//! URL and at most one header, e.g. an API key) or a stdio entry (command, arguments, working
//! directory, environment). The secrets found (header values, environment values) go into
//! Gatehouse's sealed store; the client's entry is then replaced by one that points at Gatehouse,
//! so no plaintext key is left in the client's config (the backup aside, which the person is
//! told about).

use serde::Serialize;
use serde_json::{Map, Value};

/// A server in a client's config, as Gatehouse would take it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    Http {
        url: String,
        /// At most one header (Gatehouse injects one per connection).
        header: Option<(String, String)>,
    },
    Stdio {
        program: String,
        args: Vec<String>,
        cwd: Option<String>,
        env: Vec<(String, String)>,
    },
}

/// One server of a client, and whether Gatehouse can take it over.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub name: String,
    /// `http` or `stdio`.
    pub kind: &'static str,
    /// The names of the secrets that would move into Gatehouse (never their values).
    pub secrets: Vec<String>,
    /// Why it cannot be imported, if it cannot.
    pub refused: Option<String>,
}

fn strings(value: Option<&Value>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "an argument is not a string".to_owned())
            })
            .collect(),
        Some(_) => Err("args is not a list".into()),
    }
}

fn pairs(value: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(object) = value.as_object() else {
        return Err(format!("{what} is not an object"));
    };
    object
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .ok_or_else(|| format!("{what} {k} is not a string"))?;
            if v.contains("${") {
                return Err(format!(
                    "{what} {k} refers to a variable of the client ({v}); Gatehouse cannot read it"
                ));
            }
            Ok((k.clone(), v.to_owned()))
        })
        .collect()
}

/// What Gatehouse would make of the entry, or why it cannot.
pub fn read_entry(entry: &Value) -> Result<Imported, String> {
    if super::table::is_bridge_entry(entry, None)
        || entry.get("type").and_then(Value::as_str) == Some("sse")
    {
        return Err(match entry.get("type").and_then(Value::as_str) {
            Some("sse") => "a legacy HTTP+SSE server; Gatehouse speaks Streamable HTTP".into(),
            _ => "already goes through Gatehouse".into(),
        });
    }
    if let Some(url) = super::entry_url(entry) {
        let mut headers = pairs(entry.get("headers"), "header")?;
        if let Some(bearer) = entry.get("bearer_token").and_then(Value::as_str) {
            headers.push(("Authorization".into(), format!("Bearer {bearer}")));
        }
        if headers.len() > 1 {
            return Err(format!(
                "it sends {} headers; Gatehouse injects one per connection",
                headers.len()
            ));
        }
        return Ok(Imported::Http {
            url: url.to_owned(),
            header: headers.pop(),
        });
    }
    let Some(program) = entry.get("command").and_then(Value::as_str) else {
        return Err("neither a url nor a command".into());
    };
    Ok(Imported::Stdio {
        program: program.to_owned(),
        args: strings(entry.get("args"))?,
        cwd: entry.get("cwd").and_then(Value::as_str).map(str::to_owned),
        env: pairs(entry.get("env"), "env")?,
    })
}

/// Every server of a config, with what would move.
pub fn candidates(servers: &Map<String, Value>) -> Vec<Candidate> {
    servers
        .iter()
        .map(|(name, entry)| match read_entry(entry) {
            Ok(Imported::Http { header, .. }) => Candidate {
                name: name.clone(),
                kind: "http",
                secrets: header.map(|(n, _)| n).into_iter().collect(),
                refused: None,
            },
            Ok(Imported::Stdio { env, .. }) => Candidate {
                name: name.clone(),
                kind: "stdio",
                secrets: env.into_iter().map(|(n, _)| n).collect(),
                refused: None,
            },
            Err(why) => Candidate {
                name: name.clone(),
                kind: if entry.get("command").is_some() {
                    "stdio"
                } else {
                    "http"
                },
                secrets: Vec::new(),
                refused: Some(why),
            },
        })
        .collect()
}

/// A slug for a server name: lowercase letters, digits and '-', at most 63.
pub fn slug_for(name: &str) -> String {
    let mut slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while slug.contains("--") {
        slug = slug.replace("--", "-");
    }
    let slug: String = slug.trim_matches('-').chars().take(63).collect();
    if slug.is_empty() {
        "server".into()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stdio_entries_carry_their_environment_and_http_entries_one_header() {
        let stdio = read_entry(&json!({
            "command": "npx", "args": ["-y", "@x/server"], "env": {"API_KEY": "sk-1"}
        }))
        .expect("stdio");
        assert_eq!(
            stdio,
            Imported::Stdio {
                program: "npx".into(),
                args: vec!["-y".into(), "@x/server".into()],
                cwd: None,
                env: vec![("API_KEY".into(), "sk-1".into())],
            }
        );
        let http = read_entry(
            &json!({"type": "http", "url": "https://x.example/mcp", "headers": {"X-Key": "k"}}),
        )
        .expect("http");
        assert_eq!(
            http,
            Imported::Http {
                url: "https://x.example/mcp".into(),
                header: Some(("X-Key".into(), "k".into())),
            }
        );
    }

    #[test]
    fn what_gatehouse_cannot_hold_is_refused_with_a_reason() {
        for entry in [
            json!({"url": "https://x", "headers": {"A": "1", "B": "2"}}),
            json!({"command": "x", "env": {"K": "${input:key}"}}),
            json!({"type": "sse", "url": "https://x/sse"}),
            json!({"command": "/usr/bin/gatehoused", "args": ["bridge", "x"]}),
            json!({"nothing": true}),
        ] {
            assert!(read_entry(&entry).is_err(), "{entry}");
        }
    }

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(slug_for("My Server_2"), "my-server-2");
        assert_eq!(slug_for("--"), "server");
        assert_eq!(slug_for("GitHub"), "github");
    }
}
