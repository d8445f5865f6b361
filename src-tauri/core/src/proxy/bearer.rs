//! The bearer guard in front of `/mcp/<slug>` (MCP 2026-07-28 authorization §Token Handling).
//!
//! Only `Authorization: Bearer <token>` counts (OAuth 2.1 §5.1 dropped the query form; tokens in a
//! query or a body are ignored). A value that does not have the shape of a Gatehouse access token is
//! refused without touching the store ([`kind_of`]); otherwise its SHA-256 is looked up, and the
//! token passes only if [`AccessTokenRow::is_usable`] (not expired, not revoked, grant active and
//! bound to the connection's current `config_version`, connection enabled) **and** its connection is
//! the one this slug names (the audience, RFC 8707 §2).
//!
//! The lookup's row is kept in a [`TokenCache`] under the store's
//! [`CommitStamp`](crate::store::commits::CommitStamp) taken before it was read: while the stamp is
//! unchanged nobody, in this process or another, has committed anything, so the row is what the
//! store would answer and the request needs no query. Any commit (a revoke, a disable, a new
//! token, a usage write) empties the cache, so a revoke still takes effect on the very next
//! request, across processes. Expiry is checked on every request against the clock. Where the
//! stamp cannot be read, every request reads the store.
//!
//! Order: the gateway's Host/Origin guard runs first; then authentication (401) before any protocol
//! check, so an unauthenticated client always sees the challenge first. One exception: a slug that
//! names no connection gets 404, since there is no protected resource metadata to point a challenge
//! at (the PRM for that slug is a 404 as well). Slugs are not secrets, so this reveals
//! nothing a client could not learn from the PRM.
//!
//! Challenges follow RFC 6750 §3 as profiled by MCP: `resource_metadata` (RFC 9728 §5.1) and `scope`
//! always, `error="invalid_token"` only when a token was sent, each parameter once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::crypto::{TokenHash, TokenKind, kind_of};
use crate::oauth::server::policy::{RESOURCE_SCOPES, SCOPE_MCP_ACCESS};
use crate::store::access_tokens::{self, AccessTokenRow};
use crate::store::commits::CommitStamp;
use crate::store::{Store, StoreError, connections};

/// Why a request was not let through.
#[derive(Debug)]
pub enum Denial {
    /// No bearer credentials at all: 401 without an error code.
    NoToken { slug: String },
    /// A token was sent but is not valid here: 401 `invalid_token`.
    InvalidToken { slug: String },
    /// A valid token without `mcp:access`: 403 `insufficient_scope`.
    InsufficientScope { slug: String },
    /// No connection has this slug.
    UnknownSlug,
    /// The store failed; the cause is logged, never sent.
    Store(StoreError),
}

/// A request the guard let through.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub token: Arc<AccessTokenRow>,
}

/// Most token rows kept; beyond it the cache starts over.
const MAX_CACHED_TOKENS: usize = 4096;

/// Token rows as the store had them at one [`CommitStamp`] (see the module doc).
#[derive(Default)]
pub struct TokenCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    stamp: Option<CommitStamp>,
    rows: HashMap<[u8; 32], Arc<AccessTokenRow>>,
}

impl TokenCache {
    /// The row kept for `hash`, if the store has not changed since it was read.
    fn get(&self, stamp: CommitStamp, hash: &[u8; 32]) -> Option<Arc<AccessTokenRow>> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.stamp != Some(stamp) {
            return None;
        }
        state.rows.get(hash).cloned()
    }

    /// Keeps `row`, read from the store after `stamp` was taken.
    fn put(&self, stamp: CommitStamp, hash: [u8; 32], row: Arc<AccessTokenRow>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.stamp != Some(stamp) || state.rows.len() >= MAX_CACHED_TOKENS {
            state.rows.clear();
            state.stamp = Some(stamp);
        }
        state.rows.insert(hash, row);
    }

    /// How many rows are kept (for tests).
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rows
            .len()
    }

    /// Whether no row is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the `Authorization` header holds.
enum Presented<'a> {
    Nothing,
    /// Something that is not a usable bearer token (other scheme, empty, malformed).
    Garbage,
    Bearer(&'a str),
}

fn presented(headers: &HeaderMap) -> Presented<'_> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Presented::Nothing;
    };
    if values.next().is_some() {
        return Presented::Garbage;
    }
    let Ok(value) = value.to_str() else {
        return Presented::Garbage;
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return if value.eq_ignore_ascii_case("bearer") {
            Presented::Garbage
        } else {
            // Another scheme without parameters (or junk): not bearer credentials.
            Presented::Nothing
        };
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        // `Basic …` and friends carry no bearer token (RFC 6750 §3.1: no error code then).
        return Presented::Nothing;
    }
    let token = token.trim();
    if kind_of(token) == Some(TokenKind::AccessToken) {
        Presented::Bearer(token)
    } else {
        Presented::Garbage
    }
}

