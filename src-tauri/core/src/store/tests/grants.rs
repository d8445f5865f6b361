//! The grant lifecycle: at most one active grant per binding, an identical binding reusing it, a
//! different one superseding it, a revoked grant never activated or given tokens again, and grants
//! listed and touched.

use crate::clock::{HOUR, SECOND};
use crate::store::access_tokens;
use crate::store::grants::{self, GrantFilter, GrantStatus};
use crate::store::test_support::{T0, fixture, hash};
use crate::store::*;

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
