//! A grant's token state: live access and refresh tokens are seen, revoked ones are not.

use super::super::test_support::fixture;
use super::*;
use crate::clock::HOUR;

#[test]
fn token_state_sees_live_tokens_and_forgets_revoked_ones() {
    let f = fixture();
    let connection = f.connection("tokens");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);
    let read = |f: &super::super::test_support::Fixture| {
        let grant = grant.clone();
        f.store
            .read_blocking(move |c| token_state(c, &grant))
            .expect("reading the token state must work")
    };
    assert_eq!(
        read(&f),
        GrantTokenState {
            issued: false,
            access_expires_at: None,
            refresh_expires_at: None
        },
        "a grant without tokens has nothing issued"
    );
    let now = f.clock_now();
    f.artefacts(&grant);
    let state = read(&f);
    assert!(state.issued, "tokens were issued");
    assert_eq!(
        state.access_expires_at,
        Some(now + HOUR),
        "the access token's expiry must show"
    );
    assert!(
        state.refresh_expires_at.is_some_and(|at| at > now + HOUR),
        "the refresh token's expiry must show: {state:?}"
    );
    f.store
        .revoke_grants(std::slice::from_ref(&grant), RevocationReason::UserRevoked)
        .expect("revoking must work");
    assert_eq!(
        read(&f),
        GrantTokenState {
            issued: true,
            access_expires_at: None,
            refresh_expires_at: None
        },
        "revoked tokens are issued but no longer count as live"
    );
}
