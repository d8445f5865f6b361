//! Pending upstream sign-ins (role 2: authorization code requests with PKCE awaiting their
//! callback, OAuth 2.1 §4.1; the callback's `iss` checked per RFC 9207).
//!
//! One row per authorization request Gatehouse sent to an upstream authorization server, keyed by the
//! SHA-256 of its `state`. The row records everything the callback must check or send: the connection
//! and its `config_version` (a material change in between voids the sign-in), the issuer recorded
//! from validated metadata (RFC 9207), the sealed PKCE verifier, the redirect URI and the resource.
//! [`burn`] marks it used in the same statement that reads it, so exactly one callback can win.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use super::ids::ConnectionId;
use super::text::text_enum;
use crate::clock::UnixMillis;

text_enum! {
    /// How a sign-in ended.
    pub enum SigninOutcome {
        Connected = "connected",
        Failed = "failed",
    }
}

/// One pending (or finished) sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSignin {
    pub state_hash: [u8; 32],
    pub connection_id: ConnectionId,
    pub config_version: i64,
    pub verifier_sealed: Vec<u8>,
    pub issuer: String,
    /// The AS advertised `authorization_response_iss_parameter_supported`.
    pub iss_supported: bool,
    pub client_id: String,
    pub token_endpoint: String,
    pub redirect_uri: String,
    pub resource: String,
    pub scopes: Option<String>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub used_at: Option<UnixMillis>,
    pub outcome: Option<SigninOutcome>,
    pub outcome_detail: Option<String>,
}

const COLUMNS: &str = "state_hash, connection_id, config_version, verifier_sealed, issuer, iss_supported, \
     client_id, token_endpoint, redirect_uri, resource, scopes, created_at, expires_at, used_at, outcome, \
     outcome_detail";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UpstreamSignin> {
    Ok(UpstreamSignin {
        state_hash: row.get(0)?,
        connection_id: row.get(1)?,
        config_version: row.get(2)?,
        verifier_sealed: row.get(3)?,
        issuer: row.get(4)?,
        iss_supported: row.get(5)?,
        client_id: row.get(6)?,
        token_endpoint: row.get(7)?,
        redirect_uri: row.get(8)?,
        resource: row.get(9)?,
        scopes: row.get(10)?,
        created_at: row.get(11)?,
        expires_at: row.get(12)?,
        used_at: row.get(13)?,
        outcome: row.get(14)?,
        outcome_detail: row.get(15)?,
    })
}

pub fn insert(tx: &Transaction, signin: &UpstreamSignin) -> Result<(), StoreError> {
    tx.prepare_cached(&format!(
        "INSERT INTO upstream_signins ({COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, NULL, NULL, NULL)"
    ))?
    .execute(params![
        signin.state_hash,
        signin.connection_id,
        signin.config_version,
        signin.verifier_sealed,
        signin.issuer,
        signin.iss_supported,
        signin.client_id,
        signin.token_endpoint,
        signin.redirect_uri,
        signin.resource,
        signin.scopes,
        signin.created_at,
        signin.expires_at,
    ])?;
    Ok(())
}

pub fn get(conn: &Connection, state_hash: &[u8; 32]) -> Result<Option<UpstreamSignin>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM upstream_signins WHERE state_hash = ?1"
        ))?
        .query_row([state_hash], from_row)
        .optional()?)
}

/// Marks the sign-in used and returns it, if it exists, is unused and has not expired. Single use:
/// a second call for the same state returns `None`.
pub fn burn(
    tx: &Transaction,
    state_hash: &[u8; 32],
    now: UnixMillis,
) -> Result<Option<UpstreamSignin>, StoreError> {
    Ok(tx
        .prepare_cached(&format!(
            "UPDATE upstream_signins SET used_at = ?2
             WHERE state_hash = ?1 AND used_at IS NULL AND expires_at > ?2
             RETURNING {COLUMNS}"
        ))?
        .query_row(params![state_hash, now], from_row)
        .optional()?)
}

/// Records how a burned sign-in ended (for a CLI waiting on it).
pub fn finish(
    tx: &Transaction,
    state_hash: &[u8; 32],
    outcome: SigninOutcome,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE upstream_signins SET outcome = ?2, outcome_detail = ?3 WHERE state_hash = ?1",
    )?
    .execute(params![state_hash, outcome, detail])?;
    Ok(())
}

/// Deletes sign-ins that expired before `cutoff` (housekeeping on each new sign-in).
pub fn purge_expired(tx: &Transaction, cutoff: UnixMillis) -> Result<usize, StoreError> {
    Ok(tx
        .prepare_cached("DELETE FROM upstream_signins WHERE expires_at < ?1")?
        .execute([cutoff])?)
}
