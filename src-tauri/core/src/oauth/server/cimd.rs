//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, "CIMD"): a client whose
//! `client_id` is an https URL publishes its registration at that URL, and Gatehouse fetches it.
//!
//! Implements, for a client that registers this way:
//! - CIMD §3: the URL is validated **before any fetch**: https, a host, a path other than `/`, no `.` or
//!   `..` segment (raw or percent-encoded), no fragment, no userinfo, and already in the form a URL parser
//!   would write it (so nothing is rewritten between validation and fetch). A query is allowed.
//! - CIMD §6.5 (SSRF): the host is resolved first with `tokio::net::lookup_host`; if **any** answer is not
//!   a public unicast address (private, loopback, link-local, the 169.254.169.254 metadata address,
//!   CGNAT, documentation, multicast, IPv4-mapped/NAT64 forms of those …) nothing is fetched. The
//!   request is then pinned to the checked address with reqwest's `resolve()`, so a second DNS answer
//!   cannot swap it. No redirects are followed (a redirect is a failure), https only, 5 s timeout.
//! - CIMD §6.6: the body is read incrementally and refused beyond [`MAX_DOCUMENT_BYTES`].
//! - CIMD §4.1: the document is a JSON object whose `client_id` equals the URL by simple string
//!   comparison; `client_secret`, `client_secret_expires_at` or a `client_secret_*` auth method are
//!   refused; `client_name` and `redirect_uris` must be present (MCP client registration). The rest
//!   is validated exactly like a DCR body ([`validate_registration`]): the same redirect-URI policy and
//!   scope down-scoping.
//! - CIMD §4.4: successful documents are cached in memory as the response's `Cache-Control` says
//!   (`max-age`, capped at [`MAX_CACHE_TTL`]; `no-store` / `no-cache` / `max-age=0`: not reused), else
//!   for [`CACHE_TTL`], at most [`MAX_CACHED_DOCUMENTS`] at once. Failures are never cached. The
//!   persisted `cimd` client rows are bounded like dynamic registrations (`store::clients`).
//!
//! Each successful fetch is persisted as a `cimd` client row through `clients::upsert`, whose shrink
//! rule revokes grants when the document drops a redirect URI, scope, grant type or response type.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::client_metadata::{ValidatedClient, validate_registration};
use super::policy::SUPPORTED_SCOPES;
use crate::clock::{MINUTE, UnixMillis};
use crate::net::outbound::{Body, Outbound, OutboundError};
use crate::store::ClientId;
use crate::store::clients::{ClientRegistration, RegistrationSource};

/// Largest metadata document accepted (CIMD §6.6 recommends about 5 KB).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// Whole-request timeout of a fetch.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched document is reused when its response says nothing about caching.
pub const CACHE_TTL: UnixMillis = 10 * MINUTE;
/// The longest a document is reused, whatever its `max-age` says (bounds how stale a registration,
/// e.g. a removed redirect URI, can be).
pub const MAX_CACHE_TTL: UnixMillis = 24 * 60 * MINUTE;

/// How long a response may be reused, from its `Cache-Control` (RFC 9111 §5.2.2): `no-store` and
/// `no-cache` mean not at all; `max-age=N` means N seconds, capped at [`MAX_CACHE_TTL`]; nothing
/// (or nothing understood) means [`CACHE_TTL`].
pub fn cache_lifetime(headers: &http::HeaderMap) -> UnixMillis {
    let mut max_age = None;
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if directive == "no-store" || directive == "no-cache" {
                return 0;
            }
            if let Some(seconds) = directive.strip_prefix("max-age=") {
                match seconds.trim_matches('"').parse::<i64>() {
                    Ok(n) if n >= 0 => max_age = Some(n.saturating_mul(1000)),
                    _ => return 0,
                }
            }
        }
    }
    max_age.map_or(CACHE_TTL, |ms| ms.min(MAX_CACHE_TTL))
}
/// Longest `client_id` URL accepted, in bytes.
pub const MAX_CLIENT_ID_URL_LEN: usize = 2048;

/// Most documents kept in memory; beyond it the one that expires first goes.
pub const MAX_CACHED_DOCUMENTS: usize = 256;

