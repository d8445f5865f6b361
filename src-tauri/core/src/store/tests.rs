//! Tests of the store as a whole: connections and PRAGMAs, constraints, the grant lifecycle, the
//! artefact lookups, the revocation cascade and events.

use std::sync::Arc;
use std::time::Duration;

use super::access_tokens;
use super::audit::{self, AuditKind};
use super::authorization_codes::{self, Redemption};
use super::authorization_requests::{self, Decision, RequestStatus};
use super::clients;
use super::connections::{self, AuthKind, ConnectionEdit, ConnectionStatus};
use super::grants::{self, GrantFilter, GrantStatus};
use super::refresh_tokens::{self, Rotation};
use super::test_support::{REDIRECT, T0, fixture, hash, registration, settings};
use super::upstream_credentials::{self, UpstreamCredential};
use super::*;
use crate::clock::{HOUR, ManualClock, SECOND};

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

#[test]
fn at_most_one_active_grant_per_binding() {
    let f = fixture();
    let connection = f.connection("one");
    let client = f.client();
    let first = f.active_grant(&client, &connection);
    let second = f.pending_grant(&client, &connection, "mcp:access");

    let err = f
        .store
        .write_blocking(|tx| {
            tx.execute(
                "UPDATE grants SET status = 'active', activated_at = 1 WHERE id = ?1",
                [&second],
            )?;
            Ok(())
        })
        .expect_err(
            "the partial unique index must refuse a second active grant on the same binding",
        );
    assert!(
        is_unique_violation(match &err {
            StoreError::Sqlite(e) => e,
            other => panic!("expected a SQLite error, got {other:?}"),
        }),
        "the refusal must be the unique index, got {err:?}"
    );

    f.store
        .revoke_grants(std::slice::from_ref(&first), RevocationReason::UserRevoked)
        .expect("revoking must work");
    let activation = f
        .store
        .activate_grant(&second)
        .expect("a revoked grant must not block a new active one");
    assert_eq!(
        activation.grant_id, second,
        "the new grant must be the active one"
    );
    assert!(
        !activation.reused && activation.superseded.is_none(),
        "nothing was active to reuse or supersede"
    );
    assert_eq!(
        f.grant(&second).status,
        GrantStatus::Active,
        "the new grant must be active"
    );
}

#[test]
fn activating_an_identical_binding_reuses_the_active_grant() {
    let f = fixture();
    let connection = f.connection("reuse");
    let client = f.client();
    let existing = f.active_grant(&client, &connection);
    let mut events = f.store.subscribe();

    let newer = f.pending_grant(&client, &connection, "mcp:access");
    let activation = f
        .store
        .activate_grant(&newer)
        .expect("activation must work");
    assert_eq!(
        activation.grant_id, existing,
        "an identical active grant must be reused"
    );
    assert!(activation.reused, "the outcome must say it reused");
    assert_eq!(
        f.grant(&newer).status,
        GrantStatus::Pending,
        "the newer grant must not be activated"
    );
    assert!(
        events.try_recv().is_err(),
        "reusing changes nothing, so nothing is announced"
    );
}

#[test]
fn activating_a_different_binding_supersedes_the_old_grant() {
    let f = fixture();
    let connection = f.connection("supersede");
    let client = f.client();
    let old = f.active_grant(&client, &connection);
    let old_artefacts = f.artefacts(&old);
    let mut events = f.store.subscribe();

    let newer = f.pending_grant(&client, &connection, "mcp:access mcp:admin");
    let activation = f
        .store
        .activate_grant(&newer)
        .expect("activation must work");
    assert_eq!(activation.grant_id, newer, "the new consent must win");
    let superseded = activation
        .superseded
        .expect("the old grant must be reported as superseded");
    assert_eq!(
        superseded.revoked,
        vec![old.clone()],
        "exactly the old grant is revoked"
    );
    assert_eq!(
        f.grant(&old).revoked_reason,
        Some(RevocationReason::Superseded),
        "the reason must be stored"
    );
    assert!(
        !f.access(&old_artefacts.access).is_usable(f.clock_now()),
        "the old grant's token must stop working"
    );

    match events.try_recv() {
        Ok(StoreEvent::GrantsRevoked { grant_ids, reason }) => {
            assert_eq!(
                (grant_ids, reason),
                (vec![old], RevocationReason::Superseded),
                "the revocation must be announced"
            );
        }
        other => panic!("expected GrantsRevoked first, got {other:?}"),
    }
    assert!(
        matches!(events.try_recv(), Ok(StoreEvent::GrantActivated { grant_id }) if grant_id == newer),
        "the activation must be announced after the revocation"
    );
}

