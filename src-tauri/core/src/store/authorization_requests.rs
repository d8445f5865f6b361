//! Authorization requests: a consent in progress (from `/authorize` to the person's decision),
//! valid 10 minutes.
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
    /// SHA-256 of the consent cookie's secret (the browser that loaded `/authorize`).
    pub browser_hash: TokenHash,
    /// The process the OS saw behind the client (its registrant), when known.
    pub caller: Option<CallerProcess>,
    pub expires_at: UnixMillis,
}

/// A process as the OS reported it: pid and executable path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallerProcess {
    pub pid: u32,
    pub exe: Option<String>,
}

impl CallerProcess {
    /// From two nullable columns.
    pub(crate) fn from_columns(pid: Option<u32>, exe: Option<String>) -> Option<Self> {
        pid.map(|pid| CallerProcess { pid, exe })
    }
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
    /// `None` for rows written before the consent cookie existed (they cannot be decided).
    pub browser_hash: Option<TokenHash>,
    pub caller: Option<CallerProcess>,
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
                                             state, code_challenge, resource, csrf_hash, created_at, expires_at,
                                             browser_hash, caller_pid, caller_exe)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
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
        request.browser_hash,
        request.caller.as_ref().map(|c| c.pid),
        request.caller.as_ref().and_then(|c| c.exe.clone()),
    ])?;
    Ok(())
}

const COLUMNS: &str = "id, grant_id, client_id, connection_id, redirect_uri, scopes, state, \
     code_challenge, resource, csrf_hash, created_at, expires_at, status, browser_hash, caller_pid, \
     caller_exe";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuthorizationRequestRow> {
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
        browser_hash: row.get(13)?,
        caller: CallerProcess::from_columns(row.get(14)?, row.get(15)?),
    })
}

pub fn get(
    conn: &Connection,
    id: &AuthorizationRequestId,
) -> Result<Option<AuthorizationRequestRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM authorization_requests WHERE id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

/// The requests still pending and unexpired at `now`, oldest first.
pub fn list_pending(
    conn: &Connection,
    now: UnixMillis,
) -> Result<Vec<AuthorizationRequestRow>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM authorization_requests
         WHERE status = 'pending' AND expires_at > ?1 ORDER BY created_at, rowid"
    ))?;
    let rows = statement
        .query_map([now], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
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

/// Sets a new consent-form CSRF hash on a pending request (each review of the page issues a new
/// form token). Returns whether the request was pending.
pub fn set_csrf(
    tx: &Transaction,
    id: &AuthorizationRequestId,
    csrf_hash: &TokenHash,
) -> Result<bool, StoreError> {
    Ok(tx
        .prepare_cached(
            "UPDATE authorization_requests SET csrf_hash = ?2 WHERE id = ?1 AND status = 'pending'",
        )?
        .execute(params![id, csrf_hash])?
        == 1)
}

/// Removes the pending requests of `client_id` on `connection_id`, with their pending grants (a new
/// `/authorize` from the same client replaces them: one pending consent per client and connection).
/// Returns how many were removed.
pub fn remove_pending_for(
    tx: &Transaction,
    client_id: &ClientId,
    connection_id: &ConnectionId,
) -> Result<usize, StoreError> {
    Ok(tx
        .prepare_cached(
            "DELETE FROM grants WHERE status = 'pending' AND id IN (
                 SELECT grant_id FROM authorization_requests
                 WHERE client_id = ?1 AND connection_id = ?2 AND status = 'pending')",
        )?
        .execute(params![client_id, connection_id])?)
}

/// Keeps at most `max` pending requests: the oldest beyond that are removed with their pending
/// grants. Returns how many were removed.
pub fn cap_pending(tx: &Transaction, max: u32) -> Result<usize, StoreError> {
    Ok(tx
        .prepare_cached(
            "DELETE FROM grants WHERE status = 'pending' AND id IN (
                 SELECT grant_id FROM authorization_requests WHERE status = 'pending'
                 ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?1)",
        )?
        .execute(params![max])?)
}

/// How many requests are pending (decided or not yet expired aside).
pub fn count_pending(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM authorization_requests WHERE status = 'pending'")?
        .query_row([], |row| row.get(0))?)
}
