//! The audit log: what happened, when, to which grant / client / connection, and why.
//!
//! **Never a secret.** Callers pass ids, kinds, reasons and small JSON details (counts, names of
//! fields that changed); never a token, a code, a credential, a ciphertext or a hash of a token.
//! The log has no foreign keys, so it keeps telling the story after retention removed the rows it
//! refers to; it is itself trimmed by retention.
//!
//! [`append`] takes a transaction so an event is written atomically with the change it describes
//! (the crash-durability test relies on that: a committed change always has its audit row).

use rusqlite::{Connection, Params, Statement, Transaction, params};

use super::StoreError;
use super::ids::{ClientId, ConnectionId, GrantId};
use super::text::text_enum;
use crate::clock::UnixMillis;

text_enum! {
    /// What an audit event records. The text is stored; never rename a shipped one.
    pub enum AuditKind {
        ConnectionCreated = "connection.created",
        ConnectionUpdated = "connection.updated",
        ConnectionDeleted = "connection.deleted",
        ClientRegistered = "client.registered",
        ClientUpdated = "client.updated",
        ClientForgotten = "client.forgotten",
        GrantCreated = "grant.created",
        GrantActivated = "grant.activated",
        GrantRevoked = "grant.revoked",
        RetentionPurged = "retention.purged",
        /// Role 2: the connection signed in to its upstream (reason: the grant type).
        UpstreamSignedIn = "upstream.signed_in",
        /// Role 2: the upstream refused the refresh token; the user must sign in again.
        UpstreamReauthRequired = "upstream.reauth_required",
        /// Role 2: disconnect; reason `revoked`, `revoke_failed` or `not_supported` (RFC 7009).
        UpstreamSignedOut = "upstream.signed_out",
        /// A request refused because it came from another OS account (or one that could not be
        /// identified); detail: the account, the route class and path.
        CallerRefused = "caller.refused",
        /// Rows written by `gatehoused write-load`, the crash-durability diagnostic.
        DiagnosticWrite = "diagnostic.write",
    }
}

/// The subjects and reason of one audit event; all optional.
#[derive(Debug, Clone, Default)]
pub struct AuditSubject<'a> {
    pub grant_id: Option<&'a GrantId>,
    pub client_id: Option<&'a ClientId>,
    pub connection_id: Option<&'a ConnectionId>,
    pub reason: Option<&'a str>,
    /// Small structured detail. Never a secret.
    pub detail: Option<&'a serde_json::Value>,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: UnixMillis,
    pub kind: AuditKind,
    pub grant_id: Option<GrantId>,
    pub client_id: Option<ClientId>,
    pub connection_id: Option<ConnectionId>,
    pub reason: Option<String>,
    pub detail: Option<serde_json::Value>,
}

/// Writes one audit event inside `tx`; returns its id.
pub fn append(
    tx: &Transaction,
    at: UnixMillis,
    kind: AuditKind,
    subject: &AuditSubject<'_>,
) -> Result<i64, StoreError> {
    let detail = subject.detail.map(serde_json::to_string).transpose()?;
    tx.prepare_cached(
        "INSERT INTO audit_events (at, kind, grant_id, client_id, connection_id, reason, detail_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        at,
        kind,
        subject.grant_id,
        subject.client_id,
        subject.connection_id,
        subject.reason,
        detail,
    ])?;
    Ok(tx.last_insert_rowid())
}

/// The newest `limit` events, newest first.
pub fn list_recent(conn: &Connection, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, kind, grant_id, client_id, connection_id, reason, detail_json
         FROM audit_events ORDER BY id DESC LIMIT ?1",
    )?;
    collect(&mut stmt, [limit])
}

/// The events about one grant, oldest first.
pub fn list_for_grant(
    conn: &Connection,
    grant_id: &GrantId,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, kind, grant_id, client_id, connection_id, reason, detail_json
         FROM audit_events WHERE grant_id = ?1 ORDER BY id",
    )?;
    collect(&mut stmt, [grant_id])
}

fn collect(stmt: &mut Statement<'_>, params: impl Params) -> Result<Vec<AuditEvent>, StoreError> {
    let rows = stmt.query_map(params, |row| {
        Ok((
            AuditEvent {
                id: row.get(0)?,
                at: row.get(1)?,
                kind: row.get(2)?,
                grant_id: row.get(3)?,
                client_id: row.get(4)?,
                connection_id: row.get(5)?,
                reason: row.get(6)?,
                detail: None,
            },
            row.get::<_, Option<String>>(7)?,
        ))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (mut event, detail) = row?;
        event.detail = detail.as_deref().map(serde_json::from_str).transpose()?;
        events.push(event);
    }
    Ok(events)
}
