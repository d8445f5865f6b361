//! Finding the upstream's authorization server (RFC 9728, RFC 8414, OpenID Connect Discovery).
//!
//! 1. **Probe** ([`super::probe`]): an unauthenticated `initialize` POST to the MCP URL (and, when
//!    that is answered, `notifications/initialized` and `tools/list` in its session, for servers that
//!    ask for a token only from there on; when it is refused with 400, the same as a 2026-07-28
//!    client: `server/discover` and `tools/list`). A 401 means credentials are
//!    needed; its `WWW-Authenticate` (several challenges may be present) gives the `Bearer`
//!    parameters `resource_metadata`, `scope` and `error` ([`parse_challenges`]). A 401 alone does
//!    not mean OAuth: an API-key server answers 401 too. [`super::detection`] (the
//!    add-a-connection auto-detection) calls it OAuth only with protected resource metadata in
//!    sight: named by the challenge, found at the well-knowns of step 2, or, for a connection with
//!    the legacy opt-in, the 2025-03-26 fallback of step 4. Anything else that wants credentials is
//!    a header.
//! 2. **Protected Resource Metadata** (RFC 9728): exactly the `resource_metadata` URL when present,
//!    else `/.well-known/oauth-protected-resource/<mcp-path>`, else the root well-known. Its `resource`
//!    must cover the MCP URL ([`covers`]): the URL itself, or its origin or a path prefix of it,
//!    which is what the root well-known legitimately names (RFC 9728 §3.3); never another origin
//!    (§7.3). The `resource` Gatehouse then sends (RFC 8707) is the one the document named, as the
//!    MCP SDKs do, so the authorization server sees the identifier it published.
//! 3. **AS metadata**: RFC 8414 path-inserted → OpenID path-inserted → OpenID appended (for an issuer
//!    without a path: the two root well-knowns). The document's `issuer` must be identical to the
//!    issuer the URL was built from (RFC 8414 §3.3), `code_challenge_methods_supported` must list
//!    `S256`, and the authorization endpoint must be https (or http to loopback for a local upstream):
//!    a `javascript:` or `file:` endpoint is never opened.
//!
//! 4. **Legacy fallback** (only when the connection opted in): an upstream that asks for OAuth but
//!    publishes no PRM and names none in its challenge is treated as a 2025-03-26 server; see
//!    [`super::legacy`].
//!
//! Every fetch goes through [`crate::net::outbound`]. Results are cached for [`CACHE_TTL`] keyed by
//! (MCP URL, `config_version`), so a material change of the connection starts afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::Value;
use url::Url;

use crate::clock::{MINUTE, UnixMillis};
use crate::net::outbound::{Body, Outbound, OutboundError};

pub use super::probe::{Probe, probe};

/// How long a discovery result is reused.
pub const CACHE_TTL: UnixMillis = 5 * MINUTE;
/// Largest metadata document accepted.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Why discovery failed. Shown to the user; never contains a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the MCP URL is not valid")]
    InvalidUrl,
    #[error("{what}: {source}")]
    Outbound {
        what: &'static str,
        source: OutboundError,
    },
    #[error("the upstream answered HTTP {0} without asking for OAuth")]
    NotOAuth(u16),
    #[error(
        "the upstream publishes no protected resource metadata (RFC 9728); if it is an older \
         (2025-03-26) MCP server, turn on the legacy discovery fallback for this connection \
         (`gatehoused connections edit SLUG --auth oauth --legacy-oauth`, or `--legacy-oauth` on \
         `connections add`; in the window: Edit, OAuth options)"
    )]
    NoResourceMetadata,
    #[error("the protected resource metadata names another resource ({0}); it was not used")]
    ResourceMismatch(String),
    #[error("the protected resource metadata lists no authorization server")]
    NoAuthorizationServer,
    #[error("no authorization server metadata was found for {0}")]
    NoServerMetadata(String),
    #[error("the authorization server metadata's issuer does not match {0}; it was not used")]
    IssuerMismatch(String),
    #[error(
        "the authorization server does not support PKCE with S256; Gatehouse will not sign in to it"
    )]
    NoS256,
    #[error("the authorization server metadata is invalid: {0}")]
    Invalid(&'static str),
    #[error("the authorization server's {0} is not an https URL; Gatehouse will not use it")]
    UnsafeEndpoint(&'static str),
}

/// The `Bearer` parameters of a 401 challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    pub resource_metadata: Option<String>,
    pub scope: Option<String>,
    pub error: Option<String>,
}

