//! The SQLite database under the store: every connection's PRAGMAs, opening and reopening, a
//! failing write rolled back, foreign keys enforced, readers never waiting for an open write (WAL),
//! the hot-path and retention queries using indexes, and `try_read_now` never waiting for a reader.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::ManualClock;
use crate::store::grants;
use crate::store::test_support::{REDIRECT, T0, fixture, hash};
use crate::store::*;

fn pragma_i64(conn: &Connection, name: &str) -> i64 {
    conn.pragma_query_value(None, name, |r| r.get(0))
        .expect("a pragma must be readable")
}

fn pragma_text(conn: &Connection, name: &str) -> String {
    conn.pragma_query_value(None, name, |r| r.get(0))
        .expect("a pragma must be readable")
}

#[test]
fn every_connection_has_its_pragmas() {
    let f = fixture();
    let writer = lock(&f.store.inner.writer);
    assert_eq!(
        pragma_i64(&writer, "foreign_keys"),
        1,
        "the writer must enforce foreign keys"
    );
    assert_eq!(
        pragma_text(&writer, "journal_mode"),
        "wal",
        "the database must be in WAL mode"
    );
    assert_eq!(
        pragma_i64(&writer, "synchronous"),
        2,
        "the writer must use synchronous=FULL so commits survive power loss"
    );
    assert_eq!(
        pragma_i64(&writer, "busy_timeout"),
        5000,
        "the writer must wait on locks, not fail"
    );
    drop(writer);

    let readers = lock(&f.store.inner.readers.idle);
    assert_eq!(
        readers.len(),
        READ_POOL_SIZE,
        "all readers must be idle when nothing runs"
    );
    for reader in readers.iter() {
        assert_eq!(
            pragma_i64(reader, "foreign_keys"),
            1,
            "every reader must have foreign keys on"
        );
        assert_eq!(
            pragma_text(reader, "journal_mode"),
            "wal",
            "every reader must see WAL mode"
        );
        assert_eq!(
            pragma_i64(reader, "busy_timeout"),
            5000,
            "every reader must wait on locks"
        );
        assert_eq!(
            pragma_i64(reader, "query_only"),
            1,
            "readers must not be able to write around the writer mutex"
        );
    }
}

#[test]
fn open_creates_the_directory_and_reopening_keeps_data() {
    let f = fixture();
    assert!(
        f.store.path().exists(),
        "open must create the database file and its parent directory"
    );
    assert!(
        f.store.path().starts_with(f.dir.path()),
        "the store must live where it was asked to"
    );
    f.store
        .meta_set("key_check", b"abc")
        .expect("meta_set must work");
    let path = f.store.path().to_path_buf();
    drop(f.store);

    let again = Store::open(&path, Arc::new(ManualClock::new(T0)))
        .expect("reopening a migrated database must work");
    assert_eq!(
        again.meta_get("key_check").expect("meta_get must work"),
        Some(b"abc".to_vec()),
        "a committed meta value must survive reopening"
    );
    assert_eq!(
        again.meta_get("absent").expect("meta_get must work"),
        None,
        "an unknown key has no value"
    );
}

#[test]
fn a_failing_write_rolls_back() {
    let f = fixture();
    let result: Result<(), StoreError> = f.store.write_blocking(|tx| {
        meta::set(tx, "k", b"v")?;
        Err(StoreError::Conflict("caller gave up".into()))
    });
    assert!(result.is_err(), "the closure's error must be returned");
    assert_eq!(
        f.store.meta_get("k").expect("meta_get must work"),
        None,
        "a write whose closure failed must leave nothing behind"
    );
}

#[test]
fn foreign_keys_are_enforced() {
    let f = fixture();
    let connection = f.connection("fk");
    let grant = grants::NewGrant {
        id: GrantId::new(),
        client_id: ClientId::generate(),
        connection_id: connection,
        redirect_uri: REDIRECT.into(),
        scopes: "mcp:access".into(),
        tools: None,
    };
    let err = f
        .store
        .write_blocking(|tx| grants::create_pending(tx, &grant, T0))
        .expect_err("a grant for an unknown client must be refused");
    assert!(
        matches!(err, StoreError::Sqlite(_)),
        "the refusal must come from the foreign key, got {err:?}"
    );

    let err = f
        .store
        .write_blocking(|tx| {
            tx.execute(
                "INSERT INTO access_tokens (token_hash, grant_id, client_id, resource, scopes, created_at, expires_at)
                 VALUES (?1, 'no-such-grant', 'c', 'r', 's', 0, 1)",
                [hash(1, 1)],
            )?;
            Ok(())
        })
        .expect_err("a raw token row pointing at no grant must be refused");
    assert!(
        matches!(err, StoreError::Sqlite(_)),
        "the refusal must come from SQLite, got {err:?}"
    );
}

