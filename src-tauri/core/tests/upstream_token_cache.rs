//! The running gateway's in-memory upstream token (`oauth::upstream::refresh::UpstreamTokens`)
//! against what happens to the connection elsewhere: a sign-out, or a sign-in as someone else,
//! done by another process (here: a second `UpstreamOAuth`, as the CLI or the window's sign-out
//! have) is seen on the proxy's very next request, never after the cached token expires. And the
//! issue's proof of single-flight refresh through the real gateway: 50 concurrent MCP requests on an
//! expired upstream token cause exactly one refresh at the authorization server.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use gatehouse_core::clock::{HOUR, MINUTE, ManualClock};
use gatehouse_core::oauth::upstream::flow::CallbackQuery;
use gatehouse_testkit::signin::*;

fn bearers(env: &Env) -> Vec<String> {
    env.upstream.mcp_bearers.lock().unwrap().clone()
}

fn query(callback: &str, name: &str) -> Option<String> {
    url::Url::parse(callback)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn a_sign_out_elsewhere_stops_the_cached_token_at_the_next_request() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    let sent = bearers(&env).len();

    // The AS keeps accepting the token (its revocation endpoint fails), so only Gatehouse itself
    // can stop using it.
    *env.upstream.revoke_fails.lock().unwrap() = true;
    env.cli
        .sign_out(&env.connection)
        .await
        .unwrap_or_else(|e| panic!("sign-out: {e}"));

    let answer = env.call(&local).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not signed in")),
        "the client hears that Gatehouse is signed out: {answer}"
    );
    assert_eq!(
        bearers(&env).len(),
        sent,
        "no request reached the upstream with the signed-out token"
    );
}

#[tokio::test]
async fn a_sign_in_elsewhere_is_used_at_the_next_request() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    let first = bearers(&env).last().cloned().expect("a bearer was sent");

    // A second sign-in completed by another process (the account may be someone else's).
    let callback = env.authorize().await;
    let completed = env
        .cli
        .complete_signin(&CallbackQuery {
            code: query(&callback, "code"),
            state: query(&callback, "state"),
            iss: query(&callback, "iss"),
            error: None,
            error_description: None,
        })
        .await;
    assert!(completed.is_ok(), "the second sign-in completes");

    assert_eq!(env.call(&local).await["result"]["ok"], true);
    let second = bearers(&env).last().cloned().expect("a bearer was sent");
    assert!(second.starts_with(AT_PREFIX), "an upstream token: {second}");
    assert_ne!(
        second, first,
        "the gateway must send the new sign-in's token, not the one it had cached"
    );
}

#[tokio::test]
async fn fifty_concurrent_requests_on_an_expired_token_refresh_once() {
    let clock = ManualClock::new(1_780_000_000_000);
    let env =
        Env::in_front_of_with_clock(start_oauth_upstream().await, Arc::new(clock.clone())).await;
    env.sign_in().await;
    let local = env.local_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    env.upstream.refresh_calls.store(0, Ordering::SeqCst);

    // The upstream token lives an hour (the fake AS's expires_in); the local token an hour too.
    clock.advance(HOUR - MINUTE);
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let http = env.http.clone();
            let url = format!("{}/mcp/up", env.gateway.base_url());
            let local = local.clone();
            tokio::spawn(async move {
                http.post(url)
                    .bearer_auth(local)
                    .header("accept", "application/json, text/event-stream")
                    .header("content-type", "application/json")
                    .body(r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#)
                    .send()
                    .await
                    .unwrap()
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()
            })
        })
        .collect();
    for call in calls {
        let answer = call.await.unwrap();
        assert_eq!(
            answer["result"]["ok"], true,
            "every request goes through: {answer}"
        );
    }
    assert_eq!(
        env.upstream.refresh_calls.load(Ordering::SeqCst),
        1,
        "50 concurrent requests on an expiring upstream token: exactly one refresh at the AS"
    );
    let sent = bearers(&env);
    let last_fifty: std::collections::HashSet<_> = sent.iter().rev().take(50).collect();
    assert_eq!(
        last_fifty.len(),
        1,
        "all fifty went out with the one refreshed token"
    );
}