/// RFC 8414 / OpenID metadata, the fields Gatehouse uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub registration_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub scopes_supported: Vec<String>,
    /// RFC 9207 `authorization_response_iss_parameter_supported`.
    pub iss_supported: bool,
    pub token_endpoint_auth_methods: Vec<String>,
    /// `client_id_metadata_document_supported`: the AS accepts an https URL as a client id and
    /// fetches the client's metadata from it (see [`super::registration`]).
    pub client_id_metadata_document_supported: bool,
}

/// Everything discovery found for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The canonical resource (RFC 8707) to send on authorize, token and refresh.
    pub resource: String,
    pub metadata: ServerMetadata,
    /// `scope` from the 401 challenge.
    pub challenged_scope: Option<String>,
    /// The PRM's `scopes_supported`.
    pub resource_scopes: Vec<String>,
}

/// Parses `WWW-Authenticate` values into challenges: `(scheme, [(param, value)])`.
pub fn parse_challenges(value: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let bytes = value.as_bytes();
    let mut i = 0;
    let is_sep = |b: u8| b == b' ' || b == b'\t' || b == b',';
    while i < bytes.len() {
        while i < bytes.len() && is_sep(bytes[i]) {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !is_sep(bytes[i]) && bytes[i] != b'=' {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let token = &value[start..i];
        let mut j = i;
        while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'=' {
            // A parameter of the current challenge.
            j += 1;
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
                j += 1;
            }
            let mut v = String::new();
            if j < bytes.len() && bytes[j] == b'"' {
                j += 1;
                while j < bytes.len() && bytes[j] != b'"' {
                    if bytes[j] == b'\\' && j + 1 < bytes.len() {
                        j += 1;
                    }
                    let ch = value[j..].chars().next().unwrap_or(' ');
                    v.push(ch);
                    j += ch.len_utf8();
                }
                j += 1;
            } else {
                let s = j;
                while j < bytes.len() && !is_sep(bytes[j]) {
                    j += 1;
                }
                v.push_str(&value[s..j]);
            }
            if let Some((_, params)) = out.last_mut() {
                params.push((token.to_ascii_lowercase(), v));
            }
            i = j;
        } else {
            out.push((token.to_owned(), Vec::new()));
            i = j;
        }
    }
    out
}

/// The `Bearer` challenge among the response's `WWW-Authenticate` headers.
pub fn bearer_challenge(headers: &HeaderMap) -> Option<Challenge> {
    headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_challenges)
        .find(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, params)| {
            let get = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            Challenge {
                resource_metadata: get("resource_metadata"),
                scope: get("scope").filter(|s| !s.trim().is_empty()),
                error: get("error"),
            }
        })
}

/// The canonical form of a resource URI (RFC 8707 §2; MCP 2026-07-28 authorization §Canonical Server
/// URI): lowercase scheme and host (the URL parser does that), no fragment, no trailing slash.
pub fn canonical_resource(raw: &str) -> Option<String> {
    let mut url = Url::parse(raw.trim()).ok()?;
    url.set_fragment(None);
    let mut s = url.to_string();
    if url.query().is_none() && s.ends_with('/') {
        s.pop();
    }
    Some(s)
}

/// Whether the protected resource `named` by a metadata document covers the MCP URL `mcp`: the
/// same origin, and `named`'s path is `mcp`'s or a whole-segment prefix of it. RFC 9728 §3.3: the
/// document at the origin's well-known (`/.well-known/oauth-protected-resource`, which step 2
/// tries last) describes the resource *at the origin*, so `https://mcp.example.com` is the right
/// answer there for `https://mcp.example.com/mcp`; the MCP TypeScript SDK accepts the same
/// (`checkResourceAllowed`). Another origin, or a sibling path, never passes (§7.3).
pub fn covers(named: &str, mcp: &str) -> bool {
    let (Ok(named), Ok(mcp)) = (Url::parse(named), Url::parse(mcp)) else {
        return false;
    };
    if named.origin() != mcp.origin() || named.query().is_some() {
        return false;
    }
    let with_slash = |path: &str| {
        if path.ends_with('/') {
            path.to_owned()
        } else {
            format!("{path}/")
        }
    };
    with_slash(mcp.path()).starts_with(&with_slash(named.path()))
}

