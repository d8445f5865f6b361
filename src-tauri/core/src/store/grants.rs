//! Grants: the durable authorization of one client on one connection.
//!
//! A grant is bound to client + connection + redirect URI + scopes (+ tool allow-list) + the
//! connection's `config_version` at the time of consent. Its life is `pending` (created when the
//! consent page is shown) → `active` (the user approved and upstream credentials work) → `revoked`
//! (only through [`super::revocation`]). A partial unique index keeps at most one active grant per
//! (client, connection, redirect URI).
//!
//! Scopes are stored canonically (sorted, deduplicated, space-separated) and the tool list as a sorted
//! JSON array, or NULL for "all tools", so that two consents for the same thing compare equal.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::audit::{self, AuditKind, AuditSubject};
use super::authorization_requests::CallerProcess;
use super::ids::{ClientId, ConnectionId, GrantId};
use super::revocation::{self, RevocationOutcome, RevocationReason};
use super::text::{canonical_tokens, text_enum};
use super::{Store, StoreError, StoreEvent};
use crate::clock::UnixMillis;

text_enum! {
    /// Where a grant is in its life.
    pub enum GrantStatus {
        Pending = "pending",
        Active = "active",
        Revoked = "revoked",
    }
}

/// A grant to create in `pending` state.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub id: GrantId,
    pub client_id: ClientId,
    pub connection_id: ConnectionId,
    pub redirect_uri: String,
    /// Space-separated; stored canonically.
    pub scopes: String,
    /// `None` = every tool of the connection.
    pub tools: Option<Vec<String>>,
}

/// One row of `grants`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GrantRow {
    pub id: GrantId,
    pub client_id: ClientId,
    pub connection_id: ConnectionId,
    pub redirect_uri: String,
    pub scopes: String,
    pub tools: Option<Vec<String>>,
    pub config_version: i64,
    pub status: GrantStatus,
    pub revoked_reason: Option<RevocationReason>,
    pub revoked_at: Option<UnixMillis>,
    pub created_at: UnixMillis,
    pub activated_at: Option<UnixMillis>,
    pub last_used_at: Option<UnixMillis>,
    /// The process the OS saw redeeming the grant's code at `/token`, when it was seen.
    pub caller: Option<CallerProcess>,
}

/// Which grants [`list`] returns.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    /// Only `active` grants (the "Authorized clients" tab); otherwise every status.
    pub active_only: bool,
    pub connection_id: Option<ConnectionId>,
    pub client_id: Option<ClientId>,
}

/// What [`activate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// The grant that is now active for the binding: the one asked for, or the existing one reused.
    pub grant_id: GrantId,
    /// An identical active grant already existed and is reused; the pending one stays pending (and is
    /// removed by retention).
    pub reused: bool,
    /// An active grant on the same (client, connection, redirect URI) with other scopes, tools or
    /// config version was revoked to make room for this one.
    pub superseded: Option<RevocationOutcome>,
}

impl Activation {
    /// Events to broadcast after commit.
    pub fn events(&self) -> Vec<StoreEvent> {
        let mut events: Vec<StoreEvent> = self
            .superseded
            .as_ref()
            .and_then(RevocationOutcome::event)
            .into_iter()
            .collect();
        if !self.reused {
            events.push(StoreEvent::GrantActivated {
                grant_id: self.grant_id.clone(),
            });
        }
        events
    }
}

const COLUMNS: &str = "id, client_id, connection_id, redirect_uri, scopes, tools_json, config_version, \
     status, revoked_reason, revoked_at, created_at, activated_at, last_used_at, caller_pid, caller_exe";

fn from_row(row: &Row<'_>) -> rusqlite::Result<(GrantRow, Option<String>)> {
    Ok((
        GrantRow {
            id: row.get(0)?,
            client_id: row.get(1)?,
            connection_id: row.get(2)?,
            redirect_uri: row.get(3)?,
            scopes: row.get(4)?,
            tools: None,
            config_version: row.get(6)?,
            status: row.get(7)?,
            revoked_reason: row.get(8)?,
            revoked_at: row.get(9)?,
            created_at: row.get(10)?,
            activated_at: row.get(11)?,
            last_used_at: row.get(12)?,
            caller: CallerProcess::from_columns(row.get(13)?, row.get(14)?),
        },
        row.get(5)?,
    ))
}

fn finish((mut grant, tools_json): (GrantRow, Option<String>)) -> Result<GrantRow, StoreError> {
    grant.tools = tools_json
        .as_deref()
        .map(serde_json::from_str)
        .transpose()?;
    Ok(grant)
}

