//! What the consent page asks of an upstream: the list of its tools, so the person can choose which ones
//! a client may use.
//!
//! The authorization endpoint depends only on the [`ToolCatalog`] trait; the proxy provides the real
//! implementation (an MCP `tools/list` against the upstream with the connection's credentials). When the
//! list cannot be loaded the consent page says so and an approval allows every tool.

use std::future::Future;
use std::pin::Pin;

use crate::store::connections::ConnectionRow;

/// One tool as the consent page shows it. Every field is upstream-reported text and is HTML-escaped
/// when rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSummary {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
}

/// The future returned by [`ToolCatalog::list_tools`].
pub type ToolListFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<ToolSummary>, String>> + Send + 'a>>;

/// Lists a connection's upstream tools. The error string is shown to the person on the consent page,
/// so it must say what went wrong in plain words and never carry a secret.
pub trait ToolCatalog: Send + Sync {
    fn list_tools<'a>(&'a self, connection: &'a ConnectionRow) -> ToolListFuture<'a>;
}

/// The catalog used until the proxy's upstream catalog is wired in: it never lists tools, so the
/// consent page offers "all tools" (the grant's allow-list stays NULL).
#[derive(Debug, Clone, Copy, Default)]
pub struct UnavailableToolCatalog;

impl ToolCatalog for UnavailableToolCatalog {
    fn list_tools<'a>(&'a self, _connection: &'a ConnectionRow) -> ToolListFuture<'a> {
        Box::pin(async { Err(String::from("the upstream tool list is not available yet")) })
    }
}

/// A fixed answer, for tests.
#[derive(Debug, Clone)]
pub struct FixedToolCatalog(pub Result<Vec<ToolSummary>, String>);

impl ToolCatalog for FixedToolCatalog {
    fn list_tools<'a>(&'a self, _connection: &'a ConnectionRow) -> ToolListFuture<'a> {
        let answer = self.0.clone();
        Box::pin(async move { answer })
    }
}
