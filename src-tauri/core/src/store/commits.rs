//! Whether anyone committed to the database since the last look, from this process or another
//! one: SQLite's `PRAGMA data_version` on a connection of the prober's own changes whenever any
//! *other* connection commits (<https://sqlite.org/pragma.html#pragma_data_version>). Reading it
//! touches no table and costs a few microseconds, so it can be polled often; what changed is then
//! read only when something did.
//!
//! The proxy uses it to end the open streams of a grant revoked by another process (`gatehoused
//! grants revoke` while the app serves) well within a second, where in-process revocations arrive
//! as [`StoreEvent`](super::StoreEvent)s.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use super::{BUSY_TIMEOUT, Store, StoreError, lock, run_blocking};

/// A connection of its own, and the data version it last saw.
pub struct CommitProbe {
    conn: Arc<Mutex<Connection>>,
    seen: i64,
}

impl CommitProbe {
    /// Whether a commit happened since the probe was made or last asked.
    pub async fn moved(&mut self) -> Result<bool, StoreError> {
        let conn = Arc::clone(&self.conn);
        let now = run_blocking(move || data_version(&lock(&conn))).await?;
        let moved = now != self.seen;
        self.seen = now;
        Ok(moved)
    }
}

/// The data version as `conn` sees it now.
pub(super) fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA data_version", [], |row| row.get(0))?)
}

/// A read-only connection of its own on the database at `path`, and the data version it sees.
pub(super) fn probe_connection(path: &Path) -> Result<(Connection, i64), StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let seen = data_version(&conn)?;
    Ok((conn, seen))
}

impl Store {
    /// A probe for commits made after this call, on a read-only connection of its own.
    pub async fn commit_probe(&self) -> Result<CommitProbe, StoreError> {
        let path = self.path().to_path_buf();
        let (conn, seen) = run_blocking(move || probe_connection(&path)).await?;
        Ok(CommitProbe {
            conn: Arc::new(Mutex::new(conn)),
            seen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::{self, AuditKind, AuditSubject};

    #[tokio::test]
    async fn a_commit_on_another_connection_moves_the_probe_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(
            &dir.path().join("g.db"),
            std::sync::Arc::new(crate::clock::SystemClock),
        )
        .expect("store");
        let mut probe = store.commit_probe().await.expect("probe");
        assert!(!probe.moved().await.expect("read"), "nothing committed yet");
        // A second store on the same file stands for another process.
        let other = Store::open(
            &dir.path().join("g.db"),
            std::sync::Arc::new(crate::clock::SystemClock),
        )
        .expect("second store");
        let at = other.now();
        other
            .write_blocking(move |tx| {
                audit::append(tx, at, AuditKind::DiagnosticWrite, &AuditSubject::default())
            })
            .expect("commit");
        assert!(
            probe.moved().await.expect("read"),
            "the other connection's commit is seen"
        );
        assert!(!probe.moved().await.expect("read"), "and only once");
    }
}