fn tools_json(tools: Option<&[String]>) -> Result<Option<String>, StoreError> {
    let Some(tools) = tools else {
        return Ok(None);
    };
    let mut sorted: Vec<&str> = tools.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    Ok(Some(serde_json::to_string(&sorted)?))
}

/// Creates a pending grant bound to the connection's current `config_version`.
pub fn create_pending(
    tx: &Transaction,
    grant: &NewGrant,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO grants (id, client_id, connection_id, redirect_uri, scopes, tools_json,
                                 config_version, status, created_at)
             SELECT ?1, ?2, c.id, ?4, ?5, ?6, c.config_version, 'pending', ?7
             FROM connections c WHERE c.id = ?3",
        )?
        .execute(params![
            grant.id,
            grant.client_id,
            grant.connection_id,
            grant.redirect_uri,
            canonical_tokens(grant.scopes.split(' ')),
            tools_json(grant.tools.as_deref())?,
            now,
        ])?;
    if inserted == 0 {
        return Err(StoreError::NotFound {
            kind: "connection",
            id: grant.connection_id.to_string(),
        });
    }
    audit::append(
        tx,
        now,
        AuditKind::GrantCreated,
        &AuditSubject {
            grant_id: Some(&grant.id),
            client_id: Some(&grant.client_id),
            connection_id: Some(&grant.connection_id),
            ..AuditSubject::default()
        },
    )?;
    Ok(())
}

/// Sets the tool allow-list of a **pending** grant (the consent page's choice, made after the grant
/// was created). `None` = every tool. Fails with [`StoreError::GrantState`] when the grant is no
/// longer pending, so an active binding's tools never change behind its back.
pub fn set_pending_tools(
    tx: &Transaction,
    id: &GrantId,
    tools: Option<&[String]>,
) -> Result<(), StoreError> {
    let updated = tx
        .prepare_cached("UPDATE grants SET tools_json = ?2 WHERE id = ?1 AND status = 'pending'")?
        .execute(params![id, tools_json(tools)?])?;
    if updated == 0 {
        let grant = get(tx, id)?.ok_or_else(|| StoreError::NotFound {
            kind: "grant",
            id: id.to_string(),
        })?;
        return Err(StoreError::GrantState {
            id: grant.id,
            actual: grant.status,
            expected: GrantStatus::Pending,
        });
    }
    Ok(())
}

/// Moves a pending grant to `active`, keeping one active grant per binding (see [`Activation`]).
/// Activating an already active grant is a no-op; a revoked grant cannot be activated.
pub fn activate(tx: &Transaction, id: &GrantId, now: UnixMillis) -> Result<Activation, StoreError> {
    let grant = get(tx, id)?.ok_or_else(|| StoreError::NotFound {
        kind: "grant",
        id: id.to_string(),
    })?;
    match grant.status {
        GrantStatus::Pending => {}
        GrantStatus::Active => {
            return Ok(Activation {
                grant_id: grant.id,
                reused: false,
                superseded: None,
            });
        }
        GrantStatus::Revoked => {
            return Err(StoreError::GrantState {
                id: grant.id,
                actual: GrantStatus::Revoked,
                expected: GrantStatus::Pending,
            });
        }
    }

    let existing = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM grants
             WHERE client_id = ?1 AND connection_id = ?2 AND redirect_uri = ?3 AND status = 'active'"
        ))?
        .query_row(
            params![grant.client_id, grant.connection_id, grant.redirect_uri],
            from_row,
        )
        .optional()?
        .map(finish)
        .transpose()?;

    let mut superseded = None;
    if let Some(existing) = existing {
        let same_binding = existing.scopes == grant.scopes
            && existing.tools == grant.tools
            && existing.config_version == grant.config_version;
        if same_binding {
            return Ok(Activation {
                grant_id: existing.id,
                reused: true,
                superseded: None,
            });
        }
        superseded = Some(revocation::revoke_grants_in(
            tx,
            std::slice::from_ref(&existing.id),
            RevocationReason::Superseded,
            now,
        )?);
    }

    let updated = tx
        .prepare_cached(
            "UPDATE grants SET status = 'active', activated_at = ?2 WHERE id = ?1 AND status = 'pending'",
        )?
        .execute(params![id, now])?;
    assert_eq!(
        updated, 1,
        "the grant was read as pending in this same write transaction, so exactly one row must change"
    );
    audit::append(
        tx,
        now,
        AuditKind::GrantActivated,
        &AuditSubject {
            grant_id: Some(id),
            client_id: Some(&grant.client_id),
            connection_id: Some(&grant.connection_id),
            ..AuditSubject::default()
        },
    )?;
    Ok(Activation {
        grant_id: grant.id,
        reused: false,
        superseded,
    })
}

