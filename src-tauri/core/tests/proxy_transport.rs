//! The transport of both eras as it applies to the proxy: Origin, Accept and Content-Type,
//! notifications, sessions and protocol versions; the modern header checks (Mcp-Method, Mcp-Name
//! agreeing with the body) in both eras; and bodies that name a member twice (RFC 7493 §2.3),
//! refused before the tool filter and the upstream.

use gatehouse_testkit::proxy::*;
use serde_json::json;

#[tokio::test]
async fn transport_rules() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();

    // Origin: a foreign one is refused, none passes.
    let r = env
        .post("a", Some(&token), &init())
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 403, "foreign Origin");
    let r = env
        .post("a", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "no Origin is fine");

    // Accept and Content-Type.
    let r = env
        .http
        .post(env.url("a"))
        .bearer_auth(&token)
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .body(init().to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 406, "Accept without SSE");
    let r = env
        .http
        .post(env.url("a"))
        .bearer_auth(&token)
        .header("accept", ACCEPT_BOTH)
        .header("content-type", "text/plain")
        .body(init().to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 415, "text/plain body");

    // A notification → 202, empty.
    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 202, "notification");
    assert!(
        r.bytes().await.unwrap_or_default().is_empty(),
        "202 has no body"
    );

    // Unknown protocol version → 400.
    let r = env
        .post("a", Some(&token), &call(&json!(1), "echo"))
        .header("mcp-protocol-version", "1999-01-01")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400, "unsupported MCP-Protocol-Version");

    // A batch → 400 (JSON-RPC batching was removed in 2025-06-18).
    let r = env
        .post(
            "a",
            Some(&token),
            &json!([call(&json!(1), "echo"), call(&json!(2), "echo")]),
        )
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400, "batches are refused");

    // GET without text/event-stream.
    let r = env
        .http
        .get(env.url("a"))
        .bearer_auth(&token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 406, "GET must accept SSE");

    // Oversized body → 413.
    let big = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x".repeat(5 * 1024 * 1024)}}});
    let r = env
        .post("a", Some(&token), &big)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 413, "body cap");

    // A modern request with a stale session id and Last-Event-ID: both ignored, no session.
    let modern = json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{
        "name":"echo","arguments":{"text":"hi"},
        "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}});
    let before = env.upstream_requests().len();
    let r = env
        .post("a", Some(&token), &modern)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .header("mcp-session-id", "gh_sid_stale")
        .header("last-event-id", "41")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "modern requests ignore stale session ids");
    assert!(
        header(&r, "mcp-session-id").is_none(),
        "never minted for modern requests"
    );
    let seen = env.upstream_requests();
    let last = &seen[before].1;
    assert!(last.get("mcp-session-id").is_none() && last.get("last-event-id").is_none());
    assert_eq!(
        last.get("mcp-name").and_then(|v| v.to_str().ok()),
        Some("echo"),
        "2026-07-28 headers pass"
    );
}

#[tokio::test]
async fn modern_requests_whose_headers_disagree_are_refused_before_the_upstream() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();
    let modern = |version: &str| {
        json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{
            "name":"echo","arguments":{"text":"hi"},
            "_meta":{"io.modelcontextprotocol/protocolVersion": version}}})
    };
    let before = env.upstream_requests().len();

    // MCP-Protocol-Version differs from _meta.
    let r = env
        .post("a", Some(&token), &modern("2026-07-28"))
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400, "a version mismatch is a bad request");
    assert_eq!(json_of(r).await["error"]["code"], -32020, "HeaderMismatch");

    // Mcp-Name differs from params.name.
    let r = env
        .post("a", Some(&token), &modern("2026-07-28"))
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "get-env")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400, "a name mismatch is a bad request");
    let body = json_of(r).await;
    assert_eq!(body["error"]["code"], -32020, "HeaderMismatch: {body}");
    assert_eq!(body["id"], 9, "the error answers the request's id: {body}");

    // A version Gatehouse does not speak.
    let r = env
        .post("a", Some(&token), &modern("2099-01-01"))
        .header("mcp-protocol-version", "2099-01-01")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400, "an unsupported version is a bad request");
    let body = json_of(r).await;
    assert_eq!(
        body["error"]["code"], -32022,
        "UnsupportedProtocolVersion: {body}"
    );
    assert_eq!(
        body["error"]["data"]["supported"],
        json!(["2026-07-28"]),
        "the versions Gatehouse speaks: {body}"
    );

    assert_eq!(
        env.upstream_requests().len(),
        before,
        "refused modern requests never reach the upstream (a mismatched Mcp-Name could smuggle a disallowed tool)"
    );
}

