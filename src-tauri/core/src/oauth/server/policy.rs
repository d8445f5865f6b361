//! Gatehouse's own scopes and lifetimes as an authorization server.
//!
//! Scopes are Gatehouse's, separate from any upstream scope (those stay private to role 2). There is
//! one resource scope, [`SCOPE_MCP_ACCESS`]: "use this connection's tools, resources and prompts",
//! narrowed per grant by the tool allow-list the person picks on the consent page. `offline_access`
//! is accepted for clients that ask for refresh tokens that way; it is never put in a challenge or in
//! the protected resource metadata (MCP 2026-07-28 authorization §Refresh Tokens).

use crate::clock::{DAY, MINUTE, SECOND, UnixMillis};

/// Full use of one connection (one resource), within the grant's tool allow-list.
pub const SCOPE_MCP_ACCESS: &str = "mcp:access";
/// Asks for a refresh token (OpenID Connect Core §11); refresh tokens are issued to every client
/// that registered the `refresh_token` grant type anyway.
pub const SCOPE_OFFLINE_ACCESS: &str = "offline_access";

/// What the AS metadata lists in `scopes_supported`.
pub const SUPPORTED_SCOPES: &[&str] = &[SCOPE_MCP_ACCESS, SCOPE_OFFLINE_ACCESS];
/// What the protected resource metadata and the 401 challenge list: the minimal baseline.
pub const RESOURCE_SCOPES: &[&str] = &[SCOPE_MCP_ACCESS];

/// Access tokens: opaque, checked against the store on every request (a revoke works at once).
pub const ACCESS_TOKEN_TTL: UnixMillis = 60 * MINUTE;
/// Refresh tokens expire after this long without use; every refresh rotates them.
pub const REFRESH_TOKEN_IDLE_TTL: UnixMillis = 30 * DAY;
/// Authorization codes: one use, short-lived (OAuth 2.1 §4.1.2 recommends at most 10 minutes).
pub const AUTHORIZATION_CODE_TTL: UnixMillis = 60 * SECOND;
/// How long a consent page stays valid.
pub const AUTHORIZATION_REQUEST_TTL: UnixMillis = 10 * MINUTE;
/// A refresh token presented again within this window after its rotation is treated as a race of
/// the same client (it gets the same new pair) rather than as theft (which revokes the grant).
pub const REFRESH_REUSE_GRACE: UnixMillis = 10 * SECOND;
