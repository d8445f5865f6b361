//! The unauthenticated probe of an MCP URL that tells whether the server wants credentials, and
//! which challenge it sends (MCP 2025-11-25 Authorization §Authorization Server Discovery: a 401
//! with `WWW-Authenticate`; RFC 9728 §5.1). Servers of both protocol eras are asked in their own
//! shape: a legacy `initialize` first (then `tools/list` in its session), and, when that is refused
//! with 400, a 2026-07-28 `server/discover` and `tools/list` (MCP 2026-07-28 basic/versioning
//! §Backward Compatibility). [`super::discovery`] and [`super::detection`] read the answer.

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::json;

use super::discovery::{
    Challenge, DiscoveryError, MAX_METADATA_BYTES, bearer_challenge, parse_challenges,
};
use crate::net::outbound::{Body, Outbound, OutboundError};

/// What the unauthenticated probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// 401: the upstream wants credentials (OAuth or not: see [`super::detection::detect`]); the `Bearer` challenge's
    /// parameters, empty when there is none.
    Unauthorized {
        challenge: Challenge,
        /// The auth schemes of every `WWW-Authenticate` challenge (`Bearer`, `Basic` ...).
        schemes: Vec<String>,
    },
    /// The upstream answered without credentials.
    Open,
    /// Anything else (403, 404, 5xx ...).
    Other(u16),
}

/// Sends the unauthenticated probe.
pub async fn probe(policy: &Outbound, mcp_url: &str) -> Result<Probe, DiscoveryError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    let body = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "Gatehouse", "version": env!("CARGO_PKG_VERSION")}}
    });
    let probe_policy = Outbound {
        max_bytes: MAX_METADATA_BYTES,
        ..*policy
    };
    let fetched = probe_policy
        .send(Method::POST, mcp_url, headers, Body::Json(&body))
        .await;
    let fetched = match fetched {
        Ok(f) => f,
        // A streaming success may exceed the cap: it still answered without credentials.
        Err(OutboundError::TooLarge(_)) => return Ok(Probe::Open),
        Err(source) => {
            return Err(DiscoveryError::Outbound {
                what: "probing the MCP URL",
                source,
            });
        }
    };
    Ok(match fetched.status {
        StatusCode::UNAUTHORIZED => Probe::Unauthorized {
            challenge: bearer_challenge(&fetched.headers).unwrap_or_default(),
            schemes: challenge_schemes(&fetched.headers),
        },
        s if s.is_success() => probe_tools_list(&probe_policy, mcp_url, &fetched.headers).await,
        StatusCode::BAD_REQUEST => probe_modern(&probe_policy, mcp_url)
            .await
            .unwrap_or(Probe::Other(400)),
        s => Probe::Other(s.as_u16()),
    })
}

/// A 2026-07-28-only server refuses the legacy `initialize` with 400 (-32022, MCP 2026-07-28
/// basic/versioning §Backward Compatibility: "Legacy client, Modern server: fails"), which says
/// nothing about sign-in. So the probe asks again as a modern client: `server/discover`, then
/// `tools/list`, each with the per-request `_meta` and the `MCP-Protocol-Version` and `Mcp-Method`
/// headers (Streamable HTTP §Standard Request Headers). A 401 to either is the answer; an answered
/// pair means open; anything else leaves the 400 standing (`None`).
async fn probe_modern(policy: &Outbound, mcp_url: &str) -> Option<Probe> {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "Gatehouse", "version": env!("CARGO_PKG_VERSION")},
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    for (id, method) in [(0, "server/discover"), (1, "tools/list")] {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        headers.insert(
            http::HeaderName::from_static("mcp-protocol-version"),
            HeaderValue::from_static("2026-07-28"),
        );
        headers.insert(
            http::HeaderName::from_static("mcp-method"),
            HeaderValue::from_static(method),
        );
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {"_meta": meta}});
        let answer = match policy
            .send(Method::POST, mcp_url, headers, Body::Json(&body))
            .await
        {
            Ok(answer) => answer,
            Err(OutboundError::TooLarge(_)) if method == "tools/list" => return Some(Probe::Open),
            Err(_) => return None,
        };
        match answer.status {
            StatusCode::UNAUTHORIZED => {
                return Some(Probe::Unauthorized {
                    challenge: bearer_challenge(&answer.headers).unwrap_or_default(),
                    schemes: challenge_schemes(&answer.headers),
                });
            }
            s if s.is_success() => {}
            _ => return None,
        }
    }
    Some(Probe::Open)
}

/// Some servers answer `initialize` without credentials and ask for a token only from the next
/// request on (MCP Authorization: authorization may be required per request). So after an open
/// `initialize`, the probe sends `notifications/initialized` and `tools/list` in that session; a 401
/// there is the answer. Anything else (or a failure to ask) leaves the server open.
async fn probe_tools_list(policy: &Outbound, mcp_url: &str, initialized: &HeaderMap) -> Probe {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    headers.insert(
        http::HeaderName::from_static("mcp-protocol-version"),
        HeaderValue::from_static("2025-06-18"),
    );
    if let Some(session) = initialized.get("mcp-session-id") {
        headers.insert(
            http::HeaderName::from_static("mcp-session-id"),
            session.clone(),
        );
    }
    let notification = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let _ = policy
        .send(
            Method::POST,
            mcp_url,
            headers.clone(),
            Body::Json(&notification),
        )
        .await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    match policy
        .send(Method::POST, mcp_url, headers, Body::Json(&list))
        .await
    {
        Ok(answer) if answer.status == StatusCode::UNAUTHORIZED => Probe::Unauthorized {
            challenge: bearer_challenge(&answer.headers).unwrap_or_default(),
            schemes: challenge_schemes(&answer.headers),
        },
        _ => Probe::Open,
    }
}

/// The scheme names of every challenge, as tokens of at most 20 letters (they are shown).
fn challenge_schemes(headers: &HeaderMap) -> Vec<String> {
    let mut schemes: Vec<String> = Vec::new();
    for (scheme, _) in headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_challenges)
    {
        let clean: String = scheme
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(20)
            .collect();
        if !clean.is_empty() && !schemes.iter().any(|s| s.eq_ignore_ascii_case(&clean)) {
            schemes.push(clean);
        }
    }
    schemes
}