pub fn get(conn: &Connection, id: &GrantId) -> Result<Option<GrantRow>, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM grants WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .map(finish)
        .transpose()
}

/// Grants matching `filter`, newest first.
pub fn list(conn: &Connection, filter: &GrantFilter) -> Result<Vec<GrantRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM grants
         WHERE (?1 = 0 OR status = 'active')
           AND (?2 IS NULL OR connection_id = ?2)
           AND (?3 IS NULL OR client_id = ?3)
         ORDER BY created_at DESC, id"
    ))?;
    let rows = stmt.query_map(
        params![filter.active_only, filter.connection_id, filter.client_id],
        from_row,
    )?;
    let mut grants = Vec::new();
    for row in rows {
        grants.push(finish(row?)?);
    }
    Ok(grants)
}

/// How many active grants a connection has ("this will revoke N clients").
pub fn count_active_for_connection(
    conn: &Connection,
    connection_id: &ConnectionId,
) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM grants WHERE connection_id = ?1 AND status = 'active'",
        )?
        .query_row([connection_id], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// What a grant's tokens look like, for the token health shown next to it. Never a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantTokenState {
    /// Whether any access or refresh token is stored for the grant, in any state.
    pub issued: bool,
    /// The latest expiry among the grant's access tokens that are not revoked.
    pub access_expires_at: Option<UnixMillis>,
    /// The latest expiry among the grant's refresh tokens that are neither revoked nor rotated away.
    pub refresh_expires_at: Option<UnixMillis>,
}

/// [`GrantTokenState`] of one grant (three indexed lookups on `grant_id`).
pub fn token_state(conn: &Connection, id: &GrantId) -> Result<GrantTokenState, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM access_tokens WHERE grant_id = ?1)
                    OR EXISTS (SELECT 1 FROM refresh_tokens WHERE grant_id = ?1),
                    (SELECT max(expires_at) FROM access_tokens
                      WHERE grant_id = ?1 AND revoked_at IS NULL),
                    (SELECT max(expires_at) FROM refresh_tokens
                      WHERE grant_id = ?1 AND revoked_at IS NULL AND used_at IS NULL)",
        )?
        .query_row([id], |row| {
            Ok(GrantTokenState {
                issued: row.get(0)?,
                access_expires_at: row.get(1)?,
                refresh_expires_at: row.get(2)?,
            })
        })?)
}

/// Records that these grants were used at `at` (the proxy batches this, debounced, off the hot
/// path). Only active grants move, and `last_used_at` never goes backwards. Returns rows changed.
pub fn touch_last_used(
    tx: &Transaction,
    ids: &[GrantId],
    at: UnixMillis,
) -> Result<usize, StoreError> {
    let mut stmt = tx.prepare_cached(
        "UPDATE grants SET last_used_at = ?2
         WHERE id = ?1 AND status = 'active' AND (last_used_at IS NULL OR last_used_at < ?2)",
    )?;
    let mut changed = 0;
    for id in ids {
        changed += stmt.execute(params![id, at])?;
    }
    Ok(changed)
}

impl Store {
    /// [`activate`] in its own transaction, broadcasting the resulting events after commit. Blocking.
    pub fn activate_grant(&self, id: &GrantId) -> Result<Activation, StoreError> {
        let now = self.now();
        self.write_with_events_blocking(|tx| {
            let activation = activate(tx, id, now)?;
            let events = activation.events();
            Ok((activation, events))
        })
    }

    /// Async form of [`Store::activate_grant`].
    pub async fn activate_grant_async(&self, id: GrantId) -> Result<Activation, StoreError> {
        let store = self.clone();
        super::run_blocking(move || store.activate_grant(&id)).await
    }
}

/// Records the process that redeemed the grant's authorization code (what the Authorized clients
/// card shows beside the reported name).
pub fn set_caller(
    tx: &Transaction,
    id: &GrantId,
    caller: &CallerProcess,
) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE grants SET caller_pid = ?2, caller_exe = ?3 WHERE id = ?1")?
        .execute(params![id, caller.pid, caller.exe])?;
    Ok(())
}

#[cfg(test)]
#[path = "grants_set_pending_tools_tests.rs"]
mod set_pending_tools_tests;

#[cfg(test)]
#[path = "grants_token_state_tests.rs"]
mod token_state_tests;