/// GETs a JSON object; `None` when the server answers but not with a 200 JSON object.
pub(super) async fn get_json(
    policy: &Outbound,
    url: &str,
    what: &'static str,
) -> Result<Option<serde_json::Map<String, Value>>, DiscoveryError> {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let fetched = policy
        .send(Method::GET, url, headers, Body::Empty)
        .await
        .map_err(|source| DiscoveryError::Outbound { what, source })?;
    if fetched.status != StatusCode::OK {
        return Ok(None);
    }
    match serde_json::from_slice(&fetched.body) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        _ => Ok(None),
    }
}

pub(super) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The PRM URLs to try, in order: the challenge's `resource_metadata` (RFC 9728 §5.1) alone, else
/// the RFC 9728 §3.1 well-knowns, path-inserted first, then root.
pub fn resource_metadata_urls(mcp_url: &Url, challenge: Option<&Challenge>) -> Vec<String> {
    if let Some(url) = challenge.and_then(|c| c.resource_metadata.clone()) {
        return vec![url];
    }
    let base = origin(mcp_url);
    let path = mcp_url.path().trim_end_matches('/');
    let mut urls = Vec::new();
    if !path.is_empty() {
        urls.push(format!("{base}/.well-known/oauth-protected-resource{path}"));
    }
    urls.push(format!("{base}/.well-known/oauth-protected-resource"));
    urls
}

/// The AS metadata URLs to try, in order: RFC 8414 §3.1 path-inserted, then OpenID Connect Discovery
/// path-inserted and appended (MCP 2026-07-28 §Authorization Server Metadata Discovery).
pub fn server_metadata_urls(issuer: &str) -> Option<Vec<String>> {
    let url = Url::parse(issuer).ok()?;
    let base = origin(&url);
    let path = url.path().trim_end_matches('/');
    Some(if path.is_empty() {
        vec![
            format!("{base}/.well-known/oauth-authorization-server"),
            format!("{base}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{base}/.well-known/oauth-authorization-server{path}"),
            format!("{base}/.well-known/openid-configuration{path}"),
            format!("{base}{path}/.well-known/openid-configuration"),
        ]
    })
}