#[test]
fn a_revoked_grant_cannot_be_activated_or_given_tokens() {
    let f = fixture();
    let connection = f.connection("dead");
    let client = f.client();
    let grant = f.pending_grant(&client, &connection, "mcp:access");
    f.store
        .revoke_grants(std::slice::from_ref(&grant), RevocationReason::UserRevoked)
        .expect("revoking a pending grant must work");
    assert!(
        matches!(
            f.store.activate_grant(&grant),
            Err(StoreError::GrantState {
                actual: GrantStatus::Revoked,
                ..
            })
        ),
        "a revoked grant must never come back"
    );
    let err = f
        .store
        .write_blocking(|tx| {
            access_tokens::insert(
                tx,
                &access_tokens::NewAccessToken {
                    token_hash: hash(9, 9),
                    grant_id: grant.clone(),
                    client_id: client.clone(),
                    resource: "r".into(),
                    scopes: "mcp:access".into(),
                    expires_at: T0 + HOUR,
                },
                T0,
            )
        })
        .expect_err("a token for a revoked grant must be refused");
    assert!(
        matches!(err, StoreError::GrantState { .. }),
        "the refusal must name the grant state, got {err:?}"
    );
}

#[test]
fn access_token_lookup_reflects_expiry_config_and_enabled() {
    let f = fixture();
    let connection = f.connection("hot");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);
    let a = f.artefacts(&grant);

    let row = f.access(&a.access);
    assert!(
        row.is_usable(f.clock_now()),
        "a fresh token on an active grant must be usable"
    );
    assert_eq!(
        (row.connection_slug.as_str(), &row.grant_id),
        ("hot", &grant),
        "the lookup must join the grant and connection"
    );
    assert_eq!(
        f.store
            .read_blocking(|c| access_tokens::lookup(c, &hash(0xEE, 1)))
            .expect("lookup must work"),
        None,
        "an unknown hash finds nothing"
    );

    f.clock.advance(HOUR);
    assert!(
        !f.access(&a.access).is_usable(f.clock_now()),
        "a token is dead at its expiry instant"
    );
    f.clock.set(T0);

    let mut stale = f.access(&a.access);
    stale.connection_config_version += 1;
    assert!(
        !stale.is_usable(T0),
        "a token whose grant predates the connection's config must be refused"
    );
    let mut disabled = f.access(&a.access);
    disabled.connection_enabled = false;
    assert!(
        !disabled.is_usable(T0),
        "a token of a disabled connection must be refused"
    );
}

#[test]
fn a_code_is_redeemed_once_and_reuse_revokes_the_grant() {
    let f = fixture();
    let connection = f.connection("code");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);
    let a = f.artefacts(&grant);
    let mut events = f.store.subscribe();

    let first = f
        .store
        .write_with_events_blocking(|tx| {
            Ok((authorization_codes::redeem(tx, &a.code, T0)?, vec![]))
        })
        .expect("redeeming must work");
    assert!(
        matches!(&first, Redemption::Redeemed(row) if row.grant_id == grant),
        "the first use must succeed"
    );

    let second = f
        .store
        .write_with_events_blocking(|tx| {
            let r = authorization_codes::redeem(tx, &a.code, T0)?;
            let events = match &r {
                Redemption::Reused(outcome) => outcome.event().into_iter().collect(),
                _ => vec![],
            };
            Ok((r, events))
        })
        .expect("redeeming again must not error");
    assert!(
        matches!(&second, Redemption::Reused(o) if o.revoked == vec![grant.clone()] && o.reason == RevocationReason::AuthorizationCodeReuse),
        "a second use must revoke the grant, got {second:?}"
    );
    assert_eq!(
        f.grant(&grant).status,
        GrantStatus::Revoked,
        "the revocation must be committed"
    );
    assert!(
        !f.access(&a.access).is_usable(T0),
        "tokens from the grant must die with it"
    );
    assert!(
        matches!(events.try_recv(), Ok(StoreEvent::GrantsRevoked { .. })),
        "the revocation must be announced"
    );

    let unknown = f
        .store
        .write_blocking(|tx| authorization_codes::redeem(tx, &hash(0, 0), T0))
        .expect("redeem must work");
    assert_eq!(
        unknown,
        Redemption::Unknown,
        "an unknown code is reported as such"
    );
}

