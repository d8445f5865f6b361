//! Open streams through the proxy: a revocation closes an open GET stream, also when it is made
//! from another process (seen by the poll), and a shutdown ends open streams instead of waiting for
//! them.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use gatehouse_core::clock::SystemClock;
use gatehouse_core::crypto::KeyBackend;
use gatehouse_core::proxy;
use gatehouse_core::store::RevocationReason;
use gatehouse_core::vault::Vault;
use gatehouse_testkit::proxy::*;

#[tokio::test]
async fn revocation_closes_an_open_get_stream() {
    let env = Env::new().await;
    let (grant, token) = env.all_tools_token();
    let sid = env.initialize(&token).await;
    let r = env
        .http
        .get(env.url("a"))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/event-stream")
    );
    let get = env
        .upstream_requests()
        .into_iter()
        .find(|(m, _, _)| m == "GET")
        .unwrap_or_else(|| panic!("the GET reached the upstream"));
    assert_eq!(
        get.1.get("last-event-id").and_then(|v| v.to_str().ok()),
        Some("0")
    );
    assert!(get.1.get("authorization").is_none());

    let mut stream = r.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap_or_else(|_| panic!("the priming event arrives without buffering"));
    assert!(first.is_some(), "the stream is open");

    env.vault
        .store()
        .revoke_grants_async(vec![grant], RevocationReason::UserRevoked)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "a revoke ends the grant's open streams");
    let r = env
        .post("a", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "and the next request is refused");
}

#[tokio::test]
async fn a_revoke_from_another_process_closes_open_streams_by_poll() {
    let env = Env::new().await;
    let (grant, token) = env.all_tools_token();
    let sid = env.initialize(&token).await;
    let r = env
        .http
        .get(env.url("a"))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    assert!(stream.next().await.is_some(), "the stream is open");

    // `gatehoused grants revoke` in another process: another Store on the same file, whose events
    // the gateway never hears.
    let other = Vault::open(
        env.vault.data_dir(),
        KeyBackend::File,
        Arc::new(SystemClock),
    )
    .unwrap_or_else(|e| panic!("second vault: {e}"));
    other
        .store()
        .revoke_grants(&[grant], RevocationReason::UserRevoked)
        .unwrap_or_else(|e| panic!("{e}"));
    let ended = tokio::time::timeout(
        proxy::ProxyOptions::default().stream_recheck_every + Duration::from_secs(5),
        async { while let Some(Ok(_)) = stream.next().await {} },
    )
    .await;
    assert!(
        ended.is_ok(),
        "the poll of open streams' grants ends the stream"
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_instead_of_waiting_for_them() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();
    let sid = env.initialize(&token).await;
    let r = env
        .http
        .get(env.url("a"))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "the GET stream opens");
    let mut stream = r.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(
        first.is_ok_and(|c| c.is_some()),
        "the stream is open before the shutdown"
    );

    let Env {
        gateway, dir: _dir, ..
    } = env;
    let stopped = tokio::time::timeout(Duration::from_secs(10), gateway.shutdown()).await;
    assert!(
        stopped.is_ok_and(|r| r.is_ok()),
        "a graceful shutdown must end open SSE streams, not wait for clients to close them"
    );
}
