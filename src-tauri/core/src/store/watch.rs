//! A coarse "something changed" signal for the window, so it never polls the admin API.
//!
//! Two sources feed it:
//!
//! * **This process**: every [`StoreEvent`] (a grant activated or revoked, a purge) triggers a check
//!   at once, and a [`StoreEvent::ConsentRequested`] is passed on as a [`Notice::ConsentRequested`].
//! * **Other processes**: `gatehoused connections add`, `gatehoused grants revoke`... write to the
//!   same database from another process, and no in-process event tells us. SQLite's
//!   `PRAGMA data_version` on a dedicated connection changes whenever *another* connection commits
//!   (<https://sqlite.org/pragma.html#pragma_data_version>); reading it is a few microseconds and
//!   touches no table, so polling it about once a second costs nothing measurable. Writes by this
//!   process's own writer connection bump it too, which is how a grant being *used* (`last_used_at`,
//!   new tokens: no event) reaches the window.
//!
//! When the version moved, a small fingerprint per kind (counts and latest timestamps, all on
//! indexed or tiny columns) says *what* changed, so a revoke does not refetch connection settings
//! and vice versa. Grants changes also report connections and clients, whose views count grants.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use ts_rs::TS;

use super::{Store, StoreError, StoreEvent};

/// How often the data version is polled for changes made by other processes.
pub const POLL_PERIOD: Duration = Duration::from_secs(1);

/// Which part of the window's data changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Grants,
    Connections,
    Clients,
    Activity,
    Settings,
}

/// The payload of the `gatehouse://changed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Changed {
    pub what: ChangeKind,
}

/// The payload of the `gatehouse://consent-requested` event: a client asked for consent and the
/// consent page is open in the browser. Names only: the client's is self-reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ConsentRequested {
    /// As the client reported it; `null` when it gave none ("Unverified MCP client").
    pub client_name: Option<String>,
    pub connection_name: String,
}

/// What the watch reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Changed(ChangeKind),
    ConsentRequested(ConsentRequested),
}

type Fingerprint = Vec<Option<i64>>;

/// The dedicated read connection and the last state it saw.
struct Probe {
    conn: Connection,
    data_version: i64,
    seen: [(ChangeKind, Fingerprint); 4],
}

const FINGERPRINTS: [(ChangeKind, &str); 4] = [
    (
        ChangeKind::Grants,
        "SELECT count(*), max(created_at), max(activated_at), max(last_used_at), max(revoked_at),
                (SELECT max(expires_at) FROM access_tokens)
         FROM grants",
    ),
    (
        ChangeKind::Connections,
        "SELECT count(*), max(updated_at), (SELECT count(*) FROM upstream_credentials) FROM connections",
    ),
    (
        ChangeKind::Clients,
        "SELECT count(*), max(updated_at) FROM clients",
    ),
    (ChangeKind::Activity, "SELECT max(id) FROM audit_events"),
];

impl Probe {
    fn open(path: &Path) -> Result<Probe, StoreError> {
        let (conn, data_version) = super::commits::probe_connection(path)?;
        let seen = FINGERPRINTS.map(|(kind, _)| (kind, Vec::new()));
        let mut probe = Probe {
            conn,
            data_version,
            seen,
        };
        probe.changes()?;
        Ok(probe)
    }

    /// The kinds whose fingerprint moved since the last call (all of them on the first).
    fn changes(&mut self) -> Result<BTreeSet<ChangeKind>, StoreError> {
        let mut changed = BTreeSet::new();
        for (i, (kind, sql)) in FINGERPRINTS.iter().enumerate() {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let width = stmt.column_count();
            let now: Fingerprint = stmt.query_row([], |row| {
                (0..width).map(|c| row.get::<_, Option<i64>>(c)).collect()
            })?;
            if self.seen[i].1 != now {
                self.seen[i].1 = now;
                changed.insert(*kind);
                if *kind == ChangeKind::Grants {
                    changed.insert(ChangeKind::Connections);
                    changed.insert(ChangeKind::Clients);
                }
            }
        }
        Ok(changed)
    }

