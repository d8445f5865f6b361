//! Retention: removing what is over and old (daily and at start, default 90 days).
//!
//! With `cutoff = now - retention`, [`purge`] deletes, in one transaction:
//!
//! | what | deleted when |
//! |---|---|
//! | access tokens | expired before the cutoff, or revoked before it |
//! | refresh tokens | expired before the cutoff, or revoked before it (rotated-away tokens stay until they expire, so a reuse is still caught) |
//! | authorization codes | expired, used or revoked before the cutoff |
//! | authorization requests | expired before the cutoff (whatever their outcome) |
//! | grants | revoked before the cutoff, or still pending and created before it (an abandoned consent), together with every artefact tied to them |
//! | audit events | recorded before the cutoff |
//!
//! Nothing usable is ever removed: an active grant is never deleted, and an artefact only goes once
//! it expired or was revoked, before the cutoff. What was removed is counted in a
//! [`RetentionReport`], logged (counts only) and written as one `retention.purged` audit event, which
//! is written after the purge so it survives it.

use std::future::Future;
use std::time::Duration;

use rusqlite::{Transaction, params};
use tokio::sync::watch;

use super::audit::{self, AuditKind, AuditSubject};
use super::{Store, StoreError, StoreEvent};
use crate::clock::{DAY, UnixMillis};

/// Default retention period for revoked and expired artefacts.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// How often [`run_retention_job`] runs after its first run.
const JOB_PERIOD: Duration = Duration::from_secs(24 * 60 * 60);

/// What one purge removed, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    pub cutoff: UnixMillis,
    pub access_tokens: u64,
    pub refresh_tokens: u64,
    pub authorization_codes: u64,
    pub authorization_requests: u64,
    pub grants: u64,
    pub audit_events: u64,
}

impl RetentionReport {
    pub fn total(&self) -> u64 {
        self.access_tokens
            + self.refresh_tokens
            + self.authorization_codes
            + self.authorization_requests
            + self.grants
            + self.audit_events
    }
}

/// Grants old enough to delete: revoked before the cutoff, or pending since before it.
const OLD_GRANTS: &str = "SELECT id FROM grants
     WHERE (status = 'revoked' AND revoked_at < ?1) OR (status = 'pending' AND created_at < ?1)";

/// Deletes revoked and expired artefacts older than `retention_days` before `now` (see the module
/// docs) and records the report as an audit event.
pub fn purge(
    tx: &Transaction,
    now: UnixMillis,
    retention_days: u32,
) -> Result<RetentionReport, StoreError> {
    let cutoff = now.saturating_sub(i64::from(retention_days).saturating_mul(DAY));
    let run = |sql: &str| -> Result<u64, StoreError> {
        let n = tx.prepare_cached(sql)?.execute(params![cutoff])?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    };

    let mut report = RetentionReport {
        cutoff,
        ..RetentionReport::default()
    };
    // Artefacts over on their own account. The OR arms each use their own index.
    report.access_tokens +=
        run("DELETE FROM access_tokens WHERE expires_at < ?1 OR revoked_at < ?1")?;
    report.refresh_tokens +=
        run("DELETE FROM refresh_tokens WHERE expires_at < ?1 OR revoked_at < ?1")?;
    report.authorization_codes += run(
        "DELETE FROM authorization_codes WHERE expires_at < ?1 OR revoked_at < ?1 OR used_at < ?1",
    )?;
    report.authorization_requests +=
        run("DELETE FROM authorization_requests WHERE expires_at < ?1")?;

    // Whatever is still tied to an old grant goes with it; counted here rather than left to the
    // silent ON DELETE CASCADE.
    report.access_tokens += run(&format!(
        "DELETE FROM access_tokens WHERE grant_id IN ({OLD_GRANTS})"
    ))?;
    report.refresh_tokens += run(&format!(
        "DELETE FROM refresh_tokens WHERE grant_id IN ({OLD_GRANTS})"
    ))?;
    report.authorization_codes += run(&format!(
        "DELETE FROM authorization_codes WHERE grant_id IN ({OLD_GRANTS})"
    ))?;
    report.authorization_requests += run(&format!(
        "DELETE FROM authorization_requests WHERE grant_id IN ({OLD_GRANTS})"
    ))?;
    report.grants += run(&format!("DELETE FROM grants WHERE id IN ({OLD_GRANTS})"))?;

    report.audit_events += run("DELETE FROM audit_events WHERE at < ?1")?;

    let detail = serde_json::to_value(&report)?;
    audit::append(
        tx,
        now,
        AuditKind::RetentionPurged,
        &AuditSubject {
            detail: Some(&detail),
            ..AuditSubject::default()
        },
    )?;
    Ok(report)
}