#[test]
fn an_expired_code_is_refused() {
    let f = fixture();
    let connection = f.connection("late");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);
    let a = f.artefacts(&grant);
    let result = f
        .store
        .write_blocking(|tx| authorization_codes::redeem(tx, &a.code, T0 + 60 * SECOND))
        .expect("redeem must work");
    assert_eq!(result, Redemption::Expired, "a code is dead at 60 s");
}

#[test]
fn refresh_tokens_rotate_within_their_family_and_reuse_revokes() {
    let f = fixture();
    let connection = f.connection("refresh");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);
    let a = f.artefacts(&grant);
    let child = hash(0xF1, 1);

    let wrong = f
        .store
        .write_blocking(|tx| {
            refresh_tokens::rotate(tx, &a.refresh, &ClientId::generate(), &child, T0 + HOUR, T0)
        })
        .expect("rotate must work");
    assert_eq!(
        wrong,
        Rotation::WrongClient,
        "another client's token must not rotate"
    );

    let rotated = f
        .store
        .write_blocking(|tx| refresh_tokens::rotate(tx, &a.refresh, &client, &child, T0 + HOUR, T0))
        .expect("rotate must work");
    let Rotation::Rotated(row) = rotated else {
        panic!("a fresh token must rotate, got {rotated:?}");
    };
    let parent = f
        .store
        .read_blocking(|c| refresh_tokens::lookup(c, &a.refresh))
        .expect("lookup must work")
        .expect("parent kept");
    let stored_child = f
        .store
        .read_blocking(|c| refresh_tokens::lookup(c, &child))
        .expect("lookup must work")
        .expect("child stored");
    assert_eq!(
        parent.used_at,
        Some(T0),
        "the parent must be marked rotated away"
    );
    assert_eq!(
        stored_child.family_id, parent.family_id,
        "the child must stay in the parent's family"
    );
    assert_eq!(
        stored_child.parent_hash,
        Some(a.refresh),
        "the child must point at its parent"
    );
    assert_eq!(
        row.family_id, parent.family_id,
        "the outcome must describe the child"
    );
    assert!(stored_child.is_usable(T0), "the child must be usable");

    let reused = f
        .store
        .write_blocking(|tx| {
            refresh_tokens::rotate(tx, &a.refresh, &client, &hash(0xF2, 2), T0 + HOUR, T0)
        })
        .expect("rotate must work");
    assert!(
        matches!(&reused, Rotation::Reused(o) if o.reason == RevocationReason::RefreshTokenReuse && o.revoked == vec![grant]),
        "presenting a rotated-away token must revoke the grant, got {reused:?}"
    );
    let stored_child = f
        .store
        .read_blocking(|c| refresh_tokens::lookup(c, &child))
        .expect("lookup must work")
        .expect("child kept");
    assert!(
        !stored_child.is_usable(T0),
        "the whole family must be dead after reuse"
    );
}

#[test]
fn authorization_requests_are_decided_once_and_expire() {
    let f = fixture();
    let connection = f.connection("consent");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);
    let a = f.artefacts(&grant);
    let b = f.artefacts(&grant);

    let decided = f
        .store
        .write_blocking(|tx| authorization_requests::decide(tx, &a.request, Decision::Approve, T0))
        .expect("decide must work");
    assert!(decided, "a pending request can be approved");
    let again = f
        .store
        .write_blocking(|tx| authorization_requests::decide(tx, &a.request, Decision::Deny, T0))
        .expect("decide must work");
    assert!(!again, "a decided request cannot be decided again");

    let late = f
        .store
        .write_blocking(|tx| {
            authorization_requests::decide(
                tx,
                &b.request,
                Decision::Approve,
                T0 + 10 * crate::clock::MINUTE,
            )
        })
        .expect("decide must work");
    assert!(!late, "a request is dead after 10 minutes");
    let row = f
        .store
        .read_blocking(|c| authorization_requests::get(c, &b.request))
        .expect("get must work")
        .expect("row kept");
    assert_eq!(
        row.status,
        RequestStatus::Expired,
        "a late decision marks the request expired"
    );
}

