//! The protocol-era bridge (`proxy::era`, `proxy::bridge`) through the real gateway on a real
//! socket, in front of two fake (axum) upstreams on 127.0.0.1:0 that record every request
//! (`gatehouse_testkit::upstream::eras`): one that speaks only MCP 2026-07-28 (`server/discover`,
//! stateless) and one that speaks only the `initialize`/session era (2025-06-18).
//!
//! MCP 2026-07-28 basic/versioning §Backward Compatibility with Initialization-Based Versions: "Legacy
//! client, Modern server" and "Modern client, Legacy server" both fail without an intermediary;
//! Gatehouse is that intermediary.

use std::time::{Duration, Instant};

use axum::routing::post;
use futures_util::StreamExt;
use gatehouse_core::store::RevocationReason;
use gatehouse_testkit::eras::*;
use serde_json::{Value, json};

/// The value, or a panic naming `what` failed.
fn ok<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn legacy_initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "legacy-client", "version": "1"}}})
}

fn rpc(id: i64, method: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {}})
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    let value = r.headers().get(name)?.to_str().ok()?;
    Some(value.to_owned())
}

/// The JSON-RPC response in a JSON body or an SSE stream.
async fn answer(r: reqwest::Response) -> Value {
    let sse = header(&r, "content-type").is_some_and(|c| c.starts_with("text/event-stream"));
    let text = ok(r.text().await, "body");
    if !sse {
        return ok(serde_json::from_str(&text), &text);
    }
    let messages = text.replace("\r\n", "\n");
    let messages = messages.split("\n\n").filter_map(|event| {
        let data = event.lines().filter_map(|line| line.strip_prefix("data:"));
        serde_json::from_str::<Value>(&data.collect::<Vec<_>>().join("\n")).ok()
    });
    let response = messages.filter(|m| m.get("id").is_some()).last();
    response.unwrap_or_else(|| panic!("no response in the stream: {text}"))
}

/// Polls `probe` until it has a value (10 s at most).
async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------- legacy client, modern upstream

