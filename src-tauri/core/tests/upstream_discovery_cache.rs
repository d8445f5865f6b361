//! The discovery cache (`oauth::upstream::discovery::DiscoveryCache`): a discovery result is reused
//! for 5 minutes, keyed by the MCP URL and the connection's `config_version`, and dropped when the
//! upstream answers 401 (RFC 9728 §5.2: the new challenge may name new metadata). Fetches are counted
//! at the fake upstream and AS; time moves with an injected `ManualClock`, never by sleeping.

use std::sync::Arc;

use gatehouse_core::clock::{Clock, MINUTE, ManualClock, SystemClock};
use gatehouse_core::oauth::upstream::discovery::CACHE_TTL;
use gatehouse_core::store::connections::ConnectionEdit;
use gatehouse_testkit::signin::*;

/// How often discovery's three requests reached the fake servers so far.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Fetches {
    probes: usize,
    resource_metadata: usize,
    server_metadata: usize,
}

fn fetches(env: &Env) -> Fetches {
    let log = env.upstream.log.lock().unwrap();
    let count = |path: &str| log.iter().filter(|p| *p == path).count();
    Fetches {
        probes: count("POST /mcp"),
        resource_metadata: count("/.well-known/oauth-protected-resource/mcp"),
        server_metadata: count("/.well-known/oauth-authorization-server"),
    }
}

const ONE_DISCOVERY: Fetches = Fetches {
    probes: 1,
    resource_metadata: 1,
    server_metadata: 1,
};

const TWO_DISCOVERIES: Fetches = Fetches {
    probes: 2,
    resource_metadata: 2,
    server_metadata: 2,
};

async fn env_on(clock: &ManualClock) -> Env {
    Env::in_front_of_with_clock(start_oauth_upstream().await, Arc::new(clock.clone())).await
}

#[tokio::test]
async fn sign_ins_within_five_minutes_reuse_discovery_and_later_ones_refetch() {
    let clock = ManualClock::new(SystemClock.now());
    let env = env_on(&clock).await;
    env.sign_in().await;
    assert_eq!(fetches(&env), ONE_DISCOVERY, "the first sign-in discovers");

    clock.advance(CACHE_TTL - 1);
    env.sign_in().await;
    assert_eq!(
        fetches(&env),
        ONE_DISCOVERY,
        "a sign-in just under 5 minutes later fetches no metadata"
    );

    clock.advance(1);
    env.sign_in().await;
    assert_eq!(
        fetches(&env),
        TWO_DISCOVERIES,
        "5 minutes after the discovery, the next sign-in discovers again"
    );
    clock.advance(MINUTE);
    env.sign_in().await;
    assert_eq!(
        fetches(&env),
        TWO_DISCOVERIES,
        "and that result is cached in turn"
    );
}

#[tokio::test]
async fn a_material_edit_discovers_afresh() {
    let clock = ManualClock::new(SystemClock.now());
    let env = env_on(&clock).await;
    env.sign_in().await;
    let before = env.row().config_version;
    let mut settings = env.row().settings;
    settings.oauth.scopes = Some("mcp:read".into());
    let update = env
        .vault
        .store()
        .update_connection(
            &env.connection,
            &ConnectionEdit {
                settings: Some(settings),
                ..ConnectionEdit::default()
            },
        )
        .unwrap();
    assert!(update.material, "a scope change is material");
    assert_eq!(env.row().config_version, before + 1);

    env.sign_in().await;
    assert_eq!(
        fetches(&env),
        TWO_DISCOVERIES,
        "no time passed, yet the new config_version discovers again"
    );
    env.sign_in().await;
    assert_eq!(
        fetches(&env),
        TWO_DISCOVERIES,
        "the new version's result is cached"
    );
}

#[tokio::test]
async fn an_upstream_401_drops_the_cached_discovery() {
    let clock = ManualClock::new(SystemClock.now());
    let env = env_on(&clock).await;
    let gateway_oauth = env.gateway.upstream_oauth().clone();
    let callback = env.authorize_via(&gateway_oauth, &env.connection).await;
    let (status, page) = env.deliver(&callback).await;
    assert_eq!(status, 200, "{page}");
    let local = env.local_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    let after_sign_in = fetches(&env);
    assert_eq!(after_sign_in.resource_metadata, 1);

    // The upstream rejects the access token: the proxy drops the cached discovery, so the
    // refresh that follows discovers afresh (no time has passed: only the 401 explains it).
    env.upstream.access.lock().unwrap().clear();
    assert_eq!(
        env.call(&local).await["result"]["ok"],
        true,
        "refreshed and retried"
    );
    let after_401 = fetches(&env);
    assert_eq!(
        (after_401.resource_metadata, after_401.server_metadata),
        (2, 2),
        "the 401 dropped the cache: {after_401:?}"
    );

    env.upstream.access.lock().unwrap().clear();
    let _ = env.call(&local).await;
    assert_eq!(
        fetches(&env).resource_metadata,
        3,
        "every 401 drops it again"
    );
}
