//! Upstream credentials: what Gatehouse holds to call a connection's upstream (role 2: Gatehouse as
//! the upstream's OAuth client).
//!
//! One row per connection, keyed by the connection id (which is also the row id the crypto envelope
//! binds to). Tokens and the DCR client information are stored sealed; the store never sees them in
//! the clear. The row goes with its connection (ON DELETE CASCADE) and on a material change.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use super::ids::ConnectionId;
use crate::clock::UnixMillis;

/// The credential of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamCredential {
    pub connection_id: ConnectionId,
    pub access_token_sealed: Option<Vec<u8>>,
    pub refresh_token_sealed: Option<Vec<u8>>,
    pub expires_at: Option<UnixMillis>,
    pub scopes: Option<String>,
    pub issuer: Option<String>,
    pub token_type: Option<String>,
    /// The RFC 7591 registration response (may hold a client secret), sealed.
    pub dcr_client_json_sealed: Option<Vec<u8>>,
    pub updated_at: UnixMillis,
}

/// Stores (or replaces) the credential of `credential.connection_id`; `updated_at` is set to `now`.
pub fn put(
    tx: &Transaction,
    credential: &UpstreamCredential,
    now: UnixMillis,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO upstream_credentials (connection_id, access_token_sealed, refresh_token_sealed, expires_at,
                                           scopes, issuer, token_type, dcr_client_json_sealed, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (connection_id) DO UPDATE SET
            access_token_sealed = excluded.access_token_sealed,
            refresh_token_sealed = excluded.refresh_token_sealed,
            expires_at = excluded.expires_at,
            scopes = excluded.scopes,
            issuer = excluded.issuer,
            token_type = excluded.token_type,
            dcr_client_json_sealed = excluded.dcr_client_json_sealed,
            updated_at = excluded.updated_at",
    )?
    .execute(params![
        credential.connection_id,
        credential.access_token_sealed,
        credential.refresh_token_sealed,
        credential.expires_at,
        credential.scopes,
        credential.issuer,
        credential.token_type,
        credential.dcr_client_json_sealed,
        now,
    ])?;
    Ok(())
}

pub fn get(
    conn: &Connection,
    connection_id: &ConnectionId,
) -> Result<Option<UpstreamCredential>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT connection_id, access_token_sealed, refresh_token_sealed, expires_at, scopes, issuer,
                    token_type, dcr_client_json_sealed, updated_at
             FROM upstream_credentials WHERE connection_id = ?1",
        )?
        .query_row([connection_id], |row| {
            Ok(UpstreamCredential {
                connection_id: row.get(0)?,
                access_token_sealed: row.get(1)?,
                refresh_token_sealed: row.get(2)?,
                expires_at: row.get(3)?,
                scopes: row.get(4)?,
                issuer: row.get(5)?,
                token_type: row.get(6)?,
                dcr_client_json_sealed: row.get(7)?,
                updated_at: row.get(8)?,
            })
        })
        .optional()?)
}

/// Deletes the credential (disconnect, material change). Returns whether there was one.
pub fn delete(tx: &Transaction, connection_id: &ConnectionId) -> Result<bool, StoreError> {
    Ok(tx
        .prepare_cached("DELETE FROM upstream_credentials WHERE connection_id = ?1")?
        .execute([connection_id])?
        > 0)
}
