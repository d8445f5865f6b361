//! The upstream sign-in's `state` is stored hashed and lives [`SIGNIN_TTL`] (a `state` is
//! single-use and short-lived): a callback just inside it completes the sign-in, one at the TTL is
//! refused before any code is exchanged, and the CLI waiting on it hears "expired". Time moves with
//! a `ManualClock`.

use std::sync::Arc;

use gatehouse_core::clock::{Clock, ManualClock, SystemClock};
use gatehouse_core::oauth::upstream::flow::{SIGNIN_TTL, SigninProgress};
use gatehouse_core::oauth::upstream::{SigninStart, UpstreamOAuth};
use gatehouse_core::store::connections::ConnectionStatus;
use gatehouse_testkit::signin::*;

/// Starts a sign-in and lets the AS approve it: the start and the callback URL.
async fn approved(env: &Env) -> (SigninStart, String) {
    let start = env
        .cli
        .start_signin(&env.connection, &env.redirect_uri())
        .await
        .unwrap_or_else(|e| panic!("start_signin: {e}"));
    let r = env.http.get(&start.authorization_url).send().await.unwrap();
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    (start, callback)
}

#[tokio::test]
async fn a_state_older_than_its_ttl_is_refused_before_any_exchange() {
    let clock = ManualClock::new(SystemClock.now());
    let env =
        Env::in_front_of_with_clock(start_oauth_upstream().await, Arc::new(clock.clone())).await;

    let (start, callback) = approved(&env).await;
    assert_eq!(start.expires_at, clock.now() + SIGNIN_TTL);
    clock.advance(SIGNIN_TTL);
    assert_eq!(
        UpstreamOAuth::signin_progress(&env.vault, &start.signin_id)
            .await
            .unwrap(),
        SigninProgress::Expired,
        "the CLI waiting on it hears it expired"
    );
    let (status, page) = env.deliver(&callback).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("expired"), "the page says why: {page}");
    assert!(
        env.upstream.token_forms.lock().unwrap().is_empty(),
        "an expired state never reaches the token endpoint"
    );
    assert_eq!(env.row().status, ConnectionStatus::NeedsAuth);

    let (start, callback) = approved(&env).await;
    clock.advance(SIGNIN_TTL - 1);
    let (status, page) = env.deliver(&callback).await;
    assert_eq!(
        status, 200,
        "a millisecond inside the TTL still works: {page}"
    );
    assert_eq!(
        UpstreamOAuth::signin_progress(&env.vault, &start.signin_id)
            .await
            .unwrap(),
        SigninProgress::Connected
    );
    assert_eq!(env.row().status, ConnectionStatus::Connected);
}
