//! The tool allow-list of a grant: `tools/list` filtered (JSON and SSE), `tools/call` of another
//! tool refused, and 2025-03-26 batches checked member by member and filtered.

use gatehouse_core::proxy;
use gatehouse_testkit::proxy::*;
use serde_json::{Value, json};

#[tokio::test]
async fn tool_allow_list_filters_lists_and_refuses_calls() {
    let env = Env::new().await;
    let (_, token) = env.grant(
        &env.connection.clone(),
        "a",
        Some(&["echo", "search"]),
        "mcp:access",
    );
    let sid = env.initialize(&token).await;

    // JSON tools/list.
    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","id":"j1","method":"tools/list"}),
        )
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let body = json_of(r).await;
    let names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["echo", "search"], "JSON list filtered: {body}");

    // SSE tools/list.
    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","id":"sse-1","method":"tools/list"}),
        )
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/event-stream")
    );
    assert_eq!(header(&r, "x-accel-buffering").as_deref(), Some("no"));
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-cache"));
    let text = r.text().await.unwrap_or_default();
    assert!(
        text.contains("notifications/message"),
        "other events pass: {text}"
    );
    assert!(
        text.contains("\"echo\"") && text.contains("\"search\""),
        "{text}"
    );
    assert!(
        !text.contains("delete_everything"),
        "SSE list filtered: {text}"
    );

    // tools/call of a tool outside the list: answered by Gatehouse, never forwarded.
    let before = env.upstream_requests().len();
    let r = env
        .post("a", Some(&token), &call(&json!(9), "delete_everything"))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let body = json_of(r).await;
    assert_eq!(body["id"], 9, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("open Gatehouse"),
        "{body}"
    );
    assert_eq!(
        env.upstream_requests().len(),
        before,
        "a refused call is not forwarded"
    );

    // An allowed call, as SSE, streams through.
    let r = env
        .post("a", Some(&token), &call(&json!("sse-call"), "echo"))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = r.text().await.unwrap_or_default();
    assert!(text.contains("\"text\":\"hi\""), "{text}");
}

/// MCP 2025-03-26 Base Protocol "Batching" (JSON-RPC 2.0 §6): a batch on a 2025-03-26 session is
/// forwarded byte for byte, every listed response filtered; one call outside the allow-list stops
/// the whole batch; later versions refuse batches (2025-06-18 removed them).
#[tokio::test]
async fn batches_of_a_2025_03_26_session_are_checked_member_by_member_and_filtered() {
    let env = Env::new().await;
    let (_, token) = env.grant(
        &env.connection.clone(),
        "a",
        Some(&["echo", "search"]),
        "mcp:access",
    );
    let sid = env.initialize(&token).await;
    let batch = json!([
        {"jsonrpc":"2.0","id":"b1","method":"tools/list"},
        {"jsonrpc":"2.0","id":"b2","method":"tools/call","params":{"name":"echo","arguments":{"text":"batched"}}},
        {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}
    ]);
    let r = env
        .post("a", Some(&token), &batch)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let answers = json_of(r).await;
    let names: Vec<&str> = answers[0]["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["echo", "search"],
        "the batched list is filtered: {answers}"
    );
    assert_eq!(answers[1]["result"]["content"][0]["text"], "batched");
    let raw = env
        .upstream
        .raw_bodies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .last()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        serde_json::from_slice::<Value>(&raw).unwrap_or_default(),
        batch,
        "the client's batch went upstream as it was"
    );

    // One member calls a tool outside the grant: nothing is sent, every request is answered.
    let before = env.upstream_requests().len();
    let r = env
        .post(
            "a",
            Some(&token),
            &json!([
                call(&json!(1), "echo"),
                call(&json!(2), "delete_everything")
            ]),
        )
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let answers = json_of(r).await;
    assert_eq!(
        answers[1]["error"]["message"],
        proxy::forward::TOOL_NOT_ALLOWED,
        "{answers}"
    );
    assert_eq!(answers[0]["id"], 1, "{answers}");
    assert!(answers[0]["error"].is_object(), "{answers}");
    assert_eq!(env.upstream_requests().len(), before, "nothing forwarded");

    // A session of a later version: batches are gone since 2025-06-18.
    let r = env
        .post("a", Some(&token), &json!([call(&json!(3), "echo")]))
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400);
    assert_eq!(env.upstream_requests().len(), before, "nothing forwarded");
}
