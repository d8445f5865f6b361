//! Minting access and refresh tokens and the token response (OAuth 2.1 §3.2.3, RFC 6749 §5.1).
//!
//! Tokens are generated outside the store transaction (so the secret never enters the blocking
//! closure); only their SHA-256 goes into the store.

use axum::Json;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};

use super::error::no_store_headers;
use super::policy::ACCESS_TOKEN_TTL;
use crate::clock::{SECOND, UnixMillis};
use crate::crypto::token::{TokenHash, TokenKind, generate};
use crate::store::TokenHash as StoredHash;

/// A freshly generated token and the hash the store keeps.
pub struct Minted {
    pub secret: SecretString,
    pub hash: StoredHash,
}

impl Minted {
    pub fn new(kind: TokenKind) -> Self {
        let secret = generate(kind);
        let hash = *TokenHash::of(secret.expose_secret()).as_bytes();
        Self { secret, hash }
    }
}

/// The hash under which the store keeps `token`.
pub fn stored_hash(token: &str) -> StoredHash {
    *TokenHash::of(token).as_bytes()
}

/// What a successful token request returns. The secrets are zeroized on drop.
pub struct TokenResponse {
    pub access_token: SecretString,
    pub access_expires_at: UnixMillis,
    pub refresh_token: Option<SecretString>,
    /// Space-separated, canonical.
    pub scope: String,
}

impl TokenResponse {
    /// The RFC 6749 §5.1 body with `Cache-Control: no-store` and `Pragma: no-cache`; `expires_in`
    /// counts from `now`.
    pub fn to_response(&self, now: UnixMillis) -> Response {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            access_token: &'a str,
            token_type: &'static str,
            expires_in: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            refresh_token: Option<&'a str>,
            scope: &'a str,
        }
        let remaining = (self.access_expires_at - now).max(0);
        let body = Body {
            access_token: self.access_token.expose_secret(),
            token_type: "Bearer",
            expires_in: remaining / SECOND,
            refresh_token: self.refresh_token.as_ref().map(|t| t.expose_secret()),
            scope: &self.scope,
        };
        (no_store_headers(), Json(body)).into_response()
    }
}

/// When an access token minted at `now` expires.
pub fn access_expiry(now: UnixMillis) -> UnixMillis {
    now + ACCESS_TOKEN_TTL
}
