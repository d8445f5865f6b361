//! A small key/value table for facts about the database itself, such as the crypto key-check value
//! that tells whether the data key in the keyring is the one the ciphertexts were sealed with.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;

pub fn get(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()?)
}

pub fn set(tx: &Transaction, key: &str, value: &[u8]) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

pub fn delete(tx: &Transaction, key: &str) -> Result<bool, StoreError> {
    Ok(tx
        .prepare_cached("DELETE FROM meta WHERE key = ?1")?
        .execute([key])?
        > 0)
}