/// Why a URL-shaped `client_id` could not be used. Shown on the error page; never contains the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CimdError {
    #[error("the client_id URL must use https")]
    NotHttps,
    #[error("the client_id URL is not a valid absolute URL")]
    InvalidUrl,
    #[error("the client_id URL must have a path")]
    NoPath,
    #[error("the client_id URL must not contain . or .. path segments")]
    DotSegment,
    #[error("the client_id URL must not have a fragment")]
    Fragment,
    #[error("the client_id URL must not contain a user name or password")]
    Userinfo,
    #[error("the client_id URL is not in canonical form")]
    NotCanonical,
    #[error("the client_id host could not be resolved")]
    Resolve,
    #[error("the client_id host resolves to a private, loopback or link-local address")]
    ForbiddenAddress,
    #[error("the client metadata document could not be fetched: {0}")]
    Fetch(String),
    #[error("fetching the client metadata document answered HTTP {0}")]
    Status(u16),
    #[error("the client metadata document is larger than 5 KiB")]
    TooLarge,
    #[error("the client metadata document is not a JSON object")]
    NotJson,
    #[error("the client metadata document's client_id does not equal its URL")]
    ClientIdMismatch,
    #[error("the client metadata document must not contain a client secret")]
    HasSecret,
    #[error("the client metadata document asks for a shared-secret authentication method")]
    SecretAuthMethod,
    #[error("the client metadata document lacks {0}")]
    Missing(&'static str),
    #[error("the client metadata document is invalid: {0}")]
    Invalid(String),
}