#[tokio::test]
async fn a_legacy_client_gets_a_session_held_by_gatehouse_in_front_of_a_modern_only_upstream() {
    // MCP 2026-07-28 basic/versioning §Backward Compatibility ("Legacy client, Modern server").
    let env = Env::new(post(modern_post)).await;
    let token = env.new_grant_token();

    // 2025-06-18 lifecycle §Initialization, answered from the upstream's DiscoverResult.
    let r = env.legacy(&token, None, &legacy_initialize()).await;
    assert_eq!(r.status(), 200, "initialize is answered");
    let session = header(&r, "mcp-session-id").unwrap_or_else(|| panic!("no Mcp-Session-Id"));
    let expected = json!({"jsonrpc": "2.0", "id": 0, "result": {
        "protocolVersion": "2025-06-18",
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": "modern-fake", "version": "7"},
        "instructions": "ask where"}});
    // The client's version; the rest from the upstream's discover.
    assert_eq!(answer(r).await, expected);
    // The client's initialize never reaches a modern-only upstream.
    assert_eq!(env.posts("initialize", false).len(), 0);

    // Notifications and ping have no modern counterpart: answered here, nothing goes upstream.
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let r = env.legacy(&token, Some(&session), &note).await;
    assert_eq!(r.status(), 202);
    let pong = answer(env.legacy(&token, Some(&session), &rpc(1, "ping")).await).await;
    assert_eq!(pong, json!({"jsonrpc": "2.0", "id": 1, "result": {}}));

    // 2026-07-28 Streamable HTTP §Standard Request Headers, §Custom Headers; basic/index §_meta.
    let mut call = rpc(2, "tools/call");
    call["params"] = json!({"name": "where", "arguments": {"region": "eu-west"},
        "_meta": {"progressToken": "p1"}});
    let r = env.legacy(&token, Some(&session), &call).await;
    assert_eq!(r.status(), 200);
    // The upstream's 2026-07-28 is not the session's version.
    assert_eq!(header(&r, "mcp-protocol-version"), None);
    let echoed = answer(r).await["result"]["structuredContent"].clone();
    let expected = json!({
        "method": "tools/call", "name": "where", "region": "eu-west", "version": MODERN,
        "session": null,
        "meta": {
            VERSION_KEY: MODERN,
            CLIENT_INFO_KEY: {"name": "legacy-client", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
            "progressToken": "p1"}});
    assert_eq!(echoed, expected, "routing headers and _meta envelope");

    // A modern 404 is an unknown method, not a lost session: -32601, and the session lives on.
    let r = env.legacy(&token, Some(&session), &rpc(3, "nope/x")).await;
    assert_eq!(r.status(), 200);
    let refused = answer(r).await;
    let expected = (&json!(3), &json!(-32601));
    assert_eq!((&refused["id"], &refused["error"]["code"]), expected);
    assert_eq!(env.posts("nope/x", false).len(), 1, "it did go upstream");
    let r = env
        .legacy(&token, Some(&session), &rpc(4, "tools/list"))
        .await;
    let listed = answer(r).await;
    assert_eq!(listed["result"]["tools"][0]["name"], "where", "{listed}");

    // 2025-06-18 transports §Listening for Messages from the Server: no stream to offer.
    let get = env.http.get(env.url("a")).bearer_auth(&token);
    let get = get.header("accept", "text/event-stream");
    let r = send(get.header("mcp-session-id", &session)).await;
    assert_eq!(r.status(), 405);

    // A second client session: the era is remembered, not probed again.
    let r = env.legacy(&token, None, &legacy_initialize()).await;
    let second = header(&r, "mcp-session-id").unwrap_or_else(|| panic!("no second session"));
    assert_ne!(second, session, "each initialize gets its own session");
    assert_eq!(env.posts("server/discover", true).len(), 1, "one era probe");
    assert_eq!(env.posts("initialize", true).len(), 1, "one legacy probe");
    assert_eq!(
        env.upstream.posts("ping").len(),
        0,
        "ping stays at Gatehouse"
    );
    assert_eq!(env.upstream.posts("notifications/initialized").len(), 0);

    // 2025-06-18 transports §Session Management: DELETE ends it here; the upstream holds none.
    let delete = env.http.delete(env.url("a")).bearer_auth(&token);
    let r = send(delete.header("mcp-session-id", &session)).await;
    assert!(r.status().is_success(), "DELETE: {}", r.status());
    let r = env
        .legacy(&token, Some(&session), &rpc(5, "tools/list"))
        .await;
    assert_eq!(r.status(), 404, "the ended session is unknown");
    let r = env.legacy(&token, Some(&second), &rpc(6, "ping")).await;
    assert_eq!(r.status(), 200, "the other session is untouched");
    // GET and DELETE never reach the upstream; every request, Gatehouse's own included, carries
    // the connection's credential.
    for seen in env.upstream.requests() {
        assert_eq!(seen.http_method, "POST", "{seen:?}");
        assert_eq!(seen.header("x-api-key"), Some(SECRET), "{seen:?}");
    }
}

// ---------------------------------------------------------------- modern client, legacy upstream

#[tokio::test]
async fn a_modern_client_is_served_on_an_upstream_session_per_grant_by_a_legacy_only_upstream() {
    // MCP 2026-07-28 basic/versioning §Backward Compatibility ("Modern client, Legacy server").
    let env = Env::new(post(legacy_post)).await;
    let (alice, bob) = (env.new_grant_token(), env.new_grant_token());

    // 2026-07-28 server/discover §Response, made of the upstream's InitializeResult.
    let r = env.modern(&alice, "d1", "server/discover", json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "mcp-session-id"), None, "stateless");
    let expected = json!({"jsonrpc": "2.0", "id": "d1", "result": {
        "resultType": "complete", "ttlMs": 0, "cacheScope": "private",
        "supportedVersions": [MODERN],
        "capabilities": {"tools": {"listChanged": true}},
        "instructions": "call echo",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "legacy-fake", "version": "3.1"}}}});
    assert_eq!(answer(r).await, expected);
    assert_eq!(
        env.posts("server/discover", false).len(),
        0,
        "answered here"
    );

    // 2025-11-25 lifecycle §Initialization: once for the grant, with the client's clientInfo.
    let initializes = env.upstream.posts("initialize");
    assert_eq!(initializes.len(), 1, "one upstream session so far");
    let expected = json!({"protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "modern-client", "version": "2"}});
    assert_eq!(initializes[0].body["params"], expected);
    let initialized = env.upstream.posts("notifications/initialized");
    let sessions: Vec<_> = initialized.iter().map(Request::session).collect();
    assert_eq!(sessions, [Some("legacy-1")]);

    let echo = |progress: &str| {
        json!({"name": "echo", "arguments": {"text": "hi"},
        "_meta": {"progressToken": progress}})
    };
    let r = env.modern(&alice, "c1", "tools/call", echo("p-a")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "mcp-session-id"), None, "no session id");
    // resultType stamped in the SSE event; a tools/call result is not cacheable.
    let expected = json!({"jsonrpc": "2.0", "id": "c1", "result": {"resultType": "complete",
        "content": [{"type": "text", "text": "echoed"}], "structuredContent": {"text": "hi"}}});
    assert_eq!(answer(r).await, expected);
    let calls = env.posts("tools/call", false);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].session(), Some("legacy-1"));
    // The version the upstream chose; the io.modelcontextprotocol/ keys out, the rest stays.
    assert_eq!(calls[0].header("mcp-protocol-version"), Some("2025-06-18"));
    let meta = &calls[0].body["params"]["_meta"];
    assert_eq!(meta, &json!({"progressToken": "p-a"}));

    // 2026-07-28 schema CacheableResult: a legacy list is private and stale at once.
    let listed = answer(env.modern(&alice, "l1", "tools/list", json!({})).await).await;
    let expected = json!({"resultType": "complete", "ttlMs": 0, "cacheScope": "private",
        "tools": [{"name": "echo", "inputSchema": {"type": "object"}}]});
    assert_eq!(listed["result"], expected);
    // An emptied _meta goes; the grant's session is reused.
    assert_eq!(env.posts("tools/list", false)[0].body["params"], json!({}));
    assert_eq!(env.upstream.posts("initialize").len(), 1, "session reused");

    // Another grant, another upstream session.
    let r = env.modern(&bob, "c2", "tools/call", echo("p-b")).await;
    assert_eq!(answer(r).await["result"]["structuredContent"]["text"], "hi");
    assert_eq!(env.upstream.posts("initialize").len(), 2);
    let calls = env.posts("tools/call", false);
    assert_eq!(calls[1].session(), Some("legacy-2"));

    // 2025-11-25 transports §Session Management: on a 404 Gatehouse opens a new session and
    // retries; the client sees nothing of it.
    lock(&env.upstream.live).clear();
    let r = env.modern(&alice, "c3", "tools/call", echo("p-c")).await;
    assert_eq!(r.status(), 200);
    let renewed = answer(r).await;
    let result = &renewed["result"];
    assert_eq!(result["structuredContent"]["text"], "hi", "{renewed}");
    assert_eq!(result["resultType"], "complete");
    assert_eq!(env.upstream.posts("initialize").len(), 3, "a new session");
    let mut c3 = env.posts("tools/call", false);
    c3.retain(|s| s.body["id"] == "c3");
    let sessions: Vec<_> = c3.iter().map(Request::session).collect();
    // A 404 on the old session, then the retry on the new one.
    assert_eq!(sessions, [Some("legacy-1"), Some("legacy-3")]);
    assert_eq!(env.posts("server/discover", true).len(), 1, "one era probe");
    assert_eq!(env.upstream.posts("notifications/cancelled").len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_of_a_grant_share_one_upstream_session() {
    // MCP 2025-11-25 lifecycle §Initialization (one initialize per session) and transports §Session
    // Management: a grant's first requests arriving together open one upstream session, not one
    // each, which would leave all but the last open on the upstream and never used again.
    let env = Env::new(post(legacy_post)).await;
    let (alice, bob) = (env.new_grant_token(), env.new_grant_token());
    // Alice's discover settles the connection's era, so what follows races only on the session.
    let r = env.modern(&alice, "d1", "server/discover", json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(env.upstream.posts("initialize").len(), 1);

    let calls_in_round = |round: &'static str| {
        let (env, bob) = (&env, &bob);
        (0..8).map(move |n| async move {
            let params = json!({"name": "echo", "arguments": {"text": format!("call {n}")}});
            let r = env
                .modern(bob, &format!("{round}{n}"), "tools/call", params)
                .await;
            (n, answer(r).await)
        })
    };
    let sessions_of_round = |round: &str| {
        let mut calls: Vec<_> = env.posts("tools/call", false);
        calls.retain(|c| {
            c.body["id"]
                .as_str()
                .is_some_and(|id| id.starts_with(round))
        });
        calls
            .iter()
            .map(|c| c.session().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    for (n, answer) in futures_util::future::join_all(calls_in_round("b")).await {
        let text = &answer["result"]["structuredContent"]["text"];
        assert_eq!(text, &json!(format!("call {n}")), "{answer}");
    }
    assert_eq!(
        env.upstream.posts("initialize").len(),
        2,
        "one session for alice, one for bob"
    );
    let sessions = sessions_of_round("b");
    assert_eq!(sessions.len(), 8);
    assert!(
        sessions.iter().all(|s| s.as_deref() == Some("legacy-2")),
        "{sessions:?}"
    );

    // The upstream forgets bob's session: every call in flight meets the 404, one reopens.
    lock(&env.upstream.live).clear();
    for (n, answer) in futures_util::future::join_all(calls_in_round("r")).await {
        let text = &answer["result"]["structuredContent"]["text"];
        assert_eq!(text, &json!(format!("call {n}")), "{answer}");
    }
    assert_eq!(env.upstream.posts("initialize").len(), 3, "one new session");
    let retried = sessions_of_round("r");
    let on_new = retried.iter().filter(|s| s.as_deref() == Some("legacy-3"));
    assert_eq!(
        on_new.count(),
        8,
        "each call answered on the new session: {retried:?}"
    );
}

#[tokio::test]
async fn a_revoked_grants_upstream_sessions_are_ended_upstream() {
    // MCP 2025-11-25 transports §Session Management: a client that no longer needs a session
    // SHOULD send DELETE with its Mcp-Session-Id. A revoked grant's client cannot (its token is
    // refused), so Gatehouse ends the upstream sessions it held for the grant.
    let env = Env::new(post(legacy_post)).await;
    let connection = env.connection.clone();
    let [(legacy_grant, legacy), (modern_grant, modern), (_, kept)] =
        std::array::from_fn(|_| env.grant(&connection, "a", None, "mcp:access"));
    let call = |id: &str| json!({"name": "echo", "arguments": {"text": id}});

    // A legacy client's session, mapped to one of the upstream's.
    let r = env.legacy(&legacy, None, &legacy_initialize()).await;
    let local = header(&r, "mcp-session-id").unwrap_or_else(|| panic!("no Mcp-Session-Id"));
    let mut legacy_call = rpc(1, "tools/call");
    legacy_call["params"] = call("legacy");
    let r = env.legacy(&legacy, Some(&local), &legacy_call).await;
    assert_eq!(
        answer(r).await["result"]["structuredContent"]["text"],
        "legacy"
    );
    // Sessions Gatehouse opened itself for two modern clients (bridge::to_legacy).
    for (token, id) in [(&modern, "modern"), (&kept, "kept")] {
        let r = env.modern(token, id, "tools/call", call(id)).await;
        assert_eq!(answer(r).await["result"]["structuredContent"]["text"], id);
    }
    let session_of = |text: &str| {
        let calls = env.posts("tools/call", false);
        let call = calls
            .iter()
            .find(|c| c.body["params"]["arguments"]["text"] == text);
        let session = call.and_then(Request::session).map(str::to_owned);
        session.unwrap_or_else(|| panic!("no upstream session for {text}"))
    };
    let (legacy_session, modern_session) = (session_of("legacy"), session_of("modern"));
    let kept_session = session_of("kept");
    let deletes = || {
        let mut all = env.upstream.requests();
        all.retain(|r| r.http_method == "DELETE");
        all
    };
    let before = deletes().len();

    env.vault
        .store()
        .revoke_grants_async(
            vec![legacy_grant, modern_grant],
            RevocationReason::UserRevoked,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ended = eventually("the revoked grants' sessions ended upstream", || {
        let ended = deletes().split_off(before);
        (ended.len() >= 2).then_some(ended)
    })
    .await;
    let mut sessions: Vec<_> = ended.iter().filter_map(Request::session).collect();
    sessions.sort_unstable();
    let mut expected = [legacy_session.as_str(), modern_session.as_str()];
    expected.sort_unstable();
    assert_eq!(sessions, expected);
    for delete in &ended {
        let credential = delete
            .headers
            .values()
            .any(|v| v.as_bytes() == SECRET.as_bytes());
        assert!(
            credential,
            "the connection's credential, as on every upstream request"
        );
        assert_eq!(delete.body, Value::Null, "no body");
    }

    // The grant that stays keeps its session: it is used again, not ended.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        deletes().len(),
        before + 2,
        "only the revoked grants' sessions"
    );
    let r = env
        .modern(&kept, "again", "tools/call", call("again"))
        .await;
    assert_eq!(
        answer(r).await["result"]["structuredContent"]["text"],
        "again"
    );
    assert_eq!(session_of("again"), kept_session);
}

#[tokio::test]
async fn a_revoke_from_another_process_ends_the_grants_upstream_sessions() {
    // As above (MCP 2025-11-25 transports §Session Management), for `gatehoused grants revoke`
    // run while the gateway serves: another store on the same file, whose events the gateway
    // never hears; with no stream open, only the sessions tell it to look.
    let env = Env::new(post(legacy_post)).await;
    let connection = env.connection.clone();
    let (grant, token) = env.grant(&connection, "a", None, "mcp:access");
    let r = env
        .modern(&token, "c1", "tools/call", json!({"name": "echo"}))
        .await;
    assert_eq!(r.status(), 200);
    answer(r).await;
    let calls = env.posts("tools/call", false);
    let session = calls[0].session().map(str::to_owned);
    assert!(session.is_some(), "a bridged upstream session");
    let deletes = || {
        let mut all = env.upstream.requests();
        all.retain(|r| r.http_method == "DELETE");
        all
    };
    let before = deletes().len();

    let other = gatehouse_core::vault::Vault::open(
        env.vault.data_dir(),
        gatehouse_core::crypto::KeyBackend::File,
        std::sync::Arc::new(gatehouse_core::clock::SystemClock),
    )
    .unwrap_or_else(|e| panic!("second vault: {e}"));
    other
        .store()
        .revoke_grants(&[grant], RevocationReason::UserRevoked)
        .unwrap_or_else(|e| panic!("{e}"));
    let ended = eventually("the session ended upstream", || {
        let ended = deletes().split_off(before);
        (!ended.is_empty()).then_some(ended)
    })
    .await;
    let sessions: Vec<_> = ended
        .iter()
        .map(|d| d.session().map(str::to_owned))
        .collect();
    assert_eq!(sessions, [session]);
}

// ---------------------------------------------------------------- cancellation

#[tokio::test]
async fn a_modern_client_closing_its_stream_cancels_the_call_in_the_upstream_session() {
    // 2026-07-28 Streamable HTTP §Cancellation (a closed stream cancels) carried to a legacy server
    // as 2025-11-25 basic/utilities/cancellation (`notifications/cancelled` in its session).
    let env = Env::new(post(legacy_post)).await;
    let token = env.new_grant_token();

    let done = json!({"name": "echo", "arguments": {}});
    let r = env.modern(&token, "done-1", "tools/call", done).await;
    assert_eq!(answer(r).await["id"], "done-1", "a call read to its end");

    let slow = json!({"name": "slow", "arguments": {}});
    let r = env.modern(&token, "slow-7", "tools/call", slow).await;
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let first = ok(stream.next().await.ok_or("ended"), "the answer's start");
    let first = String::from_utf8_lossy(&ok(first, "stream")).into_owned();
    assert!(first.contains("notifications/progress"), "{first}");
    drop(stream);

    let cancelled = eventually("notifications/cancelled upstream", || {
        env.upstream
            .posts("notifications/cancelled")
            .into_iter()
            .next()
    })
    .await;
    let mut calls = env.posts("tools/call", false);
    calls.retain(|s| s.body["params"]["name"] == "slow");
    let [slow] = calls.as_slice() else {
        panic!("the slow call reached the upstream once: {calls:?}");
    };
    // The id the upstream got, in the call's session, with the connection's credential.
    let params = &cancelled.body["params"];
    assert_eq!(params["requestId"], slow.body["id"], "{params}");
    assert_eq!(cancelled.body.get("id"), None, "a notification");
    assert_eq!(cancelled.session(), slow.session());
    assert_eq!(cancelled.session(), Some("legacy-1"));
    assert_eq!(cancelled.header("x-api-key"), Some(SECRET));
    // Only the dropped call is cancelled, not the one read to its end.
    assert_eq!(env.upstream.posts("notifications/cancelled").len(), 1);

    // An answered call whose stream the upstream leaves open: the client that goes once it has
    // the answer cancels nothing (2025-11-25 cancellation refers to a request in progress).
    let lingering = json!({"name": "lingering", "arguments": {}});
    let r = env
        .modern(&token, "lingering-8", "tools/call", lingering)
        .await;
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\"result\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
        let chunk = ok(ok(chunk, "the answer in time").ok_or("ended"), "the answer");
        seen.push_str(&String::from_utf8_lossy(&ok(chunk, "stream")));
    }
    assert!(seen.contains("lingering-8"), "{seen}");
    drop(stream);
    // The upstream goes on ticking for a while; nothing more is cancelled meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.upstream.posts("notifications/cancelled").len(), 1);
}
