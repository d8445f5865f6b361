//! What Gatehouse knows of a 2026-07-28 upstream's tools: the `x-mcp-header` annotations of each
//! (MCP 2026-07-28 Streamable HTTP §Custom Headers from Tool Parameters), read from the upstream's
//! own `tools/list` as Gatehouse, once per connection configuration, and read again when the
//! upstream says the headers were wrong (-32020; §Client Behavior: "call tools/list to check for
//! changes to the tool's inputSchema, then retry"). Tools whose annotations are invalid are left out
//! (§Schema Extension: a client "MUST exclude the invalid tool").
//!
//! Two uses: the bridge builds a legacy client's `Mcp-Param-*` headers from them
//! ([`super::bridge::to_modern`]), and a 2026-07-28 client's `tools/call` is checked against them
//! before it goes upstream ([`check`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use secrecy::SecretString;
use serde_json::{Value, json};

use super::Proxy;
use super::era;
use super::own_call;
use super::param_headers::{self, Annotation};
use super::upstream::Upstream;
use crate::store::ConnectionId;

/// Most `tools/list` pages read.
const MAX_PAGES: usize = 50;

/// What one read of an upstream's `tools/list` found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Tool name → its `x-mcp-header` annotations (possibly none).
    valid: HashMap<String, Vec<Annotation>>,
    /// Tools listed with invalid annotations: never offered.
    invalid: Arc<HashSet<String>>,
}

/// The `x-mcp-header` annotations of each tool of a connection, per configuration version.
#[derive(Debug, Default)]
pub struct ToolAnnotations {
    map: RwLock<HashMap<ConnectionId, (i64, Arc<Listing>)>>,
}

impl ToolAnnotations {
    pub(crate) fn cached(&self, upstream: &Upstream) -> Option<Arc<Listing>> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&upstream.connection_id)
            .filter(|(v, _)| *v == upstream.config_version)
            .map(|(_, tools)| tools.clone())
    }

    /// The annotations of `tool` (`None`: the upstream does not list it, or lists it with invalid
    /// annotations), from the cache or, when there is none or `fresh`, a `tools/list` of the
    /// upstream.
    pub(crate) async fn of(
        &self,
        proxy: &Proxy,
        upstream: &Upstream,
        bearer: Option<&SecretString>,
        tool: &str,
        fresh: bool,
    ) -> Option<Vec<Annotation>> {
        self.listing(proxy, upstream, bearer, fresh)
            .await
            .valid
            .get(tool)
            .cloned()
    }

    /// The tools the upstream lists with invalid annotations.
    pub(crate) async fn invalid(
        &self,
        proxy: &Proxy,
        upstream: &Upstream,
        bearer: Option<&SecretString>,
    ) -> Arc<HashSet<String>> {
        self.listing(proxy, upstream, bearer, false)
            .await
            .invalid
            .clone()
    }

    async fn listing(
        &self,
        proxy: &Proxy,
        upstream: &Upstream,
        bearer: Option<&SecretString>,
        fresh: bool,
    ) -> Arc<Listing> {
        match self.cached(upstream).filter(|_| !fresh) {
            Some(tools) => tools,
            None => {
                let tools = Arc::new(list_annotations(proxy, upstream, bearer).await);
                self.map
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(
                        upstream.connection_id.clone(),
                        (upstream.config_version, tools.clone()),
                    );
                tools
            }
        }
    }

    pub fn forget(&self, connection: &ConnectionId) {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(connection);
    }
}

/// Reads every page of the upstream's `tools/list` as Gatehouse; tools whose annotations are
/// invalid are left out (a call to them goes without `Mcp-Param-*` and the upstream judges it).
async fn list_annotations(
    proxy: &Proxy,
    upstream: &Upstream,
    bearer: Option<&SecretString>,
) -> Listing {
    let mut tools = HashMap::new();
    let mut invalid = HashSet::new();
    let mut cursor: Option<String> = None;
    for page in 0..MAX_PAGES {
        let mut params =
            json!({ "_meta": era::modern_envelope(&era::gatehouse_client_info(), &json!({})) });
        if let (Some(c), Some(map)) = (&cursor, params.as_object_mut()) {
            map.insert("cursor".into(), json!(c));
        }
        let request = json!({
            "jsonrpc": "2.0", "id": format!("gatehouse-tools-{page}"),
            "method": "tools/list", "params": params,
        });
        let reply = own_call::call(
            proxy,
            upstream,
            bearer,
            era::modern_headers("tools/list"),
            &request,
        )
        .await;
        let Some(result) = reply
            .ok()
            .and_then(|r| r.message)
            .and_then(|m| m.get("result").cloned())
        else {
            break;
        };
        for definition in result
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(schema)) = (
                definition.get("name").and_then(Value::as_str),
                definition.get("inputSchema"),
            ) else {
                continue;
            };
            match param_headers::annotations(schema) {
                Ok(found) => {
                    tools.insert(name.to_owned(), found);
                }
                Err(why) => {
                    tracing::warn!(tool = name, reason = %why, "tool definition refused");
                    invalid.insert(name.to_owned());
                }
            }
        }
        cursor = result
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    Listing {
        valid: tools,
        invalid: Arc::new(invalid),
    }
}
