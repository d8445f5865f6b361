//! Role 1: Gatehouse as the OAuth 2.1 authorization server of local MCP clients.
//!
//! These modules are the pure protocol building blocks (no store, no clock, no I/O): what a registration,
//! an authorization request and a token request must look like, and how errors go back on the wire. The
//! endpoints compose them with the store.
//!
//! - [`redirect_uri`]: registration policy and matching of redirect URIs (OAuth 2.1 §2.3, RFC 8252 §7).
//! - [`pkce`]: S256 code challenges and verifiers (RFC 7636, OAuth 2.1 §4.1.1, §4.1.3).
//! - [`resource`]: the `resource` parameter and the connection it names (RFC 8707 §2).
//! - [`error`]: protocol error bodies and authorization-response redirects (RFC 6749 §4.1.2, §5.2, RFC 9207).
//! - [`client_metadata`]: Dynamic Client Registration request validation (RFC 7591 §2, §3.2).
//! - [`policy`]: Gatehouse's scopes and token lifetimes.
//!
//! The endpoints: [`routes::router`] mounts [`metadata`] (RFC 8414, RFC 9728), [`register`] (RFC 7591),
//! [`token`] and [`revoke`] (RFC 7009), with [`cors`] for loopback origins; [`form`] and [`issue`] are
//! their shared request parsing and token minting.
//! [`authorize`]: `GET /authorize` (OAuth 2.1 §4.1.1) up to the consent page; [`decision`]: the consent
//!   form's `POST /authorize/decision`; [`consent_page`]: their HTML; [`cimd`]: Client ID Metadata
//! Documents; [`tool_catalog`]: the upstream tool list the consent page offers.

pub mod authorize;
pub mod cimd;
pub mod client_metadata;
pub mod consent_cookie;
pub mod consent_page;
pub mod cors;
pub mod decision;
pub mod error;
pub mod form;
pub mod issue;
pub mod metadata;
pub mod pkce;
pub mod policy;
pub mod redirect_uri;
pub mod register;
pub mod resource;
pub mod review;
pub mod revoke;
pub mod routes;
pub mod token;
pub mod tool_catalog;

#[cfg(test)]
mod authorize_tests;
#[cfg(test)]
mod endpoint_tests;
