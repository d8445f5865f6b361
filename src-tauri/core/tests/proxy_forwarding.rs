//! What the proxy sends upstream and brings back: no token passthrough, the connection's credential
//! injected, session ids translated; upstream failures (401, 403, 5xx, a redirect not followed) and
//! an upstream that is down become JSON-RPC errors, never a 401 to the client; a legacy client
//! going away does not cancel the upstream call; the catalog lists the upstream's tools with the
//! credential; and a grant's last use is recorded off the request path.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use gatehouse_core::proxy;
use gatehouse_core::store::GrantId;
use gatehouse_core::store::connections::{self, ConnectionStatus};
use gatehouse_core::store::grants;
use gatehouse_testkit::proxy::*;
use serde_json::json;

#[tokio::test]
async fn no_passthrough_credential_injected_sessions_translated() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();
    let sid = env.initialize(&token).await;
    // The session id: visible ASCII, ≥ 128 random bits, never the upstream's (MCP 2025-11-25
    // transports §Session Management).
    assert_ne!(
        sid, UPSTREAM_SESSION,
        "the upstream's session id never reaches the client"
    );
    assert!(
        sid.len() >= 32 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "{sid}"
    );

    let r = env
        .post("a", Some(&token), &call(&json!(1), "echo"))
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-06-18")
        .header("cookie", "session=local-cookie")
        .header("x-forwarded-for", "10.0.0.1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    assert_ne!(
        header(&r, "mcp-session-id").as_deref(),
        Some(UPSTREAM_SESSION),
        "the upstream's id never reaches the client"
    );
    let body = json_of(r).await;
    assert_eq!(body["result"]["content"][0]["text"], "hi", "{body}");

    // No token passthrough: what reached the upstream.
    let seen = env.upstream_requests();
    assert_eq!(seen.len(), 2, "initialize and the call");
    for (_, headers, _) in &seen {
        assert_eq!(
            headers.get("x-api-key").and_then(|v| v.to_str().ok()),
            Some(SECRET),
            "the connection's credential is injected"
        );
        assert!(
            headers.get("authorization").is_none(),
            "no token passthrough"
        );
        assert!(headers.get("cookie").is_none(), "no cookies");
        assert!(
            headers.get("x-forwarded-for").is_none(),
            "only allow-listed headers"
        );
        assert!(
            headers
                .values()
                .all(|v| !v.to_str().unwrap_or("").contains(&token)),
            "the Gatehouse token appears nowhere upstream"
        );
    }
    assert!(
        seen[0].1.get("mcp-session-id").is_none(),
        "initialize has no session"
    );
    assert_eq!(
        seen[1]
            .1
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok()),
        Some(UPSTREAM_SESSION),
        "the local id is translated to the upstream's"
    );
    assert_eq!(
        seen[1]
            .1
            .get("mcp-protocol-version")
            .and_then(|v| v.to_str().ok()),
        Some("2025-06-18"),
        "MCP headers pass"
    );
}

#[tokio::test]
async fn upstream_failures_become_json_rpc_errors_never_401() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();

    for (method, needle) in [
        ("fail/401", "rejected Gatehouse's credentials"),
        ("fail/403", "rejected Gatehouse's credentials"),
        ("fail/500", "HTTP 500"),
        ("fail/redirect", "redirect"),
    ] {
        let r = env
            .post(
                "a",
                Some(&token),
                &json!({"jsonrpc":"2.0","id":method,"method":method}),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.status(),
            200,
            "{method}: in band, never HTTP 401/403 (that would restart the client's OAuth)"
        );
        assert!(
            r.headers().get("www-authenticate").is_none(),
            "{method}: no upstream challenge"
        );
        assert!(
            r.headers().get("set-cookie").is_none(),
            "{method}: no upstream cookie"
        );
        let body = json_of(r).await;
        assert_eq!(body["id"], method, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(needle),
            "{method}: {body}"
        );
    }
    assert_eq!(
        *env.upstream
            .elsewhere_hits
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
        0,
        "redirects are never followed"
    );

    // The 401 marked the connection.
    let store = env.vault.store().clone();
    let id = env.connection.clone();
    let mut status = None;
    for _ in 0..50 {
        let id = id.clone();
        let row = store
            .read(move |c| connections::get(c, &id))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("connection"));
        if row.status == ConnectionStatus::Error {
            status = Some(row);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let row = status.unwrap_or_else(|| panic!("an upstream 401 marks the connection as error"));
    assert!(row.status_detail.unwrap_or_default().contains("401"));
}

