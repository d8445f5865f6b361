//! Authorization requests: a consent in progress (product.md §3 `/authorize`), valid 10 minutes.
//!
//! The row keeps what `/authorize` received (redirect URI, scopes, `state`, PKCE challenge,
//! resource) so the consent page's Approve/Deny can finish it, plus the SHA-256 of the consent form's
//! CSRF token. A request is decided at most once, and only while pending and unexpired.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::ids::{AuthorizationRequestId, ClientId, ConnectionId, GrantId};
use super::text::{canonical_tokens, text_enum};
use super::{StoreError, TokenHash};
use crate::clock::UnixMillis;

text_enum! {
    pub enum RequestStatus {
        Pending = "pending",
        Approved = "approved",
        Denied = "denied",
        Expired = "expired",
        /// Its grant was revoked while the consent page was open.
        Revoked = "revoked",
    }
}

/// A request to store.
#[derive(Debug, Clone)]
pub struct NewAuthorizationRequest {
    pub id: AuthorizationRequestId,
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub connection_id: ConnectionId,
    pub redirect_uri: String,
    pub scopes: String,
    /// The client's `state`, echoed back; not a secret of ours.
    pub state: Option<String>,
    pub code_challenge: String,
    pub resource: String,
    pub csrf_hash: TokenHash,
    pub expires_at: UnixMillis,
}

/// One row of `authorization_requests`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequestRow {
    pub id: AuthorizationRequestId,
    pub grant_id: GrantId,
    pub client_id: ClientId,
    pub connection_id: ConnectionId,
    pub redirect_uri: String,
    pub scopes: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub resource: String,
    pub csrf_hash: TokenHash,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub status: RequestStatus,
}

impl AuthorizationRequestRow {
    /// Whether the consent can still be decided at `now`.
    pub fn is_pending(&self, now: UnixMillis) -> bool {
        self.status == RequestStatus::Pending && now < self.expires_at
    }
}

/// How a consent ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

pub fn insert(
    tx: &Transaction,
    request: &NewAuthorizationRequest,
    now: UnixMillis,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO authorization_requests (id, grant_id, client_id, connection_id, redirect_uri, scopes,
                                             state, code_challenge, resource, csrf_hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        request.id,
        request.grant_id,
        request.client_id,
        request.connection_id,
        request.redirect_uri,
        canonical_tokens(request.scopes.split(' ')),
        request.state,
        request.code_challenge,
        request.resource,
        request.csrf_hash,
        now,
        request.expires_at,
    ])?;
    Ok(())
}

pub fn get(
    conn: &Connection,
    id: &AuthorizationRequestId,
) -> Result<Option<AuthorizationRequestRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, grant_id, client_id, connection_id, redirect_uri, scopes, state, code_challenge,
                    resource, csrf_hash, created_at, expires_at, status
             FROM authorization_requests WHERE id = ?1",
        )?
        .query_row([id], |row| {
            Ok(AuthorizationRequestRow {
                id: row.get(0)?,
                grant_id: row.get(1)?,
                client_id: row.get(2)?,
                connection_id: row.get(3)?,
                redirect_uri: row.get(4)?,
                scopes: row.get(5)?,
                state: row.get(6)?,
                code_challenge: row.get(7)?,
                resource: row.get(8)?,
                csrf_hash: row.get(9)?,
                created_at: row.get(10)?,
                expires_at: row.get(11)?,
                status: row.get(12)?,
            })
        })
        .optional()?)
}

/// Decides a pending, unexpired request. Returns `false` (and changes nothing but marking a stale
/// pending request `expired`) when it cannot be decided any more.
pub fn decide(
    tx: &Transaction,
    id: &AuthorizationRequestId,
    decision: Decision,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let status = match decision {
        Decision::Approve => RequestStatus::Approved,
        Decision::Deny => RequestStatus::Denied,
    };
    let decided = tx
        .prepare_cached(
            "UPDATE authorization_requests SET status = ?2
             WHERE id = ?1 AND status = 'pending' AND expires_at > ?3",
        )?
        .execute(params![id, status, now])?;
    if decided == 0 {
        tx.prepare_cached(
            "UPDATE authorization_requests SET status = 'expired'
             WHERE id = ?1 AND status = 'pending' AND expires_at <= ?2",
        )?
        .execute(params![id, now])?;
    }
    Ok(decided == 1)
}
