//! Step-up scopes (role 2, mcp-auth-checklist §4.7): what an upstream's 403 `insufficient_scope`
//! challenge asked for, kept so the next sign-in requests the union of the usual scopes and these.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use super::ids::ConnectionId;
use crate::clock::UnixMillis;

/// The step-up state of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUp {
    /// Space-separated, deduplicated.
    pub scopes: String,
    /// How many challenges arrived for scopes Gatehouse had already asked for.
    pub attempts: i64,
}

/// Adds `challenged` scopes; returns the new state. A challenge adding nothing new counts an attempt.
pub fn record(
    tx: &Transaction,
    id: &ConnectionId,
    config_version: i64,
    challenged: &str,
    now: UnixMillis,
) -> Result<StepUp, StoreError> {
    let current = get(tx, id, config_version)?;
    let mut scopes: Vec<String> = current
        .as_ref()
        .map(|c| c.scopes.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let before = scopes.len();
    for s in challenged.split_whitespace() {
        if !scopes.iter().any(|have| have == s) {
            scopes.push(s.to_owned());
        }
    }
    let attempts = current.map_or(0, |c| c.attempts) + i64::from(scopes.len() == before);
    let state = StepUp {
        scopes: scopes.join(" "),
        attempts,
    };
    tx.prepare_cached(
        "INSERT INTO upstream_step_up (connection_id, config_version, scopes, attempts, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (connection_id) DO UPDATE SET config_version = excluded.config_version,
            scopes = excluded.scopes, attempts = excluded.attempts, updated_at = excluded.updated_at",
    )?
    .execute(params![id, config_version, state.scopes, state.attempts, now])?;
    Ok(state)
}

/// The step-up scopes recorded for this `config_version`, if any.
pub fn get(
    conn: &Connection,
    id: &ConnectionId,
    config_version: i64,
) -> Result<Option<StepUp>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT scopes, attempts FROM upstream_step_up WHERE connection_id = ?1 AND config_version = ?2",
        )?
        .query_row(params![id, config_version], |row| {
            Ok(StepUp {
                scopes: row.get(0)?,
                attempts: row.get(1)?,
            })
        })
        .optional()?)
}
