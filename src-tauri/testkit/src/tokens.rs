//! What a client holds once a person has approved it: an active grant on a connection, and access
//! tokens for it, stored as the token endpoint stores them (only the SHA-256 of the token).

use gatehouse_core::crypto::{TokenHash, TokenKind};
use gatehouse_core::store::access_tokens::{self, NewAccessToken};
use gatehouse_core::store::grants::{self, NewGrant};
use gatehouse_core::store::{ClientId, ConnectionId, GrantId};
use gatehouse_core::vault::Vault;
use secrecy::ExposeSecret;

/// How long a test access token lives unless a test says otherwise: one hour, in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

/// A grant, pending then approved.
pub struct NewActiveGrant<'a> {
    pub id: GrantId,
    pub client: &'a ClientId,
    pub connection: &'a ConnectionId,
    pub redirect_uri: String,
    pub scopes: &'a str,
    /// The tools it allows; `None` is every tool.
    pub tools: Option<&'a [&'a str]>,
}

/// Creates the grant pending and activates it, as an approved consent does.
pub fn active_grant(vault: &Vault, grant: &NewActiveGrant<'_>) -> GrantId {
    let store = vault.store();
    let id = grant.id.clone();
    let new = NewGrant {
        id: id.clone(),
        client_id: grant.client.clone(),
        connection_id: grant.connection.clone(),
        redirect_uri: grant.redirect_uri.clone(),
        scopes: grant.scopes.into(),
        tools: grant
            .tools
            .map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
    };
    let now = store.now();
    store
        .write_blocking(|tx| grants::create_pending(tx, &new, now))
        .unwrap_or_else(|e| panic!("grant: {e}"));
    store
        .activate_grant(&id)
        .unwrap_or_else(|e| panic!("activate: {e}"));
    id
}

/// An access token for `resource` that lives `ttl_ms` from now; its text.
pub fn access_token(
    vault: &Vault,
    grant: &GrantId,
    client: &ClientId,
    resource: &str,
    scopes: &str,
    ttl_ms: i64,
) -> String {
    let store = vault.store();
    let token = gatehouse_core::crypto::token::generate(TokenKind::AccessToken)
        .expose_secret()
        .to_owned();
    let now = store.now();
    let new = NewAccessToken {
        token_hash: *TokenHash::of(&token).as_bytes(),
        grant_id: grant.clone(),
        client_id: client.clone(),
        resource: resource.into(),
        scopes: scopes.into(),
        expires_at: now + ttl_ms,
    };
    store
        .write_blocking(|tx| access_tokens::insert(tx, &new, now))
        .unwrap_or_else(|e| panic!("token: {e}"));
    token
}
