//! The consent page's [`ToolCatalog`], backed by the proxy's upstream `tools/list` conversation.
//! Lives here, in the composition root, so the authorization server and the proxy stay independent.

use crate::oauth::server::tool_catalog::{ToolCatalog, ToolListFuture, ToolSummary};
use crate::proxy::{ProxyOptions, catalog::list_upstream_tools, upstream_client};
use crate::store::connections::ConnectionRow;
use crate::vault::Vault;

pub struct UpstreamToolCatalog {
    vault: Vault,
    http: reqwest::Client,
}

impl UpstreamToolCatalog {
    pub fn new(vault: Vault) -> Self {
        Self {
            vault,
            http: upstream_client(&ProxyOptions::default()),
        }
    }
}

impl ToolCatalog for UpstreamToolCatalog {
    fn list_tools<'a>(&'a self, connection: &'a ConnectionRow) -> ToolListFuture<'a> {
        Box::pin(async move {
            let tools = list_upstream_tools(&self.vault, &self.http, connection).await?;
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