/// Two grants with every artefact; revoking one must kill all of its artefacts and none of the other's.
#[test]
fn revocation_cascades_to_every_artefact_of_the_grant_only() {
    let f = fixture();
    let connection = f.connection("cascade");
    let client = f.client();
    let other_client = f.client();
    let target = f.active_grant(&client, &connection);
    let bystander = f.active_grant(&other_client, &connection);
    let t = f.artefacts(&target);
    let b = f.artefacts(&bystander);
    let mut events = f.store.subscribe();
    f.clock.advance(SECOND);
    let now = f.clock_now();

    let outcome = f
        .store
        .revoke_grants(std::slice::from_ref(&target), RevocationReason::UserRevoked)
        .expect("revocation must work");
    assert_eq!(
        outcome.revoked,
        vec![target.clone()],
        "the grant must be reported revoked"
    );
    assert_eq!(
        (
            outcome.authorization_requests,
            outcome.authorization_codes,
            outcome.access_tokens,
            outcome.refresh_tokens
        ),
        (1, 1, 1, 1),
        "each artefact kind must be cascaded once"
    );

    let g = f.grant(&target);
    assert_eq!(
        (g.status, g.revoked_reason, g.revoked_at),
        (
            GrantStatus::Revoked,
            Some(RevocationReason::UserRevoked),
            Some(now)
        ),
        "the grant must carry reason and time"
    );

    let access = f.access(&t.access);
    assert_eq!(
        access.revoked_at,
        Some(now),
        "the access token must be revoked in its own row"
    );
    assert!(
        !access.is_usable(now),
        "the access token must be refused by the hot path"
    );
    let code = f
        .store
        .read_blocking(|c| authorization_codes::lookup(c, &t.code))
        .expect("lookup")
        .expect("code kept");
    assert_eq!(
        code.revoked_at,
        Some(now),
        "the unused code must be revoked"
    );
    assert!(!code.is_usable(now), "the code must be unusable");
    let refresh = f
        .store
        .read_blocking(|c| refresh_tokens::lookup(c, &t.refresh))
        .expect("lookup")
        .expect("token kept");
    assert_eq!(
        refresh.revoked_at,
        Some(now),
        "the refresh token must be revoked"
    );
    let request = f
        .store
        .read_blocking(|c| authorization_requests::get(c, &t.request))
        .expect("get")
        .expect("request kept");
    assert_eq!(
        request.status,
        RequestStatus::Revoked,
        "the pending request must be revoked"
    );
    assert!(
        !request.is_pending(now),
        "a revoked request cannot be decided"
    );

    assert!(
        f.access(&b.access).is_usable(now),
        "another grant's access token must keep working"
    );
    let b_code = f
        .store
        .read_blocking(|c| authorization_codes::lookup(c, &b.code))
        .expect("lookup")
        .expect("code kept");
    let b_refresh = f
        .store
        .read_blocking(|c| refresh_tokens::lookup(c, &b.refresh))
        .expect("lookup")
        .expect("token kept");
    let b_request = f
        .store
        .read_blocking(|c| authorization_requests::get(c, &b.request))
        .expect("get")
        .expect("kept");
    assert!(
        b_code.is_usable(now) && b_refresh.is_usable(now) && b_request.is_pending(now),
        "another grant's artefacts must be untouched"
    );
    assert_eq!(
        f.grant(&bystander).status,
        GrantStatus::Active,
        "another grant must stay active"
    );

    let audit = f
        .store
        .read_blocking(|c| audit::list_for_grant(c, &target))
        .expect("audit must be readable");
    let revoked: Vec<_> = audit
        .iter()
        .filter(|e| e.kind == AuditKind::GrantRevoked)
        .collect();
    assert_eq!(
        revoked.len(),
        1,
        "exactly one revocation event must be written"
    );
    assert_eq!(
        (
            revoked[0].reason.as_deref(),
            revoked[0].client_id.as_ref(),
            revoked[0].connection_id.as_ref()
        ),
        (Some("user_revoked"), Some(&client), Some(&connection)),
        "the audit event must name reason, client and connection"
    );
    match events.try_recv() {
        Ok(StoreEvent::GrantsRevoked { grant_ids, reason }) => {
            assert_eq!(
                (grant_ids, reason),
                (vec![target], RevocationReason::UserRevoked),
                "the event must name the grant and reason"
            );
        }
        other => panic!("a subscriber must be told after commit, got {other:?}"),
    }
}