/// `Mcp-Method` and `Mcp-Name` pass upstream in every era, so a legacy request that sends them is held to
/// the 2026-07-28 rule (MCP 2026-07-28 Streamable HTTP §Server Validation): they must name the body's method
/// and tool, or a header-routing upstream would run a tool the allow-list never checked.
#[tokio::test]
async fn legacy_requests_that_send_routing_headers_must_match_the_body() {
    let env = Env::new().await;
    let (_, token) = env.grant(&env.connection.clone(), "a", Some(&["echo"]), "mcp:access");
    let before = env.upstream_requests().len();
    for (name, value) in [
        ("mcp-name", "delete_everything"),
        ("mcp-method", "tools/list"),
    ] {
        let r = env
            .post("a", Some(&token), &call(&json!(4), "echo"))
            .header("mcp-protocol-version", "2025-06-18")
            .header(name, value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 400, "{name}: {value} disagrees with the body");
        let body = json_of(r).await;
        assert_eq!(body["error"]["code"], -32020, "HeaderMismatch: {body}");
        assert_eq!(body["id"], 4, "the error answers the request's id: {body}");
    }
    assert_eq!(
        env.upstream_requests().len(),
        before,
        "a mismatched legacy request never reaches the upstream"
    );

    let r = env
        .post("a", Some(&token), &call(&json!(5), "echo"))
        .header("mcp-protocol-version", "2025-06-18")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "matching headers pass");
    let r = env
        .post("a", Some(&token), &call(&json!(6), "echo"))
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "and are optional before 2026-07-28");
    assert_eq!(
        env.upstream_requests().len(),
        before + 2,
        "both reached the upstream"
    );
}

/// A body whose objects name a member twice is refused before the tool filter and the upstream: serde_json
/// keeps the last `"method"`/`"name"`, a first-wins parser upstream the first, so the filter would check one
/// message and the upstream run another (I-JSON, RFC 7493 §2.3; JSON-RPC 2.0 §5.1: -32600).
#[tokio::test]
async fn repeated_members_are_refused_so_the_filter_and_the_upstream_read_one_message() {
    let env = Env::new().await;
    let (_, token) = env.grant(&env.connection.clone(), "a", Some(&["echo"]), "mcp:access");
    let before = env.upstream_requests().len();
    for raw in [
        // Seen by serde_json as tools/list (not filtered), by a first-wins upstream as tools/call.
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"delete_everything"}}"#,
        // Seen by serde_json as the allowed echo, by a first-wins upstream as delete_everything.
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_everything","name":"echo","arguments":{"text":"hi"}}}"#,
    ] {
        let r = env
            .http
            .post(env.url("a"))
            .bearer_auth(&token)
            .header("accept", ACCEPT_BOTH)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 400, "a repeated member is a bad request: {raw}");
        let body = json_of(r).await;
        assert_eq!(
            body["error"]["code"], -32600,
            "Invalid Request, not a parse error or a 500: {body}"
        );
    }
    assert_eq!(
        env.upstream_requests().len(),
        before,
        "an ambiguous body never reaches the upstream"
    );

    // An unambiguous body passes, byte for byte.
    let raw = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#;
    let r = env
        .http
        .post(env.url("a"))
        .bearer_auth(&token)
        .header("accept", ACCEPT_BOTH)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "an allowed call is forwarded");
    let raw_seen = env
        .upstream
        .raw_bodies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .last()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        raw_seen,
        raw.as_bytes(),
        "the upstream gets the bytes that were checked, not a re-serialization"
    );

    // A tools/call without a usable name under an allow-list is refused, not forwarded.
    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":5}}),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = json_of(r).await;
    assert!(body["error"].is_object(), "{body}");
}