/// Whether a `client_id` is URL-shaped, i.e. meant as a CIMD URL (then it is validated as one, and an
/// `http://` one is refused rather than looked up as an opaque id).
pub fn is_url_shaped(client_id: &str) -> bool {
    let lower = client_id.get(..8).unwrap_or(client_id).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Validates a CIMD `client_id` URL (CIMD §3) without touching the network.
pub fn validate_client_id_url(raw: &str) -> Result<Url, CimdError> {
    validate_url(raw, false)
}

fn validate_url(raw: &str, allow_http_loopback: bool) -> Result<Url, CimdError> {
    if raw.len() > MAX_CLIENT_ID_URL_LEN {
        return Err(CimdError::InvalidUrl);
    }
    if raw.contains('#') {
        return Err(CimdError::Fragment);
    }
    let url = Url::parse(raw).map_err(|_| CimdError::InvalidUrl)?;
    let loopback_test = allow_http_loopback
        && url.scheme() == "http"
        && url.host() == Some(url::Host::Ipv4(Ipv4Addr::LOCALHOST));
    if url.scheme() != "https" && !loopback_test {
        return Err(CimdError::NotHttps);
    }
    if !url.username().is_empty() || url.password().is_some() || raw_authority(raw).contains('@') {
        return Err(CimdError::Userinfo);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(CimdError::InvalidUrl);
    }
    let raw_path = raw_path(raw);
    if raw_path.split('/').any(|segment| {
        let s = segment.to_ascii_lowercase();
        matches!(s.as_str(), "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e.")
    }) {
        return Err(CimdError::DotSegment);
    }
    if url.path().is_empty() || url.path() == "/" {
        return Err(CimdError::NoPath);
    }
    if url.as_str() != raw {
        return Err(CimdError::NotCanonical);
    }
    Ok(url)
}

/// `scheme://AUTHORITY/...` → `AUTHORITY` as written.
fn raw_authority(raw: &str) -> &str {
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// The path as written (without query).
fn raw_path(raw: &str) -> &str {
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let start = rest.find('/').unwrap_or(rest.len());
    let path = &rest[start..];
    path.split(['?', '#']).next().unwrap_or(path)
}

pub use crate::net::outbound::is_public_address;

/// Checks a fetched document (CIMD §4.1) and turns it into a registration.
pub fn validate_document(
    client_id_url: &str,
    document: &Value,
) -> Result<ValidatedClient, CimdError> {
    let Value::Object(map) = document else {
        return Err(CimdError::NotJson);
    };
    match map.get("client_id") {
        Some(Value::String(id)) if id == client_id_url => {}
        Some(_) => return Err(CimdError::ClientIdMismatch),
        None => return Err(CimdError::Missing("client_id")),
    }
    if map.contains_key("client_secret") || map.contains_key("client_secret_expires_at") {
        return Err(CimdError::HasSecret);
    }
    if map
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .is_some_and(|m| m.starts_with("client_secret"))
    {
        return Err(CimdError::SecretAuthMethod);
    }
    if !map.get("client_name").is_some_and(Value::is_string) {
        return Err(CimdError::Missing("client_name"));
    }
    if !map.contains_key("redirect_uris") {
        return Err(CimdError::Missing("redirect_uris"));
    }
    let client = validate_registration(document, SUPPORTED_SCOPES).map_err(|e| {
        CimdError::Invalid(
            e.description()
                .map_or_else(|| e.error().as_str().to_owned(), str::to_owned),
        )
    })?;
    // A name of nothing but control and format characters is cleaned away: as good as missing.
    if client.client_name.is_none() {
        return Err(CimdError::Missing("client_name"));
    }
    Ok(client)
}

/// The store row for a validated document.
pub fn registration(client_id: &ClientId, client: &ValidatedClient) -> ClientRegistration {
    let mut metadata = client.metadata_json();
    if let Value::Object(map) = &mut metadata {
        map.insert("client_id".into(), Value::String(client_id.to_string()));
    }
    super::register::registration_for(
        client_id.clone(),
        client,
        RegistrationSource::Cimd,
        metadata,
    )
}

/// Fetches and caches metadata documents.
pub struct CimdResolver {
    /// By client id: until when the document may be reused, and the document.
    cache: Mutex<HashMap<String, (UnixMillis, Arc<ValidatedClient>)>>,
    /// Tests only: accept `http://127.0.0.1:PORT/...` and loopback addresses, so a local server can
    /// stand in for a client's web site. Never set in production code.
    insecure_loopback: bool,
}

/// A document found in the cache or fetched now.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub client: Arc<ValidatedClient>,
    /// Fetched now (so the client row should be written), rather than served from the cache.
    pub fetched: bool,
}

impl Default for CimdResolver {
    fn default() -> Self {
        CimdResolver::new()
    }
}

impl CimdResolver {
    pub fn new() -> Self {
        CimdResolver {
            cache: Mutex::new(HashMap::new()),
            insecure_loopback: false,
        }
    }

    #[cfg(test)]
    pub(crate) fn insecure_loopback_for_tests() -> Self {
        CimdResolver {
            cache: Mutex::new(HashMap::new()),
            insecure_loopback: true,
        }
    }

    /// The validated document for `client_id`, from the cache while its lifetime lasts.
    pub async fn resolve(&self, client_id: &str, now: UnixMillis) -> Result<Resolved, CimdError> {
        let url = validate_url(client_id, self.insecure_loopback)?;
        if let Some(client) = self.cached(client_id, now) {
            return Ok(Resolved {
                client,
                fetched: false,
            });
        }
        let (document, lifetime) = self.fetch(&url).await?;
        let client = Arc::new(validate_document(client_id, &document)?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (until, _)| now < *until);
            if lifetime > 0 {
                while cache.len() >= MAX_CACHED_DOCUMENTS {
                    let Some(first) = cache
                        .iter()
                        .min_by_key(|(_, (until, _))| *until)
                        .map(|(key, _)| key.clone())
                    else {
                        break;
                    };
                    cache.remove(&first);
                }
                cache.insert(client_id.to_owned(), (now + lifetime, Arc::clone(&client)));
            } else {
                cache.remove(client_id);
            }
        }
        Ok(Resolved {
            client,
            fetched: true,
        })
    }

    fn cached(&self, client_id: &str, now: UnixMillis) -> Option<Arc<ValidatedClient>> {
        let cache = self.cache.lock().ok()?;
        let (until, client) = cache.get(client_id)?;
        (now < *until && *until - now <= MAX_CACHE_TTL).then(|| Arc::clone(client))
    }

    /// The document and how long it may be reused.
    async fn fetch(&self, url: &Url) -> Result<(Value, UnixMillis), CimdError> {
        let policy = Outbound {
            allow_loopback: self.insecure_loopback,
            timeout: FETCH_TIMEOUT,
            max_bytes: MAX_DOCUMENT_BYTES,
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        let fetched = policy
            .send(http::Method::GET, url.as_str(), headers, Body::Empty)
            .await
            .map_err(|e| match e {
                OutboundError::InvalidUrl | OutboundError::Userinfo => CimdError::InvalidUrl,
                OutboundError::NotHttps => CimdError::NotHttps,
                OutboundError::Resolve => CimdError::Resolve,
                OutboundError::ForbiddenAddress => CimdError::ForbiddenAddress,
                OutboundError::TooLarge(_) => CimdError::TooLarge,
                OutboundError::Redirect(status) => CimdError::Status(status),
                OutboundError::Fetch(why) => CimdError::Fetch(why),
            })?;
        if fetched.status != reqwest::StatusCode::OK {
            return Err(CimdError::Status(fetched.status.as_u16()));
        }
        let document = serde_json::from_slice(&fetched.body).map_err(|_| CimdError::NotJson)?;
        Ok((document, cache_lifetime(&fetched.headers)))
    }
}

/// The host of an https `client_id`, for the consent page (CIMD §6.4).
pub fn client_id_host(client_id: &str) -> Option<String> {
    Url::parse(client_id)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}

#[cfg(test)]
#[path = "cimd_tests.rs"]
mod tests;
