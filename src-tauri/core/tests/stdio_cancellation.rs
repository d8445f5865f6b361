//! Cancellation across the era bridge and the stdio host, through the real gateway on a real
//! socket, with a real child process (tests/fixtures/slow_stdio_server.py, a session-era stdio
//! server).
//!
//! - MCP 2026-07-28 basic/lifecycle (stateless requests): a client cancels a request by closing
//!   its response stream. A session-era upstream does not take a disconnect as a cancellation
//!   (2025-06-18 basic/utilities/cancellation), so Gatehouse, bridging, sends
//!   `notifications/cancelled` for the request in its upstream session.
//! - The stdio host then hands that notification to the process with the process's own id for
//!   the request (ids are renumbered per process: `stdio::mux`).
//!
//! Also: a session-era client's `tools/call` goes through, and the answer carries the client's own
//! id, whatever the process saw.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse_core::admin::{NewStdioConnectionInput, add_stdio_connection};
use gatehouse_core::store::ConnectionId;
use gatehouse_testkit::World;
use serde_json::{Value, json};

/// What the script writes down, in the world's temporary directory (beside the store, in `data`).
const RECORD: &str = "record.jsonl";

/// Gatehouse with connection `slow` (the script, recording what it gets to [`RECORD`]), and an
/// access token for it; the record's path.
async fn world() -> (World, String, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slow_stdio_server.py");
    let world = World::builder()
        .data_folder("data")
        .client_name("Cancelling client")
        .connection(move |vault| {
            let dir = vault
                .data_dir()
                .parent()
                .expect("the data folder is in the temp dir");
            let record = dir.join(RECORD);
            let input = NewStdioConnectionInput {
                slug: "slow".into(),
                name: "Slow".into(),
                program: "python3".into(),
                args: vec![script.display().to_string(), record.display().to_string()],
                cwd: None,
                env: vec![],
            };
            let view = add_stdio_connection(vault, 1, &input).expect("stdio connection");
            ConnectionId::parse(&view.id).expect("id")
        })
        .start(())
        .await;
    let (_, token) = world.grant(&world.connection, "slow", None, "mcp:access");
    let record = world.dir.path().join(RECORD);
    (world, token, record)
}

/// The JSON-RPC answer in a Streamable HTTP response: the JSON body, or the SSE event that has a
/// result or an error.
async fn answer_of(response: reqwest::Response) -> Value {
    let sse = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let body = response.text().await.expect("body");
    if !sse {
        return serde_json::from_str(&body).expect("JSON");
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m.get("result").is_some() || m.get("error").is_some())
        .unwrap_or_else(|| panic!("no answer in the stream: {body}"))
}

fn recorded(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

async fn until(what: &str, path: &Path, test: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let lines = recorded(path);
        if test(&lines) {
            return lines;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen; the server recorded {lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_modern_client_closing_its_stream_cancels_the_call_in_the_stdio_server() {
    let (w, token, record) = world().await;
    let url = format!("{}/mcp/slow", w.gateway.base_url());
    let modern = |id: u64, tool: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": tool, "arguments": {"text": "hi"},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}})
    };
    let send = |body: Value, tool: &'static str| {
        w.http
            .post(&url)
            .bearer_auth(&token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", tool)
            .json(&body)
            .send()
    };

    // A call that is answered: the answer carries the client's id (77), not the process's.
    let answer = answer_of(send(modern(77, "echo"), "echo").await.expect("echo")).await;
    assert_eq!(answer["id"], 77, "{answer}");
    assert_eq!(answer["result"]["content"][0]["text"], "hi", "{answer}");

    // The slow call: the client gives up (its request future, and with it the stream, is dropped)
    // once the process has the call.
    let waiting = send(modern(78, "slow"), "slow");
    let slow = tokio::spawn(async move {
        let response = waiting.await.expect("the slow call's headers");
        response.text().await
    });
    let lines = until("the slow call reaching the process", &record, |l| {
        l.iter().any(|v| v["call"] == "slow")
    })
    .await;
    let process_id = lines
        .iter()
        .find(|v| v["call"] == "slow")
        .map(|v| v["id"].clone())
        .expect("the slow call's id");
    assert_ne!(
        process_id,
        json!(78),
        "the process sees its own id, not the client's"
    );
    slow.abort();
    drop(slow);

    let lines = until(
        "notifications/cancelled reaching the process",
        &record,
        |l| l.iter().any(|v| v.get("cancelled").is_some()),
    )
    .await;
    let cancelled: Vec<&Value> = lines.iter().filter_map(|v| v.get("cancelled")).collect();
    assert_eq!(
        cancelled,
        vec![&process_id],
        "one cancellation, naming the process's id for the slow call"
    );
}
