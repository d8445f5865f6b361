//! The consent page's [`ToolCatalog`], backed by the proxy's upstream `tools/list` conversation.
//! Lives here, in the composition root, so the authorization server and the proxy stay independent.

use std::sync::Arc;

use crate::oauth::server::tool_catalog::{ToolCatalog, ToolListFuture, ToolSummary};
use crate::oauth::upstream::UpstreamOAuth;
use crate::oauth::upstream::refresh::client_message;
use crate::proxy::{ProxyOptions, catalog::list_upstream_tools_via, upstream_client};
use crate::stdio::StdioHost;
use crate::store::connections::{AuthKind, ConnectionRow};
use crate::vault::Vault;

pub struct UpstreamToolCatalog {
    vault: Vault,
    http: reqwest::Client,
    /// The proxy's upstream OAuth tokens, for OAuth connections.
    oauth: Arc<UpstreamOAuth>,
    stdio: Arc<StdioHost>,
}

impl UpstreamToolCatalog {
    pub fn new(vault: Vault, oauth: Arc<UpstreamOAuth>, stdio: Arc<StdioHost>) -> Self {
        Self {
            vault,
            http: upstream_client(&ProxyOptions::default()),
            oauth,
            stdio,
        }
    }
}

impl ToolCatalog for UpstreamToolCatalog {
    fn list_tools<'a>(&'a self, connection: &'a ConnectionRow) -> ToolListFuture<'a> {
        Box::pin(async move {
            let bearer = if connection.settings.auth_kind == AuthKind::OAuth {
                Some(
                    self.oauth
                        .tokens()
                        .access_token(&connection.id, connection.config_version)
                        .await
                        .map_err(|e| client_message(&connection.name, &e))?,
                )
            } else {
                None
            };
            let tools = list_upstream_tools_via(
                &self.vault,
                &self.stdio,
                &self.http,
                connection,
                bearer.as_ref(),
            )
            .await?;
            Ok(tools
                .into_iter()
                .map(|(name, title, description)| ToolSummary {
                    name,
                    title,
                    description,
                })
                .collect())
        })
    }
}
