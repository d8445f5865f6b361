//! The revocation cascade: revoking a grant kills every artefact of that grant and none of
//! another's, is idempotent, fails whole on an unknown id, leaves nothing half revoked when it fails
//! midway, and the connection and client helpers revoke only their own grants.

use crate::clock::{HOUR, SECOND};
use crate::store::audit::{self, AuditKind};
use crate::store::authorization_codes;
use crate::store::authorization_requests::{self, RequestStatus};
use crate::store::grants::GrantStatus;
use crate::store::refresh_tokens;
use crate::store::test_support::fixture;
use crate::store::*;

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