#[tokio::test]
async fn upstream_down_is_a_json_rpc_error() {
    // A port that was just free: nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = free.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    drop(free);
    let env = Env::with_upstream(&format!("http://127.0.0.1:{port}/mcp"), Arc::default()).await;
    let (_, token) = env.all_tools_token();
    let r = env
        .post("a", Some(&token), &call(&json!(3), "echo"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "never a 401 or a 5xx for a request");
    let body = json_of(r).await;
    assert_eq!(body["id"], 3);
    assert_eq!(body["error"]["code"], -32001, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("could not reach"),
        "{body}"
    );

    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 502, "a notification has no id to answer: 502");
}

#[tokio::test]
async fn a_legacy_client_disconnecting_does_not_cancel_the_upstream_call() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();
    let sid = env.initialize(&token).await;
    let slow = json!({"jsonrpc":"2.0","id":"slow-1","method":"slow/sse","params":{}});
    let r = env
        .post("a", Some(&token), &slow)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "the slow call starts");
    let mut stream = r.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(
        first.is_ok_and(|c| c.is_some()),
        "the first event arrives before the disconnect"
    );
    drop(stream); // the client goes away mid-call

    let mut finished = 0;
    for _ in 0..50 {
        finished = *env
            .upstream
            .slow_finished
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if finished > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        finished, 1,
        "legacy era: a disconnect is not a cancellation, so the upstream answer is read to its end"
    );
}

#[tokio::test]
async fn catalog_lists_upstream_tools_with_the_credential() {
    let env = Env::new().await;
    let id = env.connection.clone();
    let row = env
        .vault
        .store()
        .read(move |c| connections::get(c, &id))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("connection"));
    let http = proxy::upstream_client(&proxy::ProxyOptions::default());
    let tools = proxy::catalog::list_upstream_tools(&env.vault, &http, &row)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = tools.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["echo", "delete_everything", "search"]);
    assert_eq!(tools[0].1.as_deref(), Some("Echo"), "title");
    assert_eq!(tools[0].2.as_deref(), Some("says it back"), "description");
    let seen = env.upstream_requests();
    let methods: Vec<String> = seen
        .iter()
        .map(|(m, _, b)| format!("{m} {}", b["method"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        methods,
        [
            "POST initialize",
            "POST notifications/initialized",
            "POST tools/list",
            "DELETE "
        ],
        "the conversation"
    );
    assert!(
        seen.iter()
            .all(|(_, h, _)| h.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(SECRET)),
        "every catalog request carries the credential"
    );
}

#[tokio::test]
async fn last_used_is_recorded_off_the_request_path() {
    let env = Env::new().await;
    let (grant, token) = env.all_tools_token();
    let r = env
        .post("a", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let store = env.vault.store().clone();
    let read = |store: gatehouse_core::store::Store, grant: GrantId| async move {
        store
            .read(move |c| grants::get(c, &grant))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("grant"))
            .last_used_at
    };
    assert_eq!(
        read(store.clone(), grant.clone()).await,
        None,
        "the request path does not write last_used_at"
    );

    // The debouncer itself: many uses, one write with the latest time.
    let usage = proxy::usage::Usage::default();
    usage.record(&grant, 1_000);
    usage.record(&grant, 3_000);
    usage.record(&grant, 2_000);
    assert_eq!(usage.pending(), 1, "one entry per grant");
    let moved = usage.flush(&store).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moved, 1);
    assert_eq!(
        read(store.clone(), grant.clone()).await,
        Some(3_000),
        "the latest use wins"
    );
    assert_eq!(
        usage.flush(&store).await.unwrap_or_else(|e| panic!("{e}")),
        0,
        "nothing pending"
    );
}
