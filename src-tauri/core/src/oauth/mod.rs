//! OAuth for Gatehouse's two roles (product.md §1).
//!
//! - [`server`]: role 1, the authorization server local MCP clients talk to.

pub mod server;