pub(super) fn strings(map: &serde_json::Map<String, Value>, key: &str) -> Vec<String> {
    map.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn string(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Checks an AS metadata document fetched for `issuer` and keeps what Gatehouse uses.
pub fn validate_server_metadata(
    policy: &Outbound,
    issuer: &str,
    map: &serde_json::Map<String, Value>,
) -> Result<ServerMetadata, DiscoveryError> {
    if map.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(DiscoveryError::IssuerMismatch(issuer.to_owned()));
    }
    if !strings(map, "code_challenge_methods_supported")
        .iter()
        .any(|m| m == "S256")
    {
        return Err(DiscoveryError::NoS256);
    }
    let authorization_endpoint = string(map, "authorization_endpoint")
        .ok_or(DiscoveryError::Invalid("authorization_endpoint is missing"))?;
    let token_endpoint = string(map, "token_endpoint")
        .ok_or(DiscoveryError::Invalid("token_endpoint is missing"))?;
    let metadata = ServerMetadata {
        issuer: issuer.to_owned(),
        authorization_endpoint,
        token_endpoint,
        registration_endpoint: string(map, "registration_endpoint"),
        revocation_endpoint: string(map, "revocation_endpoint"),
        userinfo_endpoint: string(map, "userinfo_endpoint"),
        scopes_supported: strings(map, "scopes_supported"),
        iss_supported: map
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        token_endpoint_auth_methods: strings(map, "token_endpoint_auth_methods_supported"),
        client_id_metadata_document_supported: map
            .get("client_id_metadata_document_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    check_endpoints(policy, &metadata)?;
    Ok(metadata)
}

/// Every endpoint must be https (or http to loopback for a local upstream): never `javascript:`,
/// `file:`, `data:` ... (MCP security best practices §OAuth Authorization URL Validation).
pub fn check_endpoints(policy: &Outbound, m: &ServerMetadata) -> Result<(), DiscoveryError> {
    let check = |url: &str, what: &'static str| {
        policy
            .check_url(url)
            .map(|_| ())
            .map_err(|_| DiscoveryError::UnsafeEndpoint(what))
    };
    check(&m.authorization_endpoint, "authorization endpoint")?;
    check(&m.token_endpoint, "token endpoint")?;
    for (url, what) in [
        (&m.registration_endpoint, "registration endpoint"),
        (&m.revocation_endpoint, "revocation endpoint"),
        (&m.userinfo_endpoint, "userinfo endpoint"),
    ] {
        if let Some(url) = url {
            check(url, what)?;
        }
    }
    Ok(())
}

/// Fetches and validates the AS metadata of `issuer`, trying the well-knowns in order.
pub async fn server_metadata(
    policy: &Outbound,
    issuer: &str,
) -> Result<ServerMetadata, DiscoveryError> {
    let urls =
        server_metadata_urls(issuer).ok_or(DiscoveryError::NoServerMetadata(issuer.to_owned()))?;
    let mut last = DiscoveryError::NoServerMetadata(issuer.to_owned());
    for url in urls {
        let Some(map) =
            get_json(policy, &url, "fetching the authorization server metadata").await?
        else {
            continue;
        };
        match validate_server_metadata(policy, issuer, &map) {
            Ok(m) => return Ok(m),
            // Discard a document for another issuer and try the next well-known.
            Err(e @ DiscoveryError::IssuerMismatch(_)) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Runs discovery from a probe result. With `legacy`, an upstream without PRM (and none named in
/// its challenge) gets the 2025-03-26 fallback instead of [`DiscoveryError::NoResourceMetadata`].
pub async fn discover(
    policy: &Outbound,
    mcp_url: &str,
    challenge: Option<&Challenge>,
    pinned_issuer: Option<&str>,
    legacy: bool,
) -> Result<Discovered, DiscoveryError> {
    let url = Url::parse(mcp_url).map_err(|_| DiscoveryError::InvalidUrl)?;
    let resource = canonical_resource(mcp_url).ok_or(DiscoveryError::InvalidUrl)?;
    let mut prm = None;
    for candidate in resource_metadata_urls(&url, challenge) {
        if let Some(map) = get_json(
            policy,
            &candidate,
            "fetching the protected resource metadata",
        )
        .await?
        {
            prm = Some(map);
            break;
        }
    }
    let named_by_challenge = challenge.is_some_and(|c| c.resource_metadata.is_some());
    let prm = match prm {
        Some(prm) => prm,
        None if legacy && !named_by_challenge => {
            return super::legacy::discover(policy, mcp_url, challenge).await;
        }
        None => return Err(DiscoveryError::NoResourceMetadata),
    };
    let named = prm
        .get("resource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(resource) = canonical_resource(named).filter(|named| covers(named, &resource)) else {
        return Err(DiscoveryError::ResourceMismatch(
            named.chars().take(200).collect(),
        ));
    };
    let servers = strings(&prm, "authorization_servers");
    let issuer = match pinned_issuer {
        Some(pinned) if servers.iter().any(|s| s == pinned) => pinned.to_owned(),
        _ => servers
            .first()
            .cloned()
            .ok_or(DiscoveryError::NoAuthorizationServer)?,
    };
    let metadata = server_metadata(policy, &issuer).await?;
    Ok(Discovered {
        resource,
        metadata,
        challenged_scope: challenge.and_then(|c| c.scope.clone()),
        resource_scopes: strings(&prm, "scopes_supported"),
    })
}

/// (MCP URL, config_version) → (when, result).
type CacheMap = HashMap<(String, i64), (UnixMillis, Arc<Discovered>)>;

/// Discovery results by (MCP URL, config_version), for [`CACHE_TTL`].
#[derive(Default)]
pub struct DiscoveryCache {
    map: Mutex<CacheMap>,
}

impl DiscoveryCache {
    pub fn get(&self, url: &str, config_version: i64, now: UnixMillis) -> Option<Arc<Discovered>> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, found) = map.get(&(url.to_owned(), config_version))?;
        (now >= *at && now - *at < CACHE_TTL).then(|| Arc::clone(found))
    }

    pub fn put(&self, url: &str, config_version: i64, now: UnixMillis, found: Arc<Discovered>) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|(u, v), (at, _)| now - *at < CACHE_TTL && !(u == url && *v != config_version));
        map.insert((url.to_owned(), config_version), (now, found));
    }

    /// Forgets everything about `url` (the connection changed, or a new challenge arrived).
    pub fn forget(&self, url: &str) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(u, _), _| u != url);
    }
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
