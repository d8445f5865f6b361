//! Who a connection acts for upstream: the account the upstream reported ("on behalf of ..."),
//! the one it acted as before its last sign-out (what its grants were approved for), and the name
//! the user gave it. None of these is a material change: grants stay.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::not_found;
use crate::clock::UnixMillis;
use crate::store::StoreError;
use crate::store::ids::ConnectionId;

/// Records the upstream account ("on behalf of ...").
pub fn set_account_label(
    tx: &Transaction,
    id: &ConnectionId,
    account_label: Option<&str>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let changed = tx
        .prepare_cached("UPDATE connections SET account_label = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, account_label, now])?;
    if changed == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

/// The upstream account the connection last acted as: the current one, else the one it acted as
/// before its last sign-out (what its grants were approved for).
pub fn last_account(conn: &Connection, id: &ConnectionId) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(account_label, last_account_label) FROM connections WHERE id = ?1",
        )?
        .query_row([id], |row| row.get(0))
        .optional()?
        .flatten())
}

/// Remembers the current account as the last one (before a sign-out clears it), or sets it.
pub fn set_last_account(
    tx: &Transaction,
    id: &ConnectionId,
    account: Option<&str>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE connections SET last_account_label = coalesce(?2, account_label, last_account_label)
         WHERE id = ?1",
    )?
    .execute(params![id, account])?;
    Ok(())
}

/// Records the account the user named (not a material change: grants stay).
pub fn set_account_name(
    tx: &Transaction,
    id: &ConnectionId,
    account_name: Option<&str>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let changed = tx
        .prepare_cached("UPDATE connections SET account_name = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, account_name, now])?;
    if changed == 0 {
        return Err(not_found(id));
    }
    Ok(())
}