#[test]
fn revocation_is_idempotent() {
    let f = fixture();
    let connection = f.connection("idem");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);
    f.store
        .revoke_grants(std::slice::from_ref(&grant), RevocationReason::UserRevoked)
        .expect("first revocation must work");
    let first = f.grant(&grant);
    let audit_before = f.count("SELECT count(*) FROM audit_events");
    let mut events = f.store.subscribe();
    f.clock.advance(HOUR);

    let again = f
        .store
        .revoke_grants(
            &[grant.clone(), grant.clone()],
            RevocationReason::ConnectionDeleted,
        )
        .expect("revoking again must work");
    assert!(again.revoked.is_empty(), "nothing is newly revoked");
    assert_eq!(
        again.already_revoked,
        vec![grant.clone()],
        "the grant is reported once as already revoked"
    );
    assert_eq!(
        f.grant(&grant),
        first,
        "the original reason and time must be kept"
    );
    assert_eq!(
        f.count("SELECT count(*) FROM audit_events"),
        audit_before,
        "no audit event for a no-op"
    );
    assert!(events.try_recv().is_err(), "no event for a no-op");
}

#[test]
fn an_unknown_id_fails_the_whole_revocation() {
    let f = fixture();
    let connection = f.connection("atomic1");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);
    let a = f.artefacts(&grant);
    let audit_before = f.count("SELECT count(*) FROM audit_events");
    let mut events = f.store.subscribe();

    let err = f
        .store
        .revoke_grants(
            &[grant.clone(), GrantId::new()],
            RevocationReason::UserRevoked,
        )
        .expect_err("an unknown grant id must fail the call");
    assert!(
        matches!(err, StoreError::NotFound { kind: "grant", .. }),
        "the error must name the missing grant, got {err:?}"
    );
    assert_eq!(
        f.grant(&grant).status,
        GrantStatus::Active,
        "the known grant must not be revoked half-way"
    );
    assert!(
        f.access(&a.access).is_usable(f.clock_now()),
        "its token must still work"
    );
    assert_eq!(
        f.count("SELECT count(*) FROM audit_events"),
        audit_before,
        "no audit event must survive the rollback"
    );
    assert!(
        events.try_recv().is_err(),
        "nothing rolled back may be announced"
    );
}

#[test]
fn a_failure_mid_cascade_leaves_nothing_half_revoked() {
    let f = fixture();
    let connection = f.connection("atomic2");
    let client = f.client();
    let other_client = f.client();
    let first = f.active_grant(&client, &connection);
    let second = f.active_grant(&other_client, &connection);
    let a = f.artefacts(&first);
    let b = f.artefacts(&second);
    let audit_before = f.count("SELECT count(*) FROM audit_events");
    // Fail the refresh-token step of the *second* grant: by then the first grant, all its artefacts
    // and its audit event, and the second grant's earlier steps, have been written.
    let trigger = format!(
        "CREATE TRIGGER fail_cascade BEFORE UPDATE OF revoked_at ON refresh_tokens
         WHEN NEW.grant_id = '{second}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
    );
    f.store
        .write_blocking(move |tx| Ok(tx.execute_batch(&trigger)?))
        .expect("the trigger must install");
    let mut events = f.store.subscribe();

    let err = f
        .store
        .revoke_grants(
            &[first.clone(), second.clone()],
            RevocationReason::ConnectionDisabled,
        )
        .expect_err("the injected failure must surface");
    assert!(
        err.to_string().contains("injected failure"),
        "the error must be the injected one, got {err}"
    );
    for (grant, artefacts) in [(&first, &a), (&second, &b)] {
        assert_eq!(
            f.grant(grant).status,
            GrantStatus::Active,
            "no grant may stay revoked after the rollback"
        );
        let access = f.access(&artefacts.access);
        assert_eq!(
            access.revoked_at, None,
            "no access token may stay revoked after the rollback"
        );
        let code = f
            .store
            .read_blocking(|c| authorization_codes::lookup(c, &artefacts.code))
            .expect("lookup")
            .expect("kept");
        assert_eq!(
            code.revoked_at, None,
            "no code may stay revoked after the rollback"
        );
        let request = f
            .store
            .read_blocking(|c| authorization_requests::get(c, &artefacts.request))
            .expect("get")
            .expect("kept");
        assert_eq!(
            request.status,
            RequestStatus::Pending,
            "no request may stay revoked after the rollback"
        );
    }
    assert_eq!(
        f.count("SELECT count(*) FROM audit_events"),
        audit_before,
        "no audit event may survive the rollback"
    );
    assert!(
        events.try_recv().is_err(),
        "nothing rolled back may be announced"
    );
}

