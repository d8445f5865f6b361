//! Whether anyone committed to the database since the last look, from this process or another
//! one: SQLite's `PRAGMA data_version` on a connection of the prober's own changes whenever any
//! *other* connection commits (<https://sqlite.org/pragma.html#pragma_data_version>). Reading it
//! touches no table and costs a few microseconds, so it can be polled often; what changed is then
//! read only when something did.
//!
//! The proxy uses it to end the open streams of a grant revoked by another process (`gatehoused
//! grants revoke` while the app serves) well within a second, where in-process revocations arrive
//! as [`StoreEvent`](super::StoreEvent)s.
//!
//! [`CommitStamp`] answers the same question without a query, for the proxy's per-request token
//! check: the WAL-index header that SQLite keeps at the start of `<db>-shm`
//! (<https://sqlite.org/walformat.html> §2.1, "The WAL-Index Header"). Every committed transaction
//! rewrites it (its `iChange` counter and `mxFrame` move, a WAL reset draws new salts), and a
//! commit is visible to other connections exactly when it has been rewritten, so a header equal
//! to the one read before an earlier lookup means the database is as that lookup saw it. Reading
//! 96 bytes with `pread` takes no lock and no SQLite call. It is read only where the file is
//! coherent with SQLite's shared mapping of it (Unix: one page cache; Windows does not promise it
//! for `ReadFile`, so there the stamp is always unknown and the caller reads the store).

use std::fs::File;
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

/// The WAL-index header's size (bytes); SQLite keeps two copies of it, one after the other.
const WAL_INDEX_HEADER: usize = 48;
/// `iVersion` of the WAL-index format SQLite has used since 3.7.0.
const WAL_INDEX_VERSION: u32 = 3_007_000;

/// The database's WAL-index header at one moment: equal stamps mean no commit in between.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CommitStamp([u8; WAL_INDEX_HEADER]);

impl std::fmt::Debug for CommitStamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let change = u32::from_ne_bytes([self.0[8], self.0[9], self.0[10], self.0[11]]);
        f.debug_struct("CommitStamp")
            .field("change", &change)
            .finish_non_exhaustive()
    }
}

/// The `-shm` file of an open database, read for [`CommitStamp`]s.
pub(super) struct WalIndex {
    shm: Option<File>,
}

impl WalIndex {
    /// Opens `<db>-shm` read-only. The store's own connections keep it in place (SQLite truncates or
    /// deletes it only when the last connection to the database closes); when it cannot be opened
    /// every stamp is unknown.
    pub(super) fn open(db: &Path) -> WalIndex {
        let mut name = db.as_os_str().to_owned();
        name.push("-shm");
        let shm = match File::open(&name) {
            Ok(file) => Some(file),
            Err(err) => {
                tracing::debug!(error = %err, "no WAL index to read commit stamps from");
                None
            }
        };
        WalIndex { shm }
    }

    /// The header now, or `None` when it cannot be told: a writer is between its two copies, the
    /// file is not a WAL index SQLite's format describes, or this platform does not read it.
    pub(super) fn stamp(&self) -> Option<CommitStamp> {
        let shm = self.shm.as_ref()?;
        let mut both = [0u8; 2 * WAL_INDEX_HEADER];
        read_at(shm, &mut both)?;
        let (first, second) = both.split_at(WAL_INDEX_HEADER);
        // The writer writes the second copy, then the first: any difference is a write under way.
        if first != second {
            return None;
        }
        let version = u32::from_ne_bytes([first[0], first[1], first[2], first[3]]);
        let initialised = first[12] == 1;
        if version != WAL_INDEX_VERSION || !initialised {
            return None;
        }
        let mut stamp = [0u8; WAL_INDEX_HEADER];
        stamp.copy_from_slice(first);
        Some(CommitStamp(stamp))
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8]) -> Option<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, 0).ok()
}

#[cfg(not(unix))]
fn read_at(_file: &File, _buf: &mut [u8]) -> Option<()> {
    None
}

impl Store {
    /// The database's [`CommitStamp`] now, or `None` when it cannot be told (then read the store).
    /// Take it **before** the read whose result is kept: a commit between the two then shows as a
    /// different stamp later, never as the same one.
    pub fn commit_stamp(&self) -> Option<CommitStamp> {
        self.inner.wal_index.stamp()
    }

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

    /// sqlite.org/walformat.html §2.1: every commit rewrites the WAL-index header, from this
    /// connection or another one (another process).
    #[cfg(unix)]
    #[test]
    fn the_commit_stamp_moves_with_every_commit_and_only_then() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("g.db");
        let store =
            Store::open(&path, std::sync::Arc::new(crate::clock::SystemClock)).expect("store");
        let before = store.commit_stamp().expect("a WAL database has a stamp");
        store
            .read_blocking(|conn| {
                Ok(conn.query_row("SELECT count(*) FROM grants", [], |r| r.get::<_, i64>(0))?)
            })
            .expect("read");
        assert_eq!(
            store.commit_stamp(),
            Some(before),
            "reading commits nothing"
        );

        let append = |store: &Store| {
            let at = store.now();
            store
                .write_blocking(move |tx| {
                    audit::append(tx, at, AuditKind::DiagnosticWrite, &AuditSubject::default())
                })
                .expect("commit");
        };
        append(&store);
        let after_own = store.commit_stamp().expect("stamp");
        assert_ne!(after_own, before, "this store's own commit moves it");

        // A second store on the same file stands for another process.
        let other = Store::open(&path, std::sync::Arc::new(crate::clock::SystemClock))
            .expect("second store");
        assert_eq!(other.commit_stamp(), Some(after_own), "both see one header");
        append(&other);
        let after_other = store.commit_stamp().expect("stamp");
        assert_ne!(
            after_other, after_own,
            "another connection's commit moves it"
        );

        // A rolled-back write is no commit.
        let refused: Result<(), StoreError> =
            store.write_blocking(|_| Err(StoreError::Background("no".into())));
        assert!(refused.is_err());
        assert_eq!(
            store.commit_stamp(),
            Some(after_other),
            "a rollback leaves it"
        );

        // A checkpoint that empties the WAL (the next commit restarts it with new salts): the
        // commit after it still moves the stamp.
        let plain = rusqlite::Connection::open(&path).expect("plain connection");
        plain
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("checkpoint");
        let checkpointed = store.commit_stamp();
        append(&other);
        let restarted = store.commit_stamp().expect("stamp");
        assert_ne!(
            Some(restarted),
            checkpointed,
            "a commit after a checkpoint moves it"
        );
        assert_ne!(restarted, after_other);
    }
}