/// Checks the request's bearer token for `slug`, with the rows `cache` keeps.
pub async fn authorize(
    store: &Store,
    cache: &TokenCache,
    headers: &HeaderMap,
    slug: &str,
) -> Result<Authorized, Denial> {
    let sent = match presented(headers) {
        Presented::Nothing => None,
        Presented::Garbage => Some(None),
        Presented::Bearer(token) => Some(Some(*TokenHash::of(token).as_bytes())),
    };
    let now = store.now();
    // Taken before any read, so a commit after it can only make later stamps differ.
    let stamp = match sent {
        Some(Some(_)) => store.commit_stamp(),
        _ => None,
    };
    let cached = match (stamp, &sent) {
        (Some(stamp), Some(Some(hash))) => cache
            .get(stamp, hash)
            .filter(|row| row.connection_slug == slug),
        _ => None,
    };
    let row = match cached {
        Some(row) => row,
        None => {
            let (row, slug_known) = look_up(store, sent, slug).await?;
            if !slug_known {
                return Err(Denial::UnknownSlug);
            }
            let Some(row) = row else {
                return Err(match sent {
                    None => Denial::NoToken {
                        slug: slug.to_owned(),
                    },
                    Some(_) => Denial::InvalidToken {
                        slug: slug.to_owned(),
                    },
                });
            };
            let row = Arc::new(row);
            if let (Some(stamp), Some(Some(hash))) = (stamp, sent)
                && row.connection_slug == slug
            {
                cache.put(stamp, hash, row.clone());
            }
            row
        }
    };
    let audience_ok = row.connection_slug == slug
        && row
            .resource
            .strip_suffix(slug)
            .is_some_and(|rest| rest.ends_with("/mcp/"));
    if !audience_ok || !row.is_usable(now) {
        return Err(Denial::InvalidToken {
            slug: slug.to_owned(),
        });
    }
    if !row.scopes.split(' ').any(|s| s == SCOPE_MCP_ACCESS) {
        return Err(Denial::InsufficientScope {
            slug: slug.to_owned(),
        });
    }
    Ok(Authorized { token: row })
}

/// One store round trip: the token (if any), and only when it does not settle the question,
/// whether the slug exists. Inline on an idle reader when there is one (an indexed lookup of a few
/// microseconds), else on a blocking thread.
async fn look_up(
    store: &Store,
    sent: Option<Option<[u8; 32]>>,
    slug: &str,
) -> Result<(Option<AccessTokenRow>, bool), Denial> {
    let slug_owned = slug.to_owned();
    let lookup = move |conn: &rusqlite::Connection| {
        let row = match sent {
            Some(Some(hash)) => access_tokens::lookup(conn, &hash)?,
            _ => None,
        };
        if row
            .as_ref()
            .is_some_and(|row| row.connection_slug == slug_owned)
        {
            return Ok((row, true));
        }
        let known = connections::get_by_slug(conn, &slug_owned)?.is_some();
        Ok((row, known))
    };
    match store.try_read_now(lookup) {
        Ok(result) => result,
        Err(lookup) => store.read(lookup).await,
    }
    .map_err(Denial::Store)
}

/// The URL of the protected resource metadata of `slug` (RFC 9728 §3.1, path-inserted), on the
/// authority `base` the client used (`LocalAuthority::addressed_base_url`).
pub fn resource_metadata_url(base: &str, slug: &str) -> String {
    format!("{base}/.well-known/oauth-protected-resource/mcp/{slug}")
}

/// A quoted-string value (RFC 9110 §5.6.4); slugs never need it, but a challenge must not break.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The `WWW-Authenticate` value: each parameter once (OAuth 2.1 §5.3.1).
pub fn challenge(base: &str, slug: &str, error: Option<&str>) -> String {
    let mut value = format!(
        "Bearer resource_metadata={}, scope={}",
        quoted(&resource_metadata_url(base, slug)),
        quoted(&RESOURCE_SCOPES.join(" "))
    );
    if let Some(error) = error {
        value.push_str(", error=");
        value.push_str(&quoted(error));
    }
    value
}

