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

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::admin::{NewStdioConnectionInput, add_stdio_connection};
use gatehouse_core::clock::SystemClock;
use gatehouse_core::crypto::{KeyBackend, TokenHash, TokenKind};
use gatehouse_core::gateway::{self, RunningGateway};
use gatehouse_core::store::access_tokens::{self, NewAccessToken};
use gatehouse_core::store::clients::{ClientRegistration, RegistrationSource};
use gatehouse_core::store::grants::{self, NewGrant};
use gatehouse_core::store::{ClientId, ConnectionId, GrantId};
use gatehouse_core::vault::Vault;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

struct World {
    _dir: tempfile::TempDir,
    gateway: RunningGateway,
    record: std::path::PathBuf,
    token: String,
    http: reqwest::Client,
}

fn registration(id: &ClientId) -> ClientRegistration {
    ClientRegistration {
        client_id: id.clone(),
        client_name: Some("Cancelling client".into()),
        client_uri: None,
        software_id: None,
        software_version: None,
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        scope: Some("mcp:access".into()),
        grant_types: vec!["authorization_code".into()],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: "none".into(),
        application_type: Some("native".into()),
        registration_source: RegistrationSource::Dcr,
        metadata: json!({"client_name": "Cancelling client"}),
    }
}

async fn world() -> World {
    let dir = tempfile::tempdir().expect("temp dir");
    let vault = Vault::open(
        &dir.path().join("data"),
        KeyBackend::File,
        Arc::new(SystemClock),
    )
    .expect("vault");
    let record = dir.path().join("record.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slow_stdio_server.py");
    let view = add_stdio_connection(
        &vault,
        1,
        &NewStdioConnectionInput {
            slug: "slow".into(),
            name: "Slow".into(),
            program: "python3".into(),
            args: vec![script.display().to_string(), record.display().to_string()],
            cwd: None,
            env: vec![],
        },
    )
    .expect("stdio connection");
    let connection = ConnectionId::parse(&view.id).expect("id");
    let listener = gateway::bind_loopback(0).await.expect("bind");
    let gateway = gateway::start(vault.clone(), listener, 30, std::future::pending())
        .await
        .expect("gateway");
    let client = ClientId::generate();
    vault
        .store()
        .upsert_client(&registration(&client))
        .expect("client");
    let store = vault.store();
    let grant = GrantId::new();
    let new = NewGrant {
        id: grant.clone(),
        client_id: client.clone(),
        connection_id: connection,
        redirect_uri: "http://127.0.0.1/callback".into(),
        scopes: "mcp:access".into(),
        tools: None,
    };
    let now = store.now();
    store
        .write_blocking(|tx| grants::create_pending(tx, &new, now))
        .expect("grant");
    store.activate_grant(&grant).expect("active");
    let token = gatehouse_core::crypto::token::generate(TokenKind::AccessToken)
        .expose_secret()
        .to_owned();
    let access = NewAccessToken {
        token_hash: *TokenHash::of(&token).as_bytes(),
        grant_id: grant,
        client_id: client,
        resource: format!("{}/mcp/slow", gateway.base_url()),
        scopes: "mcp:access".into(),
        expires_at: store.now() + 3_600_000,
    };
    store
        .write_blocking(|tx| access_tokens::insert(tx, &access, now))
        .expect("token");
    World {
        _dir: dir,
        gateway,
        record,
        token,
        http: reqwest::Client::new(),
    }
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
    let w = world().await;
    let url = format!("{}/mcp/slow", w.gateway.base_url());
    let modern = |id: u64, tool: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": tool, "arguments": {"text": "hi"},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}})
    };
    let send = |body: Value, tool: &'static str| {
        w.http
            .post(&url)
            .bearer_auth(&w.token)
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
    let lines = until("the slow call reaching the process", &w.record, |l| {
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
        &w.record,
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