#[test]
fn connection_and_client_helpers_revoke_only_their_grants() {
    let f = fixture();
    let c1 = f.connection("c1");
    let c2 = f.connection("c2");
    let client = f.client();
    let other = f.client();
    let g1 = f.active_grant(&client, &c1);
    let g2 = f.active_grant(&client, &c2);
    let g3 = f.active_grant(&other, &c2);
    let pending = f.pending_grant(&other, &c1, "mcp:access");

    let by_connection = f
        .store
        .revoke_grants_for_connection(&c1, RevocationReason::ConnectionDisabled)
        .expect("must work");
    let mut revoked = by_connection.revoked;
    let mut expected = vec![g1.clone(), pending];
    revoked.sort();
    expected.sort();
    assert_eq!(
        revoked, expected,
        "every live grant of the connection, pending included"
    );
    let by_client = f
        .store
        .revoke_grants_for_client(&client, RevocationReason::ClientForgotten)
        .expect("must work");
    assert_eq!(
        by_client.revoked,
        vec![g2],
        "only the client's grants that were still live"
    );
    assert_eq!(
        f.grant(&g3).status,
        GrantStatus::Active,
        "a grant of another client on another connection stays"
    );
    assert_eq!(
        f.grant(&g1).revoked_reason,
        Some(RevocationReason::ConnectionDisabled),
        "the first reason sticks"
    );
}

#[test]
fn connection_edits_bump_config_version_only_when_material() {
    let f = fixture();
    let id = f.connection("edit");
    let client = f.client();
    let grant = f.active_grant(&client, &id);
    let a = f.artefacts(&grant);
    f.store
        .write_blocking(|tx| {
            upstream_credentials::put(
                tx,
                &UpstreamCredential {
                    connection_id: id.clone(),
                    access_token_sealed: Some(vec![7; 40]),
                    refresh_token_sealed: None,
                    expires_at: Some(T0 + HOUR),
                    scopes: Some("read".into()),
                    issuer: None,
                    token_type: Some("Bearer".into()),
                    dcr_client_json_sealed: None,
                    updated_at: 0,
                },
                T0,
            )
        })
        .expect("storing a credential must work");

    let cosmetic = f
        .store
        .update_connection(
            &id,
            &ConnectionEdit {
                name: Some("Renamed".into()),
                slug: Some("renamed".into()),
                settings: None,
            },
        )
        .expect("a rename must work");
    assert_eq!(
        (cosmetic.material, cosmetic.config_version),
        (false, 1),
        "a rename is not material"
    );
    assert!(
        f.access(&a.access).is_usable(T0),
        "a rename must not break tokens"
    );
    let by_slug = f
        .store
        .read_blocking(|c| connections::get_by_slug(c, "renamed"))
        .expect("get")
        .expect("found by new slug");
    assert_eq!(by_slug.name, "Renamed", "the edit must be stored");

    let mut new_settings = settings("https://moved.example/mcp");
    new_settings.auth_kind = AuthKind::OAuth;
    let material = f
        .store
        .update_connection(
            &id,
            &ConnectionEdit {
                settings: Some(new_settings),
                ..ConnectionEdit::default()
            },
        )
        .expect("a material edit must work");
    assert_eq!(
        (material.material, material.config_version),
        (true, 2),
        "a URL change is material and bumps the version"
    );
    assert_eq!(
        material.revocation.map(|o| o.revoked),
        Some(vec![grant.clone()]),
        "the grant must be revoked"
    );
    assert_eq!(
        f.grant(&grant).revoked_reason,
        Some(RevocationReason::ConnectionChanged),
        "with the right reason"
    );
    let row = f
        .store
        .read_blocking(|c| connections::get(c, &id))
        .expect("get")
        .expect("still there");
    assert_eq!(
        row.status,
        ConnectionStatus::NeedsAuth,
        "new upstream settings need a new sign-in"
    );
    assert_eq!(
        f.store
            .read_blocking(|c| upstream_credentials::get(c, &id))
            .expect("get"),
        None,
        "a material change purges the upstream credential"
    );

    f.connection("taken");
    let clash = f.store.update_connection(
        &id,
        &ConnectionEdit {
            slug: Some("taken".into()),
            ..ConnectionEdit::default()
        },
    );
    assert!(
        matches!(clash, Err(StoreError::Conflict(_))),
        "a duplicate slug is a conflict, got {clash:?}"
    );
    assert_eq!(
        f.store
            .read_blocking(connections::list)
            .expect("list")
            .len(),
        2,
        "both connections are listed"
    );
}

