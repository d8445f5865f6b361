//! Auto-detection for adding a connection: how an upstream wants Gatehouse to sign in, from an
//! unauthenticated probe ([`super::discovery::probe`]). A 401 alone does not mean OAuth (an API-key
//! server answers 401 too): it is OAuth only with protected resource metadata in sight, named by
//! the challenge (RFC 9728 §5.1), found at the RFC 9728 §3.1 well-knowns, or, for a connection with
//! the 2025-03-26 opt-in, the legacy fallback. Anything else that wants credentials is most likely
//! a header.

use url::Url;

use super::discovery::{
    Challenge, DiscoveryError, Probe, get_json, probe, resource_metadata_urls, strings,
};
use crate::net::outbound::Outbound;

/// What auto-detection concluded about an upstream (module docs, step 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    /// OAuth, and how Gatehouse knows.
    OAuth(OAuthEvidence),
    /// 401 (or 403) without any protected resource metadata: the upstream wants credentials but
    /// not through OAuth, most likely an API key in a header. `schemes`: what its challenges named.
    Credentials { status: u16, schemes: Vec<String> },
    /// It answered without credentials.
    Open,
    /// Another status: Gatehouse cannot tell.
    Other(u16),
}

/// Why [`Detected::OAuth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthEvidence {
    /// The 401's `resource_metadata` names the protected resource metadata (RFC 9728 §5.1).
    Challenge,
    /// Protected resource metadata listing an authorization server sits at this well-known URL.
    WellKnown(String),
    /// No metadata, but the connection opted in to the 2025-03-26 fallback (module docs, step 4).
    Legacy,
}

/// Auto-detection for adding a connection: the probe, then (after a 401) a look for protected
/// resource metadata at the well-knowns. `legacy`: the connection's 2025-03-26 opt-in.
pub async fn detect(
    policy: &Outbound,
    mcp_url: &str,
    legacy: bool,
) -> Result<Detected, DiscoveryError> {
    let (challenge, status, schemes) = match probe(policy, mcp_url).await? {
        Probe::Unauthorized { challenge, schemes } => (challenge, 401, schemes),
        Probe::Other(403) => (Challenge::default(), 403, Vec::new()),
        Probe::Open => return Ok(Detected::Open),
        Probe::Other(status) => return Ok(Detected::Other(status)),
    };
    if status == 401 && challenge.resource_metadata.is_some() {
        return Ok(Detected::OAuth(OAuthEvidence::Challenge));
    }
    let url = Url::parse(mcp_url).map_err(|_| DiscoveryError::InvalidUrl)?;
    for candidate in resource_metadata_urls(&url, None) {
        let found = get_json(
            policy,
            &candidate,
            "fetching the protected resource metadata",
        )
        .await?;
        if found.is_some_and(|prm| !strings(&prm, "authorization_servers").is_empty()) {
            return Ok(Detected::OAuth(OAuthEvidence::WellKnown(candidate)));
        }
    }
    if legacy && status == 401 {
        return Ok(Detected::OAuth(OAuthEvidence::Legacy));
    }
    Ok(Detected::Credentials { status, schemes })
}

impl Detected {
    /// What the detection found, in a sentence the window and the command line show.
    pub fn finding(&self) -> String {
        match self {
            Self::OAuth(OAuthEvidence::Challenge) => "The server asks for OAuth sign-in: its 401 \
                 answer names its protected resource metadata."
                .to_owned(),
            Self::OAuth(OAuthEvidence::WellKnown(url)) => format!(
                "The server asks for OAuth sign-in: it publishes protected resource metadata at {url}."
            ),
            Self::OAuth(OAuthEvidence::Legacy) => {
                "The server asks for OAuth sign-in: it publishes \
                 no protected resource metadata, so Gatehouse uses the 2025-03-26 fallback you \
                 turned on (the authorization server at the URL's origin)."
                    .to_owned()
            }
            Self::Credentials { status, schemes } => {
                let named = if schemes.is_empty() {
                    String::new()
                } else {
                    format!(", asking for {}", schemes.join(" or "))
                };
                format!(
                    "The server refused a request without credentials (HTTP {status}{named}) but \
                     publishes no OAuth metadata: it most likely takes an API key or token in a \
                     header. If it is an older (2025-03-26) MCP server that signs in with OAuth \
                     without metadata, use the legacy discovery fallback (--legacy-oauth)."
                )
            }
            Self::Open => {
                "The server answered without credentials: it needs no sign-in.".to_owned()
            }
            Self::Other(status) => format!(
                "The server answered HTTP {status} without credentials, which says nothing about \
                 how it signs in: check the URL, or choose the sign-in yourself."
            ),
        }
    }
}
