//! The SQLite store: the durable home of connections, clients, grants and everything tied to a grant.
//!
//! # Why it is shaped like this
//!
//! * **One writer, a few readers.** SQLite allows one writer at a time; WAL lets readers run beside it.
//!   [`Store`] holds exactly one write [`Connection`] behind a mutex and a small pool of read-only
//!   connections, all on the same file. The proxy's token check (the hot path) only ever takes a
//!   reader, so it never waits for a consent or a retention purge to finish.
//! * **Nothing lost.** The writer runs with `synchronous=FULL`: a grant whose transaction committed
//!   survives `kill -9` and power loss. Every write is one `BEGIN IMMEDIATE`
//!   transaction, committed only when the closure returns `Ok`, rolled back otherwise.
//! * **PRAGMAs per connection.** `foreign_keys`, `busy_timeout` and `query_only` are connection
//!   settings in SQLite, so they are applied to every connection that is opened, and a test checks
//!   them on each one.
//! * **Blocking work stays off the executor.** The sync API (`*_blocking`) is for the CLI and for
//!   code already on a blocking thread; the async API runs the same closure on
//!   [`tokio::task::spawn_blocking`].
//! * **Events after commit.** [`StoreEvent`]s (grants revoked, grant activated, ...) are broadcast
//!   only once the transaction that caused them has committed, so a subscriber (the proxy closing
//!   streams, the UI refreshing) never reacts to something that was rolled back.
//! * **Each table family owns its SQL** in its own module; ids are uuid v4 strings generated in Rust
//!   before the insert, because the crypto envelope binds a ciphertext to its row id.
//! * **The store never sees a secret.** Columns named `*_sealed` hold ciphertext that `crate::crypto`
//!   produced; columns named `*_hash` hold a SHA-256 of a token. The store neither encrypts nor hashes.
//!
//! Every timestamp is a [`UnixMillis`] taken from the injected [`SharedClock`].

pub mod access_tokens;
pub mod audit;
pub mod authorization_codes;
pub mod authorization_requests;
pub mod bridge_credentials;
pub mod clients;
pub mod commits;
pub mod connections;
pub mod grants;
mod ids;
pub mod meta;
pub mod migrations;
pub mod refresh_tokens;
pub mod retention;
pub mod revocation;
mod text;
pub use text::split_tokens;
pub mod upstream_credentials;
pub mod upstream_signins;
pub mod upstream_step_up;
pub mod watch;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::broadcast;

use crate::clock::{SharedClock, UnixMillis};

pub use ids::{AuthorizationRequestId, ClientId, ConnectionId, GrantId, RefreshFamilyId};
pub use retention::{DEFAULT_RETENTION_DAYS, RetentionReport};
pub use revocation::{RevocationOutcome, RevocationReason};

/// The SHA-256 of a token or code: the only form in which Gatehouse keeps its own tokens.
pub type TokenHash = [u8; 32];

/// How many read connections the pool keeps open.
const READ_POOL_SIZE: usize = 4;
/// How long a connection waits on a lock held by another connection (or process) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5_000);
/// Capacity of the event channel; a receiver that falls further behind sees `Lagged`.
const EVENT_CAPACITY: usize = 256;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("sqlite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("pragma {pragma} is {actual:?} on this database, expected {expected:?}")]
    Pragma {
        pragma: &'static str,
        expected: String,
        actual: String,
    },
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("grant {id} is {actual}, expected {expected}")]
    GrantState {
        id: GrantId,
        actual: grants::GrantStatus,
        expected: grants::GrantStatus,
    },
    #[error("malformed JSON in the store: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the store's background task failed: {0}")]
    Background(String),
}

/// Something that happened in the store, announced after its transaction committed.
#[derive(Debug, Clone)]
pub enum StoreEvent {
    /// These grants were revoked just now (grants that were already revoked are not listed).
    GrantsRevoked {
        grant_ids: Vec<GrantId>,
        reason: RevocationReason,
    },
    /// A pending grant became active.
    GrantActivated { grant_id: GrantId },
    /// The retention job removed old artefacts.
    RetentionPurged { report: RetentionReport },
    /// Role 2 changed a connection's upstream status (signed in, signed out, "Sign in again"), so
    /// the app can refresh the Connections tab and notify the user.
    ConnectionStatusChanged {
        connection_id: ConnectionId,
        status: connections::ConnectionStatus,
    },
    /// A client asked for consent: an authorization request was created and the consent page is
    /// being shown. Names only (the client's is self-reported); the app turns it into a desktop
    /// notification.
    ConsentRequested {
        client_name: Option<String>,
        connection_name: String,
    },
}

