//! The stdio bridge's authorization with this gateway (`crate::bridge`): per bridge identity, its
//! OAuth client id and its tokens, sealed by the caller with AAD bridge_credentials/tokens_sealed/
//! <identity>; and a lease so that of several copies started at once only one signs in or
//! refreshes at a time (the others wait for its result instead of asking the person again or
//! spending a refresh token twice, which would end the grant: RFC 9700 §4.14.2).

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use crate::clock::UnixMillis;

/// One identity's stored authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeCredential {
    pub client_id: Option<String>,
    pub tokens_sealed: Option<Vec<u8>>,
    pub updated_at: UnixMillis,
}

pub fn get(conn: &Connection, identity: &str) -> Result<Option<BridgeCredential>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT client_id, tokens_sealed, updated_at FROM bridge_credentials WHERE identity = ?1",
        )?
        .query_row([identity], |row| {
            Ok(BridgeCredential {
                client_id: row.get(0)?,
                tokens_sealed: row.get(1)?,
                updated_at: row.get(2)?,
            })
        })
        .optional()?)
}

/// Takes the lease for `holder` until `until` when it is free or expired; whether it was taken.
pub fn take_lease(
    tx: &Transaction,
    identity: &str,
    holder: &str,
    now: UnixMillis,
    until: UnixMillis,
) -> Result<bool, StoreError> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO bridge_credentials (identity, updated_at) VALUES (?1, ?2)",
    )?
    .execute(params![identity, now])?;
    let taken = tx
        .prepare_cached(
            "UPDATE bridge_credentials SET lease_holder = ?2, lease_until = ?4
             WHERE identity = ?1 AND (lease_holder IS NULL OR lease_holder = ?2 OR lease_until < ?3)",
        )?
        .execute(params![identity, holder, now, until])?;
    Ok(taken == 1)
}

/// Gives the lease back (only the holder can).
pub fn release_lease(tx: &Transaction, identity: &str, holder: &str) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE bridge_credentials SET lease_holder = NULL, lease_until = NULL
         WHERE identity = ?1 AND lease_holder = ?2",
    )?
    .execute(params![identity, holder])?;
    Ok(())
}

/// Stores what a sign-in or refresh got.
pub fn put(
    tx: &Transaction,
    identity: &str,
    client_id: &str,
    tokens_sealed: &[u8],
    now: UnixMillis,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO bridge_credentials (identity, client_id, tokens_sealed, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (identity) DO UPDATE SET client_id = ?2, tokens_sealed = ?3, updated_at = ?4",
    )?
    .execute(params![identity, client_id, tokens_sealed, now])?;
    Ok(())
}

/// Forgets the tokens (the grant is gone: a new sign-in is needed).
pub fn clear(tx: &Transaction, identity: &str, now: UnixMillis) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE bridge_credentials SET tokens_sealed = NULL, updated_at = ?2 WHERE identity = ?1",
    )?
    .execute(params![identity, now])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_until_release_or_expiry() {
        let mut conn = Connection::open_in_memory().expect("sqlite");
        super::super::migrations::MIGRATIONS
            .to_latest(&mut conn)
            .expect("migrated");
        let tx = conn.transaction().expect("tx");
        assert!(take_lease(&tx, "notes", "a", 0, 100).expect("a"));
        assert!(
            !take_lease(&tx, "notes", "b", 10, 110).expect("b"),
            "a holds it"
        );
        assert!(
            take_lease(&tx, "notes", "a", 20, 120).expect("a again"),
            "the holder renews"
        );
        assert!(take_lease(&tx, "other", "b", 20, 120).expect("another identity"));
        release_lease(&tx, "notes", "b").expect("not b's to release");
        assert!(!take_lease(&tx, "notes", "b", 30, 130).expect("b"));
        assert!(
            take_lease(&tx, "notes", "b", 121, 200).expect("expired"),
            "an expired lease is free"
        );
        release_lease(&tx, "notes", "b").expect("release");
        assert!(take_lease(&tx, "notes", "c", 122, 200).expect("c"));
        put(&tx, "notes", "client-1", b"sealed", 5).expect("put");
        let got = get(&tx, "notes").expect("get").expect("row");
        assert_eq!(got.client_id.as_deref(), Some("client-1"));
        assert_eq!(got.tokens_sealed.as_deref(), Some(&b"sealed"[..]));
        clear(&tx, "notes", 6).expect("clear");
        assert_eq!(
            get(&tx, "notes").expect("get").expect("row").tokens_sealed,
            None
        );
    }
}
