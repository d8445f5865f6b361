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
#[path = "retention_tests.rs"]
mod tests;