/// The handle to the database. Cheap to clone; all clones share the same connections.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    clock: SharedClock,
    writer: Mutex<Connection>,
    readers: ReadPool,
    events: broadcast::Sender<StoreEvent>,
    wal_index: commits::WalIndex,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to the latest schema in one
    /// transaction. The parent directory is created too.
    pub fn open(path: &Path, clock: SharedClock) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }

        let mut writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        configure_writer(&mut writer)?;
        migrations::migrate(&mut writer)?;

        let mut readers = Vec::with_capacity(READ_POOL_SIZE);
        for _ in 0..READ_POOL_SIZE {
            readers.push(open_reader(path)?);
        }

        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        // After the migration's commit, so the WAL index exists.
        let wal_index = commits::WalIndex::open(path);
        tracing::debug!(path = %path.display(), "store opened");
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                clock,
                writer: Mutex::new(writer),
                readers: ReadPool::new(readers),
                events,
                wal_index,
            }),
        })
    }

    /// The clock every timestamp in the store comes from.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The current time according to the store's clock.
    pub fn now(&self) -> UnixMillis {
        self.inner.clock.now()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Receives every [`StoreEvent`] sent after this call.
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.inner.events.subscribe()
    }

    /// Runs `f` on a read connection, on the calling thread.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.inner.readers.checkout();
        f(&conn)
    }

    /// The hot path's exception to "blocking work stays off the executor": when a pooled reader is
    /// idle right now, runs `f` on it on the calling thread; otherwise hands `f` back untouched so
    /// the caller can use [`Store::read`]. Only for indexed point lookups that take microseconds (the
    /// proxy's per-request token check), where a `spawn_blocking` round trip costs more than the
    /// query (measured by `bench_proxy`). It never waits for a reader.
    pub fn try_read_now<T, F>(&self, f: F) -> Result<Result<T, StoreError>, F>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError>,
    {
        match self.inner.readers.try_checkout() {
            Some(conn) => Ok(f(&conn)),
            None => Err(f),
        }
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer, on the calling thread; commits
    /// when `f` returns `Ok`, rolls back otherwise.
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_with_events_blocking(|tx| f(tx).map(|value| (value, Vec::new())))
    }

    /// Like [`Store::write_blocking`], but `f` also returns the events its changes cause; they are
    /// broadcast after the commit, and dropped if the transaction does not commit.
    pub fn write_with_events_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<(T, Vec<StoreEvent>), StoreError>,
    ) -> Result<T, StoreError> {
        let (value, events) = {
            let mut conn = lock(&self.inner.writer);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            out
        };
        for event in events {
            // An error only means nobody is subscribed right now, which is fine.
            let _ = self.inner.events.send(event);
        }
        Ok(value)
    }

    /// Async form of [`Store::read_blocking`]: runs `f` on a blocking thread.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        run_blocking(move || store.read_blocking(f)).await
    }

    /// Async form of [`Store::write_blocking`]: runs `f` on a blocking thread.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        run_blocking(move || store.write_blocking(f)).await
    }

    /// Async form of [`Store::write_with_events_blocking`].
    pub async fn write_with_events<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<(T, Vec<StoreEvent>), StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        run_blocking(move || store.write_with_events_blocking(f)).await
    }

    /// Reads a value from the `meta` table (for example the crypto key-check value). Blocking.
    /// A cheap read round trip, for `/health`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?))
            .await
            .map(|_| ())
    }

    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_blocking(|conn| meta::get(conn, key))
    }

    /// Writes a value into the `meta` table, replacing any previous one. Blocking.
    pub fn meta_set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write_blocking(|tx| meta::set(tx, key, value))
    }
}

/// The error for "this grant cannot take a new artefact": not found, or not active.
fn grant_not_active(conn: &Connection, id: &GrantId) -> Result<StoreError, StoreError> {
    let status: Option<grants::GrantStatus> = conn
        .prepare_cached("SELECT status FROM grants WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    Ok(match status {
        None => StoreError::NotFound {
            kind: "grant",
            id: id.to_string(),
        },
        Some(actual) => StoreError::GrantState {
            id: id.clone(),
            actual,
            expected: grants::GrantStatus::Active,
        },
    })
}

/// Whether `err` is a UNIQUE or PRIMARY KEY constraint violation.
fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Runs blocking store work on tokio's blocking pool. A panic inside it is a bug and is re-raised on
/// the caller's task rather than turned into an error.
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(err) => Err(StoreError::Background(err.to_string())),
    }
}

/// A poisoned lock only means another thread panicked while holding it. The connection itself is
/// still sound: a transaction that was open is rolled back when its `Transaction` is dropped during
/// unwinding, so the lock is simply taken over.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn configure_writer(conn: &mut Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Pragma {
            pragma: "journal_mode",
            expected: "wal".into(),
            actual: mode,
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Migrations and every later write take the write lock up front, so two processes on the same
    // file (app and CLI) wait on busy_timeout instead of failing mid-transaction on an upgrade.
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // A read connection that tried to write would bypass the writer mutex; make SQLite refuse it.
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// A fixed set of read connections handed out one caller at a time.
struct ReadPool {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
}

impl ReadPool {
    fn new(conns: Vec<Connection>) -> Self {
        assert!(
            !conns.is_empty(),
            "an empty read pool would make every checkout wait forever"
        );
        Self {
            idle: Mutex::new(conns),
            returned: Condvar::new(),
        }
    }

    /// An idle reader, or `None` without waiting.
    fn try_checkout(&self) -> Option<PooledReader<'_>> {
        let conn = lock(&self.idle).pop()?;
        Some(PooledReader {
            pool: self,
            conn: Some(conn),
        })
    }

    fn checkout(&self) -> PooledReader<'_> {
        let mut idle = lock(&self.idle);
        loop {
            if let Some(conn) = idle.pop() {
                return PooledReader {
                    pool: self,
                    conn: Some(conn),
                };
            }
            idle = self
                .returned
                .wait(idle)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

struct PooledReader<'a> {
    pool: &'a ReadPool,
    conn: Option<Connection>,
}

impl std::ops::Deref for PooledReader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("the connection is only taken out in drop"))
    }
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            lock(&self.pool.idle).push(conn);
            self.pool.returned.notify_one();
        }
    }
}
