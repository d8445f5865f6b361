//! What a grant is given and how it is looked up: access tokens (expiry, config version, a disabled
//! connection), authorization codes redeemed once (reuse revokes the grant), refresh tokens rotating
//! within their family (reuse revokes), and authorization requests decided once before they expire.

use crate::clock::{HOUR, SECOND};
use crate::store::access_tokens;
use crate::store::authorization_codes::{self, Redemption};
use crate::store::authorization_requests::{self, Decision, RequestStatus};
use crate::store::grants::GrantStatus;
use crate::store::refresh_tokens::{self, Rotation};
use crate::store::test_support::{T0, fixture, hash};
use crate::store::*;

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
