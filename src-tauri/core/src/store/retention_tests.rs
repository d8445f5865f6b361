//! Retention under test: exactly the old revoked and expired rows go, per kind of artefact; a
//! zero-day retention keeps everything usable; the job purges at start, on a new period and stops
//! on shutdown.

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
    let remaining =
        |table: &str| u64::try_from(f.count(&format!("SELECT count(*) FROM {table}"))).unwrap_or(0);
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
                            if table == "access_tokens" {
                                "AND ?4 IS NULL"
                            } else {
                                "AND used_at IS ?4"
                            }
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
async fn next_purge(events: &mut tokio::sync::broadcast::Receiver<StoreEvent>) -> RetentionReport {
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