#[test]
fn deleting_a_connection_revokes_then_removes_its_grants() {
    let f = fixture();
    let id = f.connection("gone");
    let client = f.client();
    let grant = f.active_grant(&client, &id);
    f.artefacts(&grant);
    let mut events = f.store.subscribe();

    let outcome = f.store.delete_connection(&id).expect("deleting must work");
    assert_eq!(
        outcome.revoked,
        vec![grant],
        "the grant is revoked before the delete"
    );
    assert!(
        matches!(
            events.try_recv(),
            Ok(StoreEvent::GrantsRevoked {
                reason: RevocationReason::ConnectionDeleted,
                ..
            })
        ),
        "and announced"
    );
    assert_eq!(
        f.count("SELECT count(*) FROM grants"),
        0,
        "the grant rows go with the connection"
    );
    assert_eq!(
        f.count("SELECT count(*) FROM access_tokens"),
        0,
        "and so do their tokens"
    );
    let kinds: Vec<_> = f
        .store
        .read_blocking(|c| audit::list_recent(c, 10))
        .expect("audit")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&AuditKind::GrantRevoked) && kinds.contains(&AuditKind::ConnectionDeleted),
        "the audit log keeps the story: {kinds:?}"
    );
}

#[test]
fn client_reregistration_revokes_only_when_it_shrinks() {
    let f = fixture();
    let connection = f.connection("dcr");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);

    let grown = registration(&client, &[REDIRECT, "http://localhost/callback"]);
    let outcome = f
        .store
        .upsert_client(&grown)
        .expect("re-registering must work");
    assert!(
        !outcome.created && !outcome.shrunk && outcome.revocation.is_none(),
        "adding a redirect URI must not revoke"
    );
    let mut renamed = grown;
    renamed.client_name = Some("Another Name".into());
    renamed.redirect_uris.reverse();
    assert!(
        !f.store.upsert_client(&renamed).expect("must work").shrunk,
        "renaming and reordering are cosmetic"
    );
    assert_eq!(
        f.grant(&grant).status,
        GrantStatus::Active,
        "the grant must survive cosmetic changes"
    );
    assert!(
        f.store
            .read_blocking(|c| clients::has_redirect_uri(c, &client, "http://localhost/callback"))
            .expect("lookup"),
        "the added redirect URI must be registered"
    );

    let shrunk = registration(&client, &["http://localhost/callback"]);
    let outcome = f
        .store
        .upsert_client(&shrunk)
        .expect("re-registering must work");
    assert!(outcome.shrunk, "dropping a redirect URI is a shrink");
    assert_eq!(
        outcome.revocation.map(|o| o.revoked),
        Some(vec![grant.clone()]),
        "and revokes the client's grants"
    );
    assert_eq!(
        f.grant(&grant).revoked_reason,
        Some(RevocationReason::ClientMetadataShrunk),
        "with the right reason"
    );
    let stored = f
        .store
        .read_blocking(|c| clients::get(c, &client))
        .expect("get")
        .expect("client kept");
    assert_eq!(
        stored.registration.redirect_uris,
        vec!["http://localhost/callback".to_owned()],
        "the new URIs replace the old"
    );

    let mut fewer_scopes = shrunk.clone();
    fewer_scopes.scope = None;
    assert!(
        clients::shrinks(&shrunk, &fewer_scopes),
        "dropping a scope is a shrink"
    );
    let mut fewer_grant_types = shrunk.clone();
    fewer_grant_types.grant_types.pop();
    assert!(
        clients::shrinks(&shrunk, &fewer_grant_types),
        "dropping a grant type is a shrink"
    );
}