impl Denial {
    /// The refusal, its challenge naming the metadata on the authority `base` the client used.
    pub fn into_response(self, base: &str) -> Response {
        let (status, value) = match self {
            Denial::NoToken { slug } => (StatusCode::UNAUTHORIZED, challenge(base, &slug, None)),
            Denial::InvalidToken { slug } => (
                StatusCode::UNAUTHORIZED,
                challenge(base, &slug, Some("invalid_token")),
            ),
            Denial::InsufficientScope { slug } => (
                StatusCode::FORBIDDEN,
                challenge(base, &slug, Some("insufficient_scope")),
            ),
            Denial::UnknownSlug => return StatusCode::NOT_FOUND.into_response(),
            Denial::Store(err) => {
                tracing::error!(error = %err, "token lookup failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        };
        let mut response = status.into_response();
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
        );
        headers
    }

    #[test]
    fn only_a_well_formed_bearer_access_token_is_presented() {
        let token = crate::crypto::token::generate(TokenKind::AccessToken);
        let token = secrecy::ExposeSecret::expose_secret(&token).to_owned();
        assert!(
            matches!(presented(&with_auth(&format!("Bearer {token}"))), Presented::Bearer(t) if t == token),
            "a bearer access token is read"
        );
        assert!(
            matches!(
                presented(&with_auth(&format!("bearer {token}"))),
                Presented::Bearer(_)
            ),
            "the scheme is case-insensitive (RFC 9110 §11.1)"
        );
        assert!(
            matches!(presented(&HeaderMap::new()), Presented::Nothing),
            "no header"
        );
        assert!(
            matches!(
                presented(&with_auth("Basic dXNlcjpwYXNz")),
                Presented::Nothing
            ),
            "Basic carries no bearer token"
        );
        for junk in ["Bearer ", "Bearer", "Bearer abc", "Bearer gh_rt_xxx"] {
            assert!(
                matches!(presented(&with_auth(junk)), Presented::Garbage),
                "{junk:?} is a bad bearer token"
            );
        }
    }

    #[test]
    fn challenge_has_each_parameter_once() {
        let local = crate::net::loopback::LocalAuthority { port: 8765 };
        let base = local.base_url();
        assert_eq!(
            challenge(&base, "a", None),
            "Bearer resource_metadata=\"http://127.0.0.1:8765/.well-known/oauth-protected-resource/mcp/a\", scope=\"mcp:access\"",
            "no error code when no token was sent"
        );
        assert!(
            challenge(&base, "a", Some("invalid_token")).ends_with(", error=\"invalid_token\""),
            "a bad token gets invalid_token"
        );
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::HOST,
            http::HeaderValue::from_static("LocalHost:8765"),
        );
        assert!(
            challenge(&local.addressed_base_url(&headers), "a", None)
                .contains("\"http://localhost:8765/.well-known/oauth-protected-resource/mcp/a\""),
            "the metadata is named on the authority the client used (RFC 9728 §3.3)"
        );
        headers.insert(
            http::header::HOST,
            http::HeaderValue::from_static("evil.example:8765"),
        );
        assert_eq!(
            local.addressed_base_url(&headers),
            "http://127.0.0.1:8765",
            "a foreign Host never names anything"
        );
    }

    /// A revoke takes effect on the very next request even when it comes from another process and
    /// the token's row is cached; expiry is checked on every request, cached or not.
    #[tokio::test]
    async fn a_cached_token_is_refused_after_a_commit_from_another_process_or_its_expiry() {
        use crate::clock::HOUR;
        use crate::store::RevocationReason;
        use crate::store::access_tokens::NewAccessToken;
        use crate::store::test_support::fixture;

        let f = fixture();
        let connection = f.connection("x");
        let client = f.client();
        let grant = f.active_grant(&client, &connection);
        let token = crate::crypto::token::generate(TokenKind::AccessToken);
        let token = secrecy::ExposeSecret::expose_secret(&token).to_owned();
        let now = f.clock_now();
        f.store
            .write_blocking(|tx| {
                access_tokens::insert(
                    tx,
                    &NewAccessToken {
                        token_hash: *TokenHash::of(&token).as_bytes(),
                        grant_id: grant.clone(),
                        client_id: client.clone(),
                        resource: "http://127.0.0.1:7777/mcp/x".into(),
                        scopes: "mcp:access".into(),
                        expires_at: now + HOUR,
                    },
                    now,
                )
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let headers = with_auth(&format!("Bearer {token}"));
        let cache = TokenCache::default();

        for round in 0..2 {
            let ok = authorize(&f.store, &cache, &headers, "x").await;
            assert!(ok.is_ok(), "round {round}: the token passes: {ok:?}");
        }
        assert_eq!(cache.len(), 1, "the row is kept while nothing commits");
        assert!(
            matches!(
                authorize(&f.store, &cache, &headers, "y").await,
                Err(Denial::UnknownSlug | Denial::InvalidToken { .. })
            ),
            "a kept row is still only good for its own slug"
        );

        // Past its expiry, with no commit in between: refused from the kept row.
        f.clock.advance(HOUR);
        assert!(
            matches!(
                authorize(&f.store, &cache, &headers, "x").await,
                Err(Denial::InvalidToken { .. })
            ),
            "an expired token is refused even when its row is kept"
        );
        f.clock.advance(-HOUR);
        assert!(authorize(&f.store, &cache, &headers, "x").await.is_ok());

        // A second store on the same file stands for `gatehoused grants revoke` in another process.
        let other = Store::open(f.store.path(), std::sync::Arc::new(f.clock.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
        other
            .revoke_grants(std::slice::from_ref(&grant), RevocationReason::UserRevoked)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(
                authorize(&f.store, &cache, &headers, "x").await,
                Err(Denial::InvalidToken { .. })
            ),
            "the very next request after another process's revoke is refused"
        );
    }
}
