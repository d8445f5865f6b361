//! CORS for loopback origins on the authorization server's routes (RFC 8414 metadata, RFC 7591
//! registration, RFC 6749 token and RFC 7009 revocation endpoints), so that a browser-based local
//! client such as the MCP Inspector can use them; no other origin gets CORS.
//!
//! Built on tower-http's [`CorsLayer`] (the Fetch standard's CORS protocol: preflight answered
//! before any handler, `Vary` set). The gateway's guard has already refused any request whose
//! `Origin` is not loopback (403), so here an `Origin` is either absent (native clients: no CORS
//! headers) or loopback, which is echoed in `Access-Control-Allow-Origin` (never `*`). No
//! credentials are allowed: these endpoints use none (public clients, no cookies).

use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderName, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::net::loopback::is_loopback_origin;

/// The MCP SDK's protocol-version header, sent on discovery requests.
const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The layer; see the module docs.
pub fn loopback_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin, _| {
            origin.to_str().is_ok_and(is_loopback_origin)
        }))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        // What browser clients send: JSON / form bodies, a bearer, the protocol version.
        .allow_headers([CONTENT_TYPE, AUTHORIZATION, MCP_PROTOCOL_VERSION])
        .expose_headers([RETRY_AFTER])
        .max_age(PREFLIGHT_MAX_AGE)
}