#[test]
fn forgetting_a_client_revokes_and_removes_it() {
    let f = fixture();
    let connection = f.connection("forget");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);
    let outcome = f
        .store
        .forget_client(&client)
        .expect("forgetting must work")
        .expect("the client existed");
    assert_eq!(outcome.revoked, vec![grant], "its grants are revoked first");
    assert_eq!(
        f.store
            .read_blocking(|c| clients::get(c, &client))
            .expect("get"),
        None,
        "the client is gone"
    );
    assert_eq!(
        f.store.forget_client(&client).expect("must work"),
        None,
        "forgetting twice finds nothing"
    );
}

#[test]
fn grants_are_listed_and_touched() {
    let f = fixture();
    let connection = f.connection("list");
    let client = f.client();
    let other = f.client();
    let active = f.active_grant(&client, &connection);
    let revoked = f.active_grant(&other, &connection);
    f.store
        .revoke_grants(
            std::slice::from_ref(&revoked),
            RevocationReason::UserRevoked,
        )
        .expect("revoke");

    let active_only = f
        .store
        .read_blocking(|c| {
            grants::list(
                c,
                &GrantFilter {
                    active_only: true,
                    ..GrantFilter::default()
                },
            )
        })
        .expect("list");
    assert_eq!(
        active_only.iter().map(|g| &g.id).collect::<Vec<_>>(),
        vec![&active],
        "only the active grant"
    );
    let all = f
        .store
        .read_blocking(|c| grants::list(c, &GrantFilter::default()))
        .expect("list");
    assert_eq!(all.len(), 2, "both grants when all are asked for");
    let of_client = f
        .store
        .read_blocking(|c| {
            grants::list(
                c,
                &GrantFilter {
                    client_id: Some(other.clone()),
                    ..GrantFilter::default()
                },
            )
        })
        .expect("list");
    assert_eq!(
        of_client.iter().map(|g| &g.id).collect::<Vec<_>>(),
        vec![&revoked],
        "filtered by client"
    );
    assert_eq!(
        f.store
            .read_blocking(|c| grants::count_active_for_connection(c, &connection))
            .expect("count"),
        1,
        "one active grant to warn about"
    );

    let touched = f
        .store
        .write_blocking(|tx| {
            grants::touch_last_used(tx, &[active.clone(), revoked.clone()], T0 + 5 * SECOND)
        })
        .expect("touch");
    assert_eq!(touched, 1, "only the active grant records use");
    let older = f
        .store
        .write_blocking(|tx| grants::touch_last_used(tx, std::slice::from_ref(&active), T0))
        .expect("touch");
    assert_eq!(older, 0, "last_used_at never goes backwards");
    assert_eq!(
        f.grant(&active).last_used_at,
        Some(T0 + 5 * SECOND),
        "the newest use is kept"
    );
}

#[test]
fn audit_events_are_listed_newest_first() {
    let f = fixture();
    let detail = serde_json::json!({ "n": 1 });
    f.store
        .write_blocking(|tx| {
            audit::append(
                tx,
                T0,
                AuditKind::ConnectionCreated,
                &audit::AuditSubject::default(),
            )?;
            audit::append(
                tx,
                T0 + 1,
                AuditKind::ConnectionUpdated,
                &audit::AuditSubject {
                    detail: Some(&detail),
                    ..Default::default()
                },
            )
        })
        .expect("append must work");
    let recent = f
        .store
        .read_blocking(|c| audit::list_recent(c, 1))
        .expect("list");
    assert_eq!(recent.len(), 1, "the limit must be honoured");
    assert_eq!(
        (recent[0].kind, recent[0].detail.clone()),
        (AuditKind::ConnectionUpdated, Some(detail)),
        "newest first, detail round-trips"
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
    fn hold_all(store: &super::Store, left: usize) -> bool {
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
        hold_all(&f.store, super::READ_POOL_SIZE),
        "with every reader busy, try_read_now hands the work back without running or waiting"
    );
}
