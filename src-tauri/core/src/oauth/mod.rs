//! OAuth for Gatehouse's two roles.
//!
//! - [`server`]: role 1, the authorization server local MCP clients talk to.
//! - [`upstream`]: role 2, the OAuth client Gatehouse is toward upstream MCP servers.

pub mod server;
pub mod upstream;
