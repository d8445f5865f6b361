//! Forwarding on `/mcp/<slug>`: Streamable HTTP, both eras (MCP 2025-11-25 and 2026-07-28
//! transports). This module takes the client's request apart and builds the upstream one;
//! [`super::upstream`] knows where it goes and which credential it carries, and [`super::relay`]
//! sends it and streams the answer back. One submodule per HTTP method of the MCP endpoint:
//!
//! * [`post`]: a client's messages (MCP 2025-11-25 transports §Sending Messages to the Server;
//!   2026-07-28 Streamable HTTP): the checks, the tool allow-list and the era bridge.
//! * [`listen`]: `GET`, the legacy-era stream the server may send on (MCP 2025-11-25 transports
//!   §Listening for Messages from the Server).
//! * [`end_session`]: `DELETE`, a client ending its legacy-era session (MCP 2025-11-25 transports
//!   §Session Management).
//!
//! This module keeps what they share: the header allow-list, the bearer guard, the session
//! translation and the [`Exchange`] handed to the response side.
//!
//! * **Outbound headers come from an allow-list**: `Content-Type`, `Accept`, `MCP-Protocol-Version`,
//!   `Last-Event-ID`, and the 2026-07-28 `Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`. The session id is
//!   translated ([`super::sessions`]). Nothing else passes: not the client's `Authorization` (no token
//!   passthrough), not `Cookie`, not hop-by-hop headers. The connection's own credential is injected.
//! * **Responses stream** as they arrive (`Body::from_stream` over reqwest's byte stream); only a JSON
//!   `tools/list` response under a tool allow-list is buffered, with a bound, to be filtered. Status,
//!   `Content-Type`, `MCP-Protocol-Version` and the translated session id pass back; upstream
//!   `WWW-Authenticate` and `Set-Cookie` never do. SSE responses get `X-Accel-Buffering: no` and
//!   `Cache-Control: no-cache`, and end when the grant is revoked.
//! * **Upstream trouble is a JSON-RPC error**, never an HTTP 401/403 (that would restart the client's
//!   OAuth with Gatehouse): unreachable, no response start within the timeout,
//!   a redirect (never followed: it would carry the credential elsewhere), 401/403 (the connection is
//!   marked `error` so the app shows it), 5xx.
//! * **One parse, the same bytes**: the body is parsed once ([`super::jsonrpc::parse_body`]), an
//!   object that names a member twice is refused with 400 / -32600 (a repeated `"method"` or
//!   `"name"` would let the tool filter and the upstream read different messages), and the client's
//!   bytes are forwarded unchanged.
//! * **Eras**: a POST whose body has `params._meta["io.modelcontextprotocol/protocolVersion"]` is
//!   2026-07-28 and stateless: its `Mcp-Session-Id` and `Last-Event-ID` are ignored and no session
//!   id is minted or echoed for it (Streamable HTTP §Earlier Streamable HTTP Revisions).
//!   `Mcp-Method` and `Mcp-Name` are required only there, but when a request of any era sends them
//!   they must agree with the body ([`super::modern::routing_headers`]): they go upstream, so they
//!   must not name another method or tool. JSON-RPC batches pass on 2025-03-26 sessions only, each
//!   member checked and each listed response filtered ([`super::batch`]).

use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde_json::Value;

use super::Proxy;
use super::bearer::{self, Authorized};
use super::filter::ToolAllowList;
use super::sessions::Session;

mod end_session;
mod listen;
mod post;

pub use end_session::delete;
pub use listen::get;
pub use post::post;

pub const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
pub const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
pub(super) const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// Protocol versions a legacy request may name (MCP-Protocol-Version; any other is a 400, 2025-11-25
/// transports).
pub const KNOWN_VERSIONS: &[&str] = &[
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// What to tell a client whose upstream rejected Gatehouse's credentials.
pub const UPSTREAM_REJECTED: &str =
    "the upstream rejected Gatehouse's credentials: open Gatehouse and check the connection";
/// What to tell a client calling a tool its grant does not include.
pub const TOOL_NOT_ALLOWED: &str =
    "tool not allowed for this client; open Gatehouse to change its access";

/// Whether `Accept` admits `media` (`type/sub`, `type/*` or `*/*`).
fn accepts(headers: &HeaderMap, media: &str) -> bool {
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value.split(',').any(|range| {
                let range = range.split(';').next().unwrap_or("").trim();
                range.eq_ignore_ascii_case(media)
                    || range == "*/*"
                    || range
                        .strip_suffix("/*")
                        .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
        })
    })
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The allow-listed request headers (no token passthrough, MCP security best practices §Token
/// Passthrough).
fn outbound_headers(inbound: &HeaderMap, modern: bool) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(8);
    for (name, value) in inbound {
        let n = name.as_str();
        let pass = match n {
            "content-type" | "accept" | "mcp-protocol-version" => true,
            "last-event-id" => !modern,
            "mcp-method" | "mcp-name" => true,
            _ => n.starts_with("mcp-param-"),
        };
        if pass {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

fn session_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(MCP_SESSION_ID).and_then(|v| v.to_str().ok())
}

/// Runs the bearer guard, or answers with its challenge.
async fn guard(proxy: &Proxy, headers: &HeaderMap, slug: &str) -> Result<Authorized, Response> {
    match bearer::authorize(proxy.vault.store(), &proxy.tokens, headers, slug).await {
        Ok(ok) => {
            proxy
                .usage
                .record(&ok.token.grant_id, proxy.vault.store().now());
            Ok(ok)
        }
        Err(denial) => Err(denial.into_response(&proxy.local.addressed_base_url(headers))),
    }
}

/// Everything the response side needs to know about the request.
pub(super) struct Exchange {
    pub(super) authorized: Authorized,
    /// The JSON-RPC id to answer errors for (POST requests only).
    pub(super) id: Option<Value>,
    /// The local session id the client sent (legacy, known).
    pub(super) local_session: Option<String>,
    /// Whether a session id from the upstream may be handed to the client (legacy only).
    pub(super) sessions_allowed: bool,
    /// Filter the `tools/list` responses with these ids.
    pub(super) tools_list: Option<(ToolAllowList, Vec<Value>)>,
    /// The request is an `initialize` declaring URL-mode elicitation: the session it opens
    /// remembers that.
    pub(super) url_elicitation: bool,
    /// Keep reading the upstream's answer when the client goes away: a legacy-era POST, where a
    /// disconnect is not a cancellation (2025-11-25 transports: the client sends
    /// `notifications/cancelled` to cancel). A 2026-07-28 request's closed stream IS its
    /// cancellation, and a GET stream has nothing to finish.
    pub(super) outlive_client: bool,
}

/// The local session for a legacy request, or 404 for an unknown one / another grant's.
fn translate_session(
    proxy: &Proxy,
    headers: &HeaderMap,
    authorized: &Authorized,
) -> Result<Option<Session>, StatusCode> {
    let Some(local) = session_header(headers) else {
        return Ok(None);
    };
    proxy
        .sessions
        .find(
            local,
            &authorized.token.grant_id,
            &authorized.token.connection_id,
        )
        .map(Some)
        .ok_or(StatusCode::NOT_FOUND)
}

fn set_session(headers: &mut HeaderMap, upstream: &str) -> Result<(), StatusCode> {
    let value = HeaderValue::from_str(upstream).map_err(|_| StatusCode::NOT_FOUND)?;
    headers.insert(MCP_SESSION_ID, value);
    Ok(())
}

#[cfg(test)]
mod tests;
