//! `gatehoused bridge <slug>` as Claude Desktop uses a local command, driven by the official SDK's
//! stdio client (tests/js/stdio/bridge.mjs): a copy killed in the middle of its sign-in holds the
//! others back only until its lease lapses; then three copies started at once make exactly one consent
//! request (one sign-in in flight per bridge identity, the store's lease), named "<client> via
//! Gatehouse bridge", and all three work after one approval with one registered client; a gateway
//! restart on the same port mid-session is survived (the session is re-established); with no
//! gateway the client gets a JSON-RPC error saying to open the app; an expired access token is
//! refreshed without a new consent; log messages the server sends on the session's own stream
//! reach the client; and the entry `gatehoused
//! clients connect claude-desktop` writes into a temporary HOME's claude_desktop_config.json,
//! started as Claude Desktop starts it, reaches the server; the extension bundle `gatehoused mcpb`
//! writes is unpacked and validated by the MCPB project's CLI (`@anthropic-ai/mcpb`, pinned) and
//! the command in its manifest, started as an install would, reaches the server too.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use gatehouse_e2e::bin;
use gatehouse_e2e::peers::node_script;
use serde_json::{Value, json};

#[tokio::test]
async fn three_bridges_one_consent_and_a_gateway_restart() {
    let mut command = node_script("stdio/bridge.mjs");
    command
        .env("GATEHOUSED", bin("gatehoused"))
        .stdin(Stdio::null());
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .unwrap_or_else(|_| panic!("bridge.mjs did not finish within 300 s"))
        .unwrap_or_else(|e| panic!("cannot run bridge.mjs: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let log: Vec<&str> = stderr.lines().filter(|l| !l.contains('\x1b')).collect();
    let transcript = format!(
        "--- stdout ---\n{stdout}\n--- stderr (harness) ---\n{}",
        log.join("\n")
    );
    assert!(
        output.status.success(),
        "the harness failed ({}):\n{transcript}",
        output.status
    );
    let found: BTreeMap<String, Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["check"].as_str()?.to_owned(), v)))
        .collect();
    let get = |check: &str, field: &str| found.get(check).map_or(Value::Null, |l| l[field].clone());
    println!("stdio bridge:");
    let mut problems = Vec::new();
    let mut expect = |check: &str, field: &str, want: Value| {
        let got = get(check, field);
        println!(
            "  {} {check:12} {field} = {got}",
            if got == want { "ok  " } else { "FAIL" }
        );
        if got != want {
            problems.push(format!("{check}.{field} is {got}, expected {want}"));
        }
    };
    expect("killed-mid-sign-in", "staleRequests", json!(1));
    expect("consent", "requests", json!(1));
    expect(
        "consent",
        "names",
        json!(["Claude Desktop via Gatehouse bridge"]),
    );
    expect("consent", "connectErrors", json!([]));
    expect(
        "all-copies",
        "answers",
        json!(["Echo: via bridge", "Echo: via bridge", "Echo: via bridge"]),
    );
    // Two registrations: the killed copy's abandoned sign-in, and the one the three copies share;
    // one grant between them.
    expect("all-copies", "bridgeClients", json!(2));
    expect("all-copies", "bridgeGrants", json!(1));
    expect("server-stream", "logMessages", json!(true));
    expect("refresh", "echo", json!("Echo: after expiry"));
    expect("refresh", "newConsentRequests", json!(0));
    expect("restart", "echo", json!("Echo: after restart"));
    expect(
        "claude-desktop-config",
        "echo",
        json!("Echo: from the config"),
    );
    expect("mcpb", "written", json!(0));
    expect("mcpb", "unpacked", json!(0));
    expect("mcpb", "valid", json!(true));
    expect("mcpb", "echo", json!("Echo: from the bundle"));
    // The copy killed in the middle of its sign-in held the lease; the next copies waited at most
    // for it to lapse (15 s without renewal), not for the sign-in's 10 minutes.
    let after_kill = get("consent", "signInAfterKillMs");
    println!("  sign-in started again {after_kill} ms after the holder was killed");
    if after_kill.as_u64().is_none_or(|ms| ms > 25_000) {
        problems.push(format!(
            "after the sign-in holder was killed the next sign-in began after {after_kill} ms"
        ));
    }
    // The refresh issued a new access token: one more row than before the expiry.
    let count = |field: &str| {
        get("refresh", field).as_str().and_then(|s| {
            s.trim_matches(|c| c == '[' || c == ']' || c == '(' || c == ')' || c == ',')
                .parse::<u64>()
                .ok()
        })
    };
    println!(
        "  access tokens before the expiry {:?}, after the refresh {:?}",
        count("tokensBefore"),
        count("tokensAfter")
    );
    if count("tokensAfter") <= count("tokensBefore") {
        problems.push("the bridge did not get a new access token by refresh".to_owned());
    }
    if get("not-running", "exited") != json!(true) {
        problems.push("the bridge did not exit when its stdin closed".to_owned());
    }
    let down = get("not-running", "error");
    println!("  not running: {down}");
    if !down.as_str().is_some_and(|e| {
        e.contains("Gatehouse is not running") && e.contains("open the Gatehouse app")
    }) {
        problems.push(format!("with no gateway the client got {down}"));
    }
    assert!(problems.is_empty(), "{}\n{transcript}", problems.join("\n"));
}