    /// Changed kinds when the data version moved; nothing (and no table read) otherwise.
    fn poll(&mut self, force: bool) -> Result<BTreeSet<ChangeKind>, StoreError> {
        let version = super::commits::data_version(&self.conn)?;
        if !force && version == self.data_version {
            return Ok(BTreeSet::new());
        }
        self.data_version = version;
        self.changes()
    }
}

impl Store {
    /// Watches the store until the returned future is dropped, calling `notify` for each change.
    /// Fails only if the watch connection cannot be opened. Spawn it on a tokio runtime.
    pub async fn watch(
        &self,
        period: Duration,
        mut notify: impl FnMut(Notice) + Send,
    ) -> Result<(), StoreError> {
        let mut events = self.subscribe();
        let path = self.path().to_path_buf();
        let probe = super::run_blocking(move || Probe::open(&path)).await?;
        let probe = Arc::new(Mutex::new(probe));
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let force = tokio::select! {
                event = events.recv() => match event {
                    Ok(StoreEvent::ConsentRequested { client_name, connection_name }) => {
                        notify(Notice::ConsentRequested(ConsentRequested {
                            client_name,
                            connection_name,
                        }));
                        // The pending grant it created is not shown, but the activity is.
                        true
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return Ok(()),
                },
                _ = ticks.tick() => false,
            };
            let probe = Arc::clone(&probe);
            let polled = super::run_blocking(move || {
                let mut probe = super::lock(&probe);
                probe.poll(force)
            })
            .await;
            match polled {
                Ok(kinds) => kinds.into_iter().for_each(|k| notify(Notice::Changed(k))),
                Err(error) => tracing::warn!(%error, "store watch could not read the data version"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc;

    use super::*;
    use crate::clock::SystemClock;
    use crate::store::audit::{self, AuditKind, AuditSubject};

    async fn next(rx: &mut mpsc::UnboundedReceiver<Notice>) -> Notice {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a notice within 10 s")
            .expect("the watch is running")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_through_another_connection_is_reported_by_kind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db.sqlite3");
        let store = Store::open(&path, Arc::new(SystemClock)).expect("open");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let watcher = store.clone();
        let task = tokio::spawn(async move {
            watcher
                .watch(Duration::from_millis(50), move |n| {
                    let _ = tx.send(n);
                })
                .await
        });
        // Give the watch time to take its baseline, then write as "another process" would: a
        // second Store on the same file has its own writer connection and sends no event here.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let other = Store::open(&path, Arc::new(SystemClock)).expect("second open");
        other
            .write(|tx| {
                audit::append(tx, 1, AuditKind::DiagnosticWrite, &AuditSubject::default())
                    .map(|_| ())
            })
            .await
            .expect("write");
        assert_eq!(
            next(&mut rx).await,
            Notice::Changed(ChangeKind::Activity),
            "an audit row written elsewhere must show up as an Activity change, and only that"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(rx.try_recv().is_err(), "nothing else changed");
        task.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_consent_request_in_this_process_is_passed_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Store::open(&dir.path().join("db.sqlite3"), Arc::new(SystemClock)).expect("open");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let watcher = store.clone();
        let task = tokio::spawn(async move {
            watcher
                .watch(Duration::from_secs(3600), move |n| {
                    let _ = tx.send(n);
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        store
            .write_with_events(|_| {
                Ok((
                    (),
                    vec![StoreEvent::ConsentRequested {
                        client_name: Some("Claude Code".into()),
                        connection_name: "GitHub".into(),
                    }],
                ))
            })
            .await
            .expect("write");
        assert_eq!(
            next(&mut rx).await,
            Notice::ConsentRequested(ConsentRequested {
                client_name: Some("Claude Code".into()),
                connection_name: "GitHub".into(),
            })
        );
        task.abort();
    }
}