/// A writer holding its transaction open must not stop readers (WAL): the write below waits for
/// the reads to finish before it commits, so if reads waited for the writer this would deadlock
/// (and time out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_proceed_while_a_write_is_open() {
    let f = fixture();
    let (in_tx, in_tx_rx) = std::sync::mpsc::channel::<()>();
    let (reads_done, reads_done_rx) = std::sync::mpsc::channel::<()>();
    let writer = f.store.clone();
    let write = tokio::spawn(async move {
        writer
            .write(move |tx| {
                meta::set(tx, "during", b"uncommitted")?;
                in_tx
                    .send(())
                    .map_err(|e| StoreError::Background(e.to_string()))?;
                reads_done_rx
                    .recv_timeout(Duration::from_secs(10))
                    .map_err(|e| StoreError::Background(format!("readers never finished: {e}")))?;
                Ok(())
            })
            .await
    });
    tokio::task::spawn_blocking(move || in_tx_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .expect("the waiting task must not panic")
        .expect("the write must start");

    let mut reads = Vec::new();
    for _ in 0..16 {
        let store = f.store.clone();
        reads.push(tokio::spawn(async move {
            store.read(|c| meta::get(c, "during")).await
        }));
    }
    for read in reads {
        let seen = tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("a read must not wait for the open write")
            .expect("the read task must not panic")
            .expect("the read must succeed");
        assert_eq!(seen, None, "a reader must not see uncommitted data");
    }
    reads_done
        .send(())
        .expect("the writer must still be waiting");
    write
        .await
        .expect("the write task must not panic")
        .expect("the write must commit");
    assert_eq!(
        f.store
            .read(|c| meta::get(c, "during"))
            .await
            .expect("read must work"),
        Some(b"uncommitted".to_vec()),
        "after commit the value is visible"
    );
}

/// The hot-path and retention queries must be index searches, never full scans of the big tables
/// (the token check stays fast with 1,000,000 tokens in the store; cleanup of 1,000,000 rows takes
/// seconds).
#[test]
fn hot_queries_use_indexes() {
    let f = fixture();
    let plans = [
        "SELECT t.grant_id FROM access_tokens t JOIN grants g ON g.id = t.grant_id
         JOIN connections c ON c.id = g.connection_id WHERE t.token_hash = x'00'",
        "SELECT 1 FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.token_hash = x'00'",
        "SELECT 1 FROM authorization_codes a JOIN grants g ON g.id = a.grant_id WHERE a.code_hash = x'00'",
        "UPDATE access_tokens SET revoked_at = 1 WHERE grant_id = 'g' AND revoked_at IS NULL",
        "UPDATE refresh_tokens SET revoked_at = 1 WHERE grant_id = 'g' AND revoked_at IS NULL",
        "UPDATE authorization_codes SET revoked_at = 1 WHERE grant_id = 'g' AND used_at IS NULL",
        "UPDATE authorization_requests SET status = 'revoked' WHERE grant_id = 'g' AND status = 'pending'",
        "SELECT id FROM grants WHERE client_id = 'c' AND connection_id = 'k' AND redirect_uri = 'r' AND status = 'active'",
        "DELETE FROM access_tokens WHERE expires_at < 5 OR revoked_at < 5",
        "DELETE FROM refresh_tokens WHERE expires_at < 5 OR revoked_at < 5",
        "DELETE FROM audit_events WHERE at < 5",
    ];
    for sql in plans {
        let plan: Vec<String> = f
            .store
            .read_blocking(|c| {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(3))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .expect("EXPLAIN QUERY PLAN must work");
        assert!(
            !plan.is_empty() && plan.iter().all(|step| !step.starts_with("SCAN")),
            "{sql}\nmust not scan a table, plan: {plan:?}"
        );
    }
}

#[test]
fn try_read_now_runs_inline_on_an_idle_reader_and_never_waits_for_one() {
    let f = fixture();
    let inline = f
        .store
        .try_read_now(|conn| Ok(conn.query_row("SELECT 41 + 1", [], |r| r.get::<_, i64>(0))?));
    assert!(
        matches!(inline, Ok(Ok(42))),
        "with idle readers the lookup runs right here"
    );

    // Hold every pooled reader, then ask again: the closure must come back unrun, at once.
    fn hold_all(store: &crate::store::Store, left: usize) -> bool {
        if left == 0 {
            let mut ran = false;
            let handed_back = store.try_read_now(|_| {
                ran = true;
                Ok(())
            });
            return handed_back.is_err() && !ran;
        }
        store
            .read_blocking(|_| Ok(hold_all(store, left - 1)))
            .unwrap_or(false)
    }
    assert!(
        hold_all(&f.store, crate::store::READ_POOL_SIZE),
        "with every reader busy, try_read_now hands the work back without running or waiting"
    );
}
