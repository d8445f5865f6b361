//! Local stdio MCP servers behind Gatehouse, with the real programs (tests/js/stdio/upstreams.mjs):
//! the reference servers `@modelcontextprotocol/server-everything` and
//! `@modelcontextprotocol/server-filesystem` (pinned in tests/package.json) added as commands with
//! `gatehoused connections add … -- COMMAND`, reached through the gateway by the official SDK
//! clients (v1, 2025-11-25 sessions; v2 pinned to 2026-07-28) with tokens Gatehouse issued.
//!
//! What it shows (MCP 2025-06-18 basic/transports §stdio, basic/lifecycle §Shutdown):
//! - a sealed `--env` value reaches the server's environment, Gatehouse's own environment does
//!   not, and the value is in neither `connections list` nor the connection's log;
//! - `kill -9` of the server during a call gives the client a JSON-RPC error, and the next call
//!   works on a new process;
//! - the process stops after the idle time (3 s here) and starts again on the next call;
//! - mcp-remote (pinned) signs in with consent, lists and calls tools, reads a resource, gets a
//!   prompt and refreshes its token on the stdio upstream; after its grant is revoked its next call
//!   fails with an auth error, as on an HTTP upstream;
//! - `gatehoused clients import cursor <server>` moves a server with an `env` API key out of a
//!   Cursor config (temporary HOME): the config then points at Gatehouse and holds no key (one
//!   backup beside it does, as the person is told), and the server still gets the key;
//! - no server process is left once the gateway has quit.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use gatehouse_e2e::bin;
use gatehouse_e2e::peers::node_script;
use serde_json::{Value, json};

fn checks(stdout: &str) -> BTreeMap<String, Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["check"].as_str()?.to_owned(), v)))
        .collect()
}

#[tokio::test]
async fn stdio_servers_work_through_gatehouse_and_survive_crash_and_idle() {
    let mut command = node_script("stdio/upstreams.mjs");
    command
        .env("GATEHOUSED", bin("gatehoused"))
        .stdin(Stdio::null());
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .unwrap_or_else(|_| panic!("upstreams.mjs did not finish within 300 s"))
        .unwrap_or_else(|e| panic!("cannot run upstreams.mjs: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let log: Vec<&str> = stderr.lines().filter(|l| !l.contains('\x1b')).collect();
    let transcript = format!(
        "--- upstreams.mjs stdout ---\n{stdout}\n--- stderr (harness) ---\n{}",
        log.join("\n")
    );
    assert!(
        output.status.success(),
        "the harness failed ({}):\n{transcript}",
        output.status
    );
    let found = checks(&stdout);
    let mut problems = Vec::new();
    let mut expect = |check: &str, field: &str, want: Value| {
        let line = found.get(check);
        let got = line.map_or(Value::Null, |l| l[field].clone());
        let ok = line.is_some_and(|l| l["ok"] == true);
        let mark = if ok && got == want { "ok  " } else { "FAIL" };
        println!("  {mark} {check:14} {field} = {got}");
        if !ok || got != want {
            problems.push(format!(
                "{check}.{field} is {got}, expected {want} (line: {})",
                line.map_or_else(|| "none".to_owned(), Value::to_string)
            ));
        }
    };
    println!("stdio upstreams through Gatehouse:");
    expect("added", "ok", json!(true));
    expect("listed", "secretInList", json!(false));
    expect("listed", "stdio", json!(["stdio", "stdio"]));
    expect("everything-v1", "echo", json!("Echo: through stdio"));
    expect("everything-v1", "keyReached", json!(true));
    expect("everything-v1", "gatehouseEnvLeaked", json!(false));
    expect("everything-v1", "pids", json!(1));
    expect("files-v1", "tools", json!(true));
    expect("files-v1", "read", json!("Milk, eggs, Zürich maps.\n"));
    expect("everything-v2", "echo", json!("Echo: modern through stdio"));
    expect("everything-v2", "protocolVersion", json!("2026-07-28"));
    expect("crash", "killed", json!(1));
    expect("crash", "echo", json!("Echo: after the crash"));
    expect("crash", "restarted", json!(true));
    expect("idle", "running", json!(1));
    expect("idle", "stopped", json!(true));
    expect("idle", "echo", json!("Echo: after idle"));
    expect("idle", "startedAgain", json!(true));
    expect("log", "hasLines", json!(true));
    expect("log", "secretInLog", json!(false));
    expect("log", "idleNoted", json!(true));
    expect("mcp-remote", "outcome", json!("ready"));
    expect(
        "mcp-remote",
        "echo",
        json!("Echo: hello through mcp-remote"),
    );
    expect("mcp-remote", "resource", json!(true));
    expect("mcp-remote", "prompt", json!(1));
    expect("mcp-remote", "refreshed", json!(true));
    expect(
        "mcp-remote",
        "afterRevoke",
        json!({"ok": false, "authError": true}),
    );
    expect("import", "exit", json!(0));
    expect("import", "keyLeftInConfig", json!(false));
    expect("import", "pointsAtGatehouse", json!(true));
    expect("import", "backups", json!(1));
    expect("import", "keyReached", json!(true));
    expect("quit", "leftAfterQuit", json!(0));
    // The call in flight when the server died: answered with a JSON-RPC error, not left hanging.
    let outcome = found
        .get("crash")
        .map_or(Value::Null, |l| l["outcome"].clone());
    println!("  crash outcome: {outcome}");
    if outcome["answered"] != false || outcome["code"] != -32603 {
        problems.push(format!(
            "the call in flight during kill -9 got {outcome}, expected a JSON-RPC error -32603"
        ));
    }
    assert!(
        problems.is_empty(),
        "stdio upstreams through Gatehouse:\n  {}\n{transcript}",
        problems.join("\n  ")
    );
}
