//! Access tokens: opaque, one hour, stored only as the SHA-256 of the token (`token_hash`).
//!
//! [`lookup`] is the proxy's hot path (checked against the store on every request, so
//! a revoke takes effect on the very next one). It is one query on primary keys: the token row, its
//! grant and the grant's connection, returning everything [`AccessTokenRow::is_usable`] needs.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::grants::GrantStatus;
use super::ids::{ClientId, ConnectionId, GrantId};
use super::text::canonical_tokens;
use super::{StoreError, TokenHash};
use crate::clock::UnixMillis;

/// An access token to store.
#[derive(Debug, Clone)]
pub struct NewAccessToken {
    pub token_hash: TokenHash,
    pub grant_id: GrantId,
    pub client_id: ClientId,
    /// The RFC 8707 resource (the connection's local URL) the token is for.
    pub resource: String,
    pub scopes: String,
    pub expires_at: UnixMillis,
}

/// A stored access token with the state of its grant and connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRow {
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub resource: String,
    pub scopes: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
    pub grant_status: GrantStatus,
    pub grant_config_version: i64,
    /// `None` = all tools.
    pub grant_tools_json: Option<String>,
    pub connection_id: ConnectionId,
    pub connection_slug: String,
    pub connection_config_version: i64,
    pub connection_enabled: bool,
    /// The connection row's `updated_at`: it moves with every sign-in, sign-out and status change,
    /// so the proxy's in-memory upstream token is never used past one (even one made by another
    /// process).
    pub connection_updated_at: UnixMillis,
}

impl AccessTokenRow {
    /// Whether the token may be used at `now`: not revoked, not expired, its grant active and bound
    /// to the connection's current configuration, the connection enabled. The caller still checks
    /// that the token's connection is the one the request is for.
    pub fn is_usable(&self, now: UnixMillis) -> bool {
        self.revoked_at.is_none()
            && now < self.expires_at
            && self.grant_status == GrantStatus::Active
            && self.grant_config_version == self.connection_config_version
            && self.connection_enabled
    }
}

/// Stores a token for an **active** grant; fails with `GrantState` otherwise, so a token can never
/// be minted for a grant revoked a moment earlier.
pub fn insert(tx: &Transaction, token: &NewAccessToken, now: UnixMillis) -> Result<(), StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO access_tokens (token_hash, grant_id, client_id, resource, scopes, created_at, expires_at)
             SELECT ?1, g.id, ?3, ?4, ?5, ?6, ?7 FROM grants g WHERE g.id = ?2 AND g.status = 'active'",
        )?
        .execute(params![
            token.token_hash.as_slice(),
            token.grant_id,
            token.client_id,
            token.resource,
            canonical_tokens(token.scopes.split(' ')),
            now,
            token.expires_at,
        ])?;
    if inserted == 0 {
        return Err(super::grant_not_active(tx, &token.grant_id)?);
    }
    Ok(())
}

/// The hot path: token hash → token, grant and connection state, in one indexed query.
pub fn lookup(
    conn: &Connection,
    token_hash: &TokenHash,
) -> Result<Option<AccessTokenRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT t.grant_id, t.client_id, t.resource, t.scopes, t.created_at, t.expires_at, t.revoked_at,
                    g.status, g.config_version, g.tools_json,
                    c.id, c.slug, c.config_version, c.enabled, c.updated_at
             FROM access_tokens t
             JOIN grants g ON g.id = t.grant_id
             JOIN connections c ON c.id = g.connection_id
             WHERE t.token_hash = ?1",
        )?
        .query_row([token_hash.as_slice()], |row| {
            Ok(AccessTokenRow {
                grant_id: row.get(0)?,
                client_id: row.get(1)?,
                resource: row.get(2)?,
                scopes: row.get(3)?,
                created_at: row.get(4)?,
                expires_at: row.get(5)?,
                revoked_at: row.get(6)?,
                grant_status: row.get(7)?,
                grant_config_version: row.get(8)?,
                grant_tools_json: row.get(9)?,
                connection_id: row.get(10)?,
                connection_slug: row.get(11)?,
                connection_config_version: row.get(12)?,
                connection_enabled: row.get(13)?,
                connection_updated_at: row.get(14)?,
            })
        })
        .optional()?)
}

/// Revokes one token (RFC 7009 on an access token). Returns whether it was live.
pub fn revoke(
    tx: &Transaction,
    token_hash: &TokenHash,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    Ok(tx
        .prepare_cached(
            "UPDATE access_tokens SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![token_hash.as_slice(), now])?
        > 0)
}