impl Store {
    /// [`purge`] in its own transaction; logs the counts and broadcasts
    /// [`StoreEvent::RetentionPurged`]. Blocking.
    pub fn purge_expired(&self, retention_days: u32) -> Result<RetentionReport, StoreError> {
        let now = self.now();
        let report = self.write_with_events_blocking(|tx| {
            let report = purge(tx, now, retention_days)?;
            let event = StoreEvent::RetentionPurged {
                report: report.clone(),
            };
            Ok((report, vec![event]))
        })?;
        tracing::info!(
            cutoff = report.cutoff,
            access_tokens = report.access_tokens,
            refresh_tokens = report.refresh_tokens,
            authorization_codes = report.authorization_codes,
            authorization_requests = report.authorization_requests,
            grants = report.grants,
            audit_events = report.audit_events,
            "retention purge done"
        );
        Ok(report)
    }

    /// Async form of [`Store::purge_expired`].
    pub async fn purge_expired_async(
        &self,
        retention_days: u32,
    ) -> Result<RetentionReport, StoreError> {
        let store = self.clone();
        super::run_blocking(move || store.purge_expired(retention_days)).await
    }
}

/// Purges once now and then once a day until `shutdown` completes, with the retention period that
/// `retention_days` holds at that moment. A new period (Settings saved in the window) purges at once
/// with it, so a shorter period never waits for the next daily run. The store's clock decides what
/// is old; the timer only decides when to look. A failed run is logged and retried the next day.
pub async fn run_retention_job(
    store: Store,
    mut retention_days: watch::Receiver<u32>,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticks = tokio::time::interval(JOB_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    let mut period_open = true;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticks.tick() => {},
            changed = retention_days.changed(), if period_open => {
                if changed.is_err() {
                    // The sender is gone: keep the last period and the daily runs.
                    period_open = false;
                    continue;
                }
                tracing::info!(days = *retention_days.borrow(), "retention period changed");
            }
        }
        let days = *retention_days.borrow_and_update();
        if let Err(err) = store.purge_expired_async(days).await {
            tracing::error!(error = %err, "retention purge failed");
        }
    }
    tracing::debug!("retention job stopped");
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use rusqlite::params;

    use super::super::test_support::{Fixture, fixture, hash};
    use super::super::{GrantId, RevocationReason, grants};
    use super::*;

    const OLD: i64 = 100 * DAY;
    const RECENT: i64 = 10 * DAY;

    struct Grants {
        active: GrantId,
        old_revoked: GrantId,
        recent_revoked: GrantId,
        old_pending: GrantId,
        recent_pending: GrantId,
    }

    /// Five grants in every state, created by the real code paths at the right (manual) times.
    fn grants_in_every_state(f: &Fixture, now: UnixMillis) -> Grants {
        let connection = f.connection("retention");
        let clients: Vec<_> = (0..5).map(|_| f.client()).collect();
        f.clock.set(now - 150 * DAY);
        let active = f.active_grant(&clients[0], &connection);
        let old_revoked = f.active_grant(&clients[1], &connection);
        let recent_revoked = f.active_grant(&clients[2], &connection);
        let old_pending = f.pending_grant(&clients[3], &connection, "mcp:access");
        f.clock.set(now - OLD);
        f.store
            .revoke_grants(
                std::slice::from_ref(&old_revoked),
                RevocationReason::UserRevoked,
            )
            .expect("revoking must work");
        f.clock.set(now - RECENT);
        f.store
            .revoke_grants(
                std::slice::from_ref(&recent_revoked),
                RevocationReason::UserRevoked,
            )
            .expect("revoking must work");
        f.clock.set(now - DAY);
        let recent_pending = f.pending_grant(&clients[4], &connection, "mcp:access");
        f.clock.set(now);
        Grants {
            active,
            old_revoked,
            recent_revoked,
            old_pending,
            recent_pending,
        }
    }

    /// Per category of artefact: how many rows, their times, and whether retention must remove them.
    struct Category {
        name: &'static str,
        rows: u64,
        expires_at: i64,
        revoked_at: Option<i64>,
        used_at: Option<i64>,
        goes: bool,
    }

    #[test]
    fn purge_removes_exactly_the_old_revoked_and_expired_rows() {
        let f = fixture();
        let now = T_NOW;
        let g = grants_in_every_state(&f, now);
        let cutoff = now - i64::from(DEFAULT_RETENTION_DAYS) * DAY;

        let cat = |name, rows, expires_at, revoked_at, used_at, goes| Category {
            name,
            rows,
            expires_at,
            revoked_at,
            used_at,
            goes,
        };
        // Tokens of the active grant.
        let token_categories = [
            cat("expired long ago", 12_000, now - OLD, None, None, true),
            cat("expired recently", 12_000, now - RECENT, None, None, false),
            cat("valid", 12_000, now + HOUR_MS, None, None, false),
            cat(
                "revoked long ago",
                12_000,
                now - 89 * DAY,
                Some(now - 95 * DAY),
                None,
                true,
            ),
            cat(
                "revoked recently",
                12_000,
                now + HOUR_MS,
                Some(now - RECENT),
                None,
                false,
            ),
            cat(
                "expired exactly at the cutoff",
                1_000,
                cutoff,
                None,
                None,
                false,
            ),
        ];
        let refresh_categories = [
            cat("expired long ago", 5_000, now - OLD, None, None, true),
            cat("valid", 5_000, now + 30 * DAY, None, None, false),
            cat(
                "rotated away long ago but unexpired",
                5_000,
                now + 30 * DAY,
                None,
                Some(now - OLD),
                false,
            ),
            cat(
                "revoked long ago",
                5_000,
                now - 89 * DAY,
                Some(now - OLD),
                Some(now - OLD),
                true,
            ),
        ];
        let code_categories = [
            cat(
                "used long ago",
                5_000,
                now - OLD,
                None,
                Some(now - OLD),
                true,
            ),
            cat(
                "revoked long ago",
                2_000,
                now - 89 * DAY,
                Some(now - 95 * DAY),
                None,
                true,
            ),
            cat("expired recently", 2_000, now - RECENT, None, None, false),
            cat("valid", 1_000, now + 60_000, None, None, false),
        ];
        let request_categories = [
            cat("expired long ago", 3_000, now - OLD, None, None, true),
            cat("expired recently", 3_000, now - RECENT, None, None, false),
        ];
        // Rows of the old revoked grant that are not old on their own (as if a cascade had missed
        // them): they must still go with their grant. Rows of the recent revoked grant stay.
        let dependents_of_old_grant = 2_000_u64;
        let dependents_of_recent_grant = 2_000_u64;
        let old_audit = 10_000_u64;
        let recent_audit = 10_000_u64;

        let started = Instant::now();
        f.store
            .write_blocking(|tx| {
                tx.execute("DELETE FROM audit_events", [])?;
                let mut access = tx.prepare(
                    "INSERT INTO access_tokens (token_hash, grant_id, client_id, resource, scopes, created_at, expires_at, revoked_at)
                     VALUES (?1, ?2, 'c', 'r', 'mcp:access', ?3, ?4, ?5)",
                )?;
                let mut refresh = tx.prepare(
                    "INSERT INTO refresh_tokens (token_hash, grant_id, family_id, client_id, scopes, created_at, expires_at, used_at, revoked_at)
                     VALUES (?1, ?2, 'fam', 'c', 'mcp:access', ?3, ?4, ?5, ?6)",
                )?;
                let mut code = tx.prepare(
                    "INSERT INTO authorization_codes (code_hash, grant_id, client_id, redirect_uri, code_challenge, resource, scopes,
                                                      created_at, expires_at, used_at, revoked_at)
                     VALUES (?1, ?2, 'c', 'u', 'x', 'r', 's', ?3, ?4, ?5, ?6)",
                )?;
                let mut request = tx.prepare(
                    "INSERT INTO authorization_requests (id, grant_id, client_id, connection_id, redirect_uri, scopes, code_challenge,
                                                         resource, csrf_hash, created_at, expires_at, status)
                     VALUES (?1, ?2, 'c', 'k', 'u', 's', 'x', 'r', ?3, ?4, ?5, 'approved')",
                )?;
                let mut n: u64 = 0;
                for c in &token_categories {
                    for _ in 0..c.rows {
                        n += 1;
                        access.execute(params![hash(0xA0, n), g.active, c.expires_at - HOUR_MS, c.expires_at, c.revoked_at])?;
                    }
                }
                for c in &refresh_categories {
                    for _ in 0..c.rows {
                        n += 1;
                        refresh.execute(params![hash(0xF0, n), g.active, c.expires_at - DAY, c.expires_at, c.used_at, c.revoked_at])?;
                    }
                }
                for c in &code_categories {
                    for _ in 0..c.rows {
                        n += 1;
                        code.execute(params![hash(0xC0, n), g.active, c.expires_at - 60_000, c.expires_at, c.used_at, c.revoked_at])?;
                    }
                }
                for c in &request_categories {
                    for _ in 0..c.rows {
                        n += 1;
                        request.execute(params![format!("req-{n}"), g.active, hash(0xCF, n), c.expires_at - 600_000, c.expires_at])?;
                    }
                }
                for (grant, rows) in [(&g.old_revoked, dependents_of_old_grant), (&g.recent_revoked, dependents_of_recent_grant)] {
                    for _ in 0..rows {
                        n += 1;
                        access.execute(params![hash(0xD0, n), grant, now, now + HOUR_MS, None::<i64>])?;
                    }
                }
                let mut audit = tx.prepare("INSERT INTO audit_events (at, kind) VALUES (?1, 'grant.activated')")?;
                for i in 0..old_audit {
                    audit.execute([cutoff - 1 - i64::try_from(i).unwrap_or(0)])?;
                }
                for i in 0..recent_audit {
                    audit.execute([cutoff + i64::try_from(i).unwrap_or(0)])?;
                }
                Ok(())
            })
            .expect("bulk insert must work");
        let total_rows = f.count(
            "SELECT (SELECT count(*) FROM access_tokens) + (SELECT count(*) FROM refresh_tokens)
                  + (SELECT count(*) FROM authorization_codes) + (SELECT count(*) FROM authorization_requests)
                  + (SELECT count(*) FROM audit_events)",
        );
        eprintln!(
            "note: inserted {total_rows} rows in {:?}",
            started.elapsed()
        );
        assert!(
            total_rows >= 100_000,
            "the test must run on at least 100,000 rows, has {total_rows}"
        );

        let sum = |cats: &[Category]| cats.iter().filter(|c| c.goes).map(|c| c.rows).sum::<u64>();
        let started = Instant::now();
        let report = f
            .store
            .purge_expired(DEFAULT_RETENTION_DAYS)
            .expect("purge must work");
        eprintln!(
            "note: purged {} rows in {:?}",
            report.total(),
            started.elapsed()
        );

        assert_eq!(
            report.cutoff, cutoff,
            "the cutoff is now minus the retention period"
        );
        assert_eq!(
            report.access_tokens,
            sum(&token_categories) + dependents_of_old_grant,
            "access tokens removed"
        );
        assert_eq!(
            report.refresh_tokens,
            sum(&refresh_categories),
            "refresh tokens removed"
        );
        assert_eq!(
            report.authorization_codes,
            sum(&code_categories),
            "codes removed"
        );
        assert_eq!(
            report.authorization_requests,
            sum(&request_categories),
            "requests removed"
        );
        assert_eq!(
            report.grants, 2,
            "the old revoked grant and the abandoned pending one"
        );
        assert_eq!(
            report.audit_events, old_audit,
            "audit events before the cutoff removed"
        );

        let keep = |cats: &[Category]| cats.iter().filter(|c| !c.goes).map(|c| c.rows).sum::<u64>();
        let remaining = |table: &str| {
            u64::try_from(f.count(&format!("SELECT count(*) FROM {table}"))).unwrap_or(0)
        };
        assert_eq!(
            remaining("access_tokens"),
            keep(&token_categories) + dependents_of_recent_grant,
            "recent and valid access tokens stay"
        );
        assert_eq!(
            remaining("refresh_tokens"),
            keep(&refresh_categories),
            "valid and rotated-but-unexpired refresh tokens stay"
        );
        assert_eq!(
            remaining("authorization_codes"),
            keep(&code_categories),
            "recent codes stay"
        );
        assert_eq!(
            remaining("authorization_requests"),
            keep(&request_categories),
            "recent requests stay"
        );
        assert_eq!(
            remaining("audit_events"),
            recent_audit + 1,
            "recent audit events and the purge's own event stay"
        );

        for (table, cats) in [
            ("access_tokens", &token_categories[..]),
            ("refresh_tokens", &refresh_categories[..]),
            ("authorization_codes", &code_categories[..]),
        ] {
            for c in cats {
                let left = f
                    .store
                    .read_blocking(|conn| {
                        Ok(conn.query_row(
                            &format!(
                                "SELECT count(*) FROM {table} WHERE grant_id = ?1 AND expires_at = ?2
                                 AND revoked_at IS ?3 {}",
                                if table == "access_tokens" { "AND ?4 IS NULL" } else { "AND used_at IS ?4" }
                            ),
                            params![g.active, c.expires_at, c.revoked_at, c.used_at],
                            |r| r.get::<_, i64>(0),
                        )?)
                    })
                    .expect("count must work");
                let expected = if c.goes { 0 } else { c.rows };
                assert_eq!(
                    u64::try_from(left).unwrap_or(0),
                    expected,
                    "{table}, {}: wrong number left",
                    c.name
                );
            }
        }

        let ids = |g: &GrantId| {
            f.store
                .read_blocking(|c| grants::get(c, g))
                .expect("get")
                .map(|row| row.status)
        };
        assert!(
            ids(&g.active).is_some(),
            "the active grant is never removed"
        );
        assert!(
            ids(&g.recent_revoked).is_some(),
            "a recently revoked grant stays for its retention period"
        );
        assert!(
            ids(&g.recent_pending).is_some(),
            "a recent pending grant stays"
        );
        assert!(ids(&g.old_revoked).is_none(), "an old revoked grant goes");
        assert!(
            ids(&g.old_pending).is_none(),
            "an abandoned pending grant goes"
        );

        let audit = f
            .store
            .read_blocking(|c| audit::list_recent(c, 1))
            .expect("audit");
        assert_eq!(
            audit[0].kind,
            AuditKind::RetentionPurged,
            "the purge records itself"
        );
        assert_eq!(
            audit[0]
                .detail
                .as_ref()
                .and_then(|d| d.get("access_tokens"))
                .and_then(serde_json::Value::as_u64),
            Some(report.access_tokens),
            "the audit event carries the counts"
        );

        let second = f
            .store
            .purge_expired(DEFAULT_RETENTION_DAYS)
            .expect("purge must work");
        assert_eq!(
            second.total(),
            0,
            "a second purge at the same instant finds nothing"
        );
    }

    #[test]
    fn a_zero_day_retention_still_keeps_everything_usable() {
        let f = fixture();
        let connection = f.connection("zero");
        let client = f.client();
        let grant = f.active_grant(&client, &connection);
        let a = f.artefacts(&grant);
        let report = f.store.purge_expired(0).expect("purge must work");
        assert_eq!(report.total(), 0, "nothing has expired or been revoked yet");
        assert!(
            f.access(&a.access).is_usable(f.clock_now()),
            "a valid token survives any retention"
        );
        f.clock.advance(2 * HOUR_MS);
        let report = f.store.purge_expired(0).expect("purge must work");
        assert_eq!(
            (
                report.access_tokens,
                report.authorization_codes,
                report.grants
            ),
            (1, 1, 0),
            "expired artefacts go, the active grant stays"
        );
    }

    #[tokio::test]
    async fn the_job_purges_at_start_and_stops_on_shutdown() {
        let f = fixture();
        let mut events = f.store.subscribe();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (_period, days) = watch::channel(DEFAULT_RETENTION_DAYS);
        let job = tokio::spawn(run_retention_job(f.store.clone(), days, async move {
            let _ = stopped.await;
        }));
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("the first purge must run at start")
            .expect("the channel must stay open");
        assert!(
            matches!(event, StoreEvent::RetentionPurged { .. }),
            "the purge must be announced, got {event:?}"
        );
        stop.send(()).expect("the job must still be listening");
        tokio::time::timeout(Duration::from_secs(10), job)
            .await
            .expect("the job must stop on shutdown")
            .expect("the job must not panic");
    }

    /// The next retention report the store announces.
    async fn next_purge(
        events: &mut tokio::sync::broadcast::Receiver<StoreEvent>,
    ) -> RetentionReport {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("a purge must be announced within 10 s")
                .expect("the channel must stay open");
            if let StoreEvent::RetentionPurged { report } = event {
                return report;
            }
        }
    }

    #[tokio::test]
    async fn a_new_period_purges_at_once_with_it() {
        let f = fixture();
        let connection = f.connection("period");
        let client = f.client();
        let grant = f.active_grant(&client, &connection);
        f.store
            .revoke_grants(std::slice::from_ref(&grant), RevocationReason::UserRevoked)
            .expect("revoking must work");
        f.clock.advance(30 * DAY);
        let mut events = f.store.subscribe();
        let (period, days) = watch::channel(DEFAULT_RETENTION_DAYS);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let job = tokio::spawn(run_retention_job(f.store.clone(), days, async move {
            let _ = stopped.await;
        }));
        assert_eq!(
            next_purge(&mut events).await.grants,
            0,
            "a grant revoked 30 days ago is kept under a 90-day period"
        );
        period.send(7).expect("the job must hold the receiver");
        let report = next_purge(&mut events).await;
        assert_eq!(
            (report.grants, report.cutoff),
            (1, f.clock_now() - 7 * DAY),
            "the 7-day period must apply at once, not at the next daily run"
        );
        stop.send(()).expect("the job must still be listening");
        tokio::time::timeout(Duration::from_secs(10), job)
            .await
            .expect("the job must stop on shutdown")
            .expect("the job must not panic");
    }

    const HOUR_MS: i64 = crate::clock::HOUR;
    const T_NOW: UnixMillis = super::super::test_support::T0 + 400 * DAY;
}
