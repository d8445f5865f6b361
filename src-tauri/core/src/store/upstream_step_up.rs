//! Step-up scopes (role 2, MCP 2026-07-28 authorization §Step-Up Authorization Flow): what an
//! upstream's 403 `insufficient_scope` challenge asked for, kept so the next sign-in requests the
//! union of the usual scopes and these.

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

/// Adds `challenged` scopes; returns the new state. The scopes to request next are the union of
/// earlier step-ups, the scopes the current token was `granted` (a new sign-in must not lose them),
/// and the challenge (MCP 2025-11-25 Authorization, scope challenge handling). A challenge that
/// names nothing beyond what was already requested or granted counts an attempt.
pub fn record(
    tx: &Transaction,
    id: &ConnectionId,
    config_version: i64,
    challenged: &str,
    granted: Option<&str>,
    now: UnixMillis,
) -> Result<StepUp, StoreError> {
    let current = get(tx, id, config_version)?;
    let mut scopes: Vec<String> = Vec::new();
    let earlier = current
        .as_ref()
        .map(|c| c.scopes.as_str())
        .unwrap_or_default();
    for s in earlier
        .split_whitespace()
        .chain(granted.unwrap_or_default().split_whitespace())
    {
        if !scopes.iter().any(|have| have == s) {
            scopes.push(s.to_owned());
        }
    }
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

#[cfg(test)]
mod tests {
    use super::super::test_support::fixture;
    use super::*;

    /// A scope challenge is compared with what the current token was granted as well as earlier
    /// step-ups, and the next sign-in asks for the union of all three.
    #[test]
    fn a_challenge_for_scopes_the_token_already_has_adds_nothing() {
        let f = fixture();
        let id = f.connection("scoped");
        let step = |challenged: &'static str, granted: Option<&'static str>| {
            let id = id.clone();
            f.store
                .write_blocking(move |tx| record(tx, &id, 1, challenged, granted, 0))
                .expect("record")
        };
        let first = step("files:read", Some("files:read mcp:tools"));
        assert_eq!(
            first.attempts, 1,
            "the token already holds files:read: nothing new to ask for"
        );
        assert_eq!(
            first.scopes, "files:read mcp:tools",
            "granted scopes are kept"
        );
        let second = step("files:write", Some("files:read mcp:tools"));
        assert_eq!(second.attempts, 1, "files:write is new: not an attempt");
        assert_eq!(
            second.scopes, "files:read mcp:tools files:write",
            "the union"
        );
    }
}
