//! The bearer guard in front of `/mcp/<slug>` (MCP 2026-07-28 authorization §Token Handling).
//!
//! Only `Authorization: Bearer <token>` counts (OAuth 2.1 §5.1 dropped the query form; tokens in a
//! query or a body are ignored). A value that does not have the shape of a Gatehouse access token is
//! refused without touching the store ([`kind_of`]); otherwise its SHA-256 is looked up on a blocking
//! thread, and the token passes only if [`AccessTokenRow::is_usable`] (not expired, not revoked, grant
//! active and bound to the connection's current `config_version`, connection enabled) **and** its
//! connection is the one this slug names (the audience, RFC 8707 §2).
//!
//! Order: the gateway's Host/Origin guard runs first; then authentication (401) before any protocol
//! check, so an unauthenticated client always sees the challenge first. One exception: a slug that
//! names no connection gets 404, since there is no protected resource metadata to point a challenge
//! at (the PRM for that slug is a 404 as well). Slugs are not secrets, so this reveals
//! nothing a client could not learn from the PRM.
//!
//! Challenges follow RFC 6750 §3 as profiled by MCP: `resource_metadata` (RFC 9728 §5.1) and `scope`
//! always, `error="invalid_token"` only when a token was sent, each parameter once.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::crypto::{TokenHash, TokenKind, kind_of};
use crate::oauth::server::policy::{RESOURCE_SCOPES, SCOPE_MCP_ACCESS};
use crate::store::access_tokens::{self, AccessTokenRow};
use crate::store::{StoreError, connections};
use crate::vault::Vault;

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
    pub token: AccessTokenRow,
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

/// Checks the request's bearer token for `slug`.
pub async fn authorize(
    vault: &Vault,
    headers: &HeaderMap,
    slug: &str,
) -> Result<Authorized, Denial> {
    let store = vault.store();
    let sent = match presented(headers) {
        Presented::Nothing => None,
        Presented::Garbage => Some(None),
        Presented::Bearer(token) => Some(Some(*TokenHash::of(token).as_bytes())),
    };
    let now = store.now();
    let slug_owned = slug.to_owned();
    // One store round trip: the token (if any), and only when it does not settle the question,
    // whether the slug exists. Inline on an idle reader when there is one (an indexed lookup of a few
    // microseconds), else on a blocking thread.
    let lookup = move |conn: &rusqlite::Connection| {
        let row = match sent {
            Some(Some(hash)) => access_tokens::lookup(conn, &hash)?,
            _ => None,
        };
        if let Some(row) = row.as_ref().filter(|row| row.connection_slug == slug_owned) {
            return Ok((Some(row.clone()), true));
        }
        let known = connections::get_by_slug(conn, &slug_owned)?.is_some();
        Ok((row, known))
    };
    let (row, slug_known) = match store.try_read_now(lookup) {
        Ok(result) => result,
        Err(lookup) => store.read(lookup).await,
    }
    .map_err(Denial::Store)?;
    if !slug_known {
        return Err(Denial::UnknownSlug);
    }
    let slug = slug.to_owned();
    let Some(row) = row else {
        return Err(match sent {
            None => Denial::NoToken { slug },
            Some(_) => Denial::InvalidToken { slug },
        });
    };
    let audience_ok =
        row.connection_slug == slug && row.resource.ends_with(&format!("/mcp/{slug}"));
    if !audience_ok || !row.is_usable(now) {
        return Err(Denial::InvalidToken { slug });
    }
    if !row.scopes.split(' ').any(|s| s == SCOPE_MCP_ACCESS) {
        return Err(Denial::InsufficientScope { slug });
    }
    Ok(Authorized { token: row })
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
}
