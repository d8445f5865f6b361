//! Gatehouse bridges the two MCP protocol eras, shown with the official TypeScript SDKs on both
//! sides (tests/js/eras/pairings.mjs):
//!
//! - the legacy era, MCP 2025-11-25 (`initialize`, `Mcp-Session-Id` sessions): the v1 SDK client
//!   `@modelcontextprotocol/sdk` and the reference server `@modelcontextprotocol/server-everything`;
//! - the modern era, MCP 2026-07-28 (stateless, `server/discover`, the per-request `_meta`
//!   envelope): the v2 SDK client `@modelcontextprotocol/client` pinned to 2026-07-28 (no fallback)
//!   and a modern-only server on `@modelcontextprotocol/server` (`legacy: 'reject'`,
//!   tests/js/eras/modern-server.mjs).
//!
//! Each client connects to each upstream through Gatehouse with a token Gatehouse issued, lists the
//! tools and calls `echo`; on the modern server it also calls `where`, whose arguments the server
//! wants mirrored into `Mcp-Param-*` headers (the v1 client knows nothing of them: Gatehouse sends
//! them for it). This is what MCP 2026-07-28 asks of an intermediary that serves both
//! eras:
//!
//! - basic/versioning §Backward Compatibility with Initialization-Based Versions and its
//!   compatibility matrix: a legacy client reaches a modern server and a modern client a legacy
//!   server, each in its own era (the v1 client in a 2025-11-25 session, the pinned v2 client
//!   stateless at 2026-07-28 with no session), besides the two same-era pairings;
//! - transports/streamable-http §Backward Compatibility: the same endpoint answers a 2025-11-25
//!   `initialize` with a session (`Mcp-Session-Id`) and a 2026-07-28 request without one;
//! - `server/discover`: a hand-written discover to the legacy upstream's endpoint is answered 200
//!   with `supportedVersions` offering 2026-07-28 and the upstream's own identity in
//!   `_meta["io.modelcontextprotocol/serverInfo"]`, and a hand-written `initialize` to the modern
//!   upstream's endpoint gets a 2025-11-25 session naming the modern server.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use gatehouse_e2e::bin;
use gatehouse_e2e::peers::{Everything, node_script};
use serde_json::{Value, json};

const MODERN: &str = "2026-07-28";
const LEGACY: &str = "2025-11-25";
const MODERN_SERVER_NAME: &str = "gatehouse-e2e-modern-server";
const PAIRINGS: [&str; 4] = [
    "legacy-client/legacy-upstream",
    "legacy-client/modern-upstream",
    "modern-client/legacy-upstream",
    "modern-client/modern-upstream",
];

/// The JSON-RPC response in a Streamable HTTP POST answer: the JSON body, or the `data:` of the SSE
/// event that carries a result or an error.
fn jsonrpc_answer(content_type: &str, body: &str) -> Option<Value> {
    if !content_type.contains("text/event-stream") {
        return serde_json::from_str(body).ok();
    }
    body.split("\n\n")
        .map(|event| {
            event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter_map(|data| serde_json::from_str::<Value>(&data).ok())
        .find(|m| m.get("result").is_some() || m.get("error").is_some())
}

/// What server-everything calls itself, asked directly with a 2025-11-25 `initialize`.
async fn everything_name(url: &str) -> String {
    let response = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": LEGACY,
                "capabilities": {},
                "clientInfo": { "name": "gatehouse-eras-test", "version": "0.1.0" }
            }
        }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("initialize to server-everything at {url}: {e}"));
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("initialize answer from server-everything: {e}"));
    jsonrpc_answer(&content_type, &body)
        .and_then(|m| {
            m["result"]["serverInfo"]["name"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("server-everything's initialize names no server: {body}"))
}

/// The run's JSON lines, by kind (`pairing`, `check`, `token`) and name.
#[derive(Default)]
struct Report {
    pairings: BTreeMap<String, Value>,
    checks: BTreeMap<String, Value>,
    tokens: BTreeMap<String, Value>,
}

impl Report {
    fn parse(stdout: &str) -> Self {
        let mut report = Self::default();
        for line in stdout.lines() {
            let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let value = Value::Object(map);
            for (key, into) in [
                ("pairing", &mut report.pairings),
                ("check", &mut report.checks),
                ("token", &mut report.tokens),
            ] {
                if let Some(name) = value[key].as_str() {
                    into.insert(name.to_owned(), value.clone());
                }
            }
        }
        report
    }
}

/// What is wrong with one pairing's line (empty when it is right).
fn pairing_problems(name: &str, line: Option<&Value>, everything: &str) -> Vec<String> {
    let Some(line) = line else {
        return vec![format!("{name}: no line printed")];
    };
    if line["ok"] != true {
        return vec![format!("{name}: failed: {}", line["error"])];
    }
    let mut problems = Vec::new();
    let mut expect = |what: &str, got: &Value, want: Value| {
        if *got != want {
            problems.push(format!("{name}: {what} is {got}, expected {want}"));
        }
    };
    let (client, upstream) = name.split_once('/').unwrap_or((name, ""));
    if client == "legacy-client" {
        // The v1 client: an `initialize` session in the 2025-11-25 era, whatever the upstream.
        expect("era", &line["era"], json!("legacy"));
        expect("protocolVersion", &line["protocolVersion"], json!(LEGACY));
        let session = line["sessionId"].as_str().filter(|s| !s.is_empty());
        expect(
            "whether an Mcp-Session-Id was given",
            &json!(session.is_some()),
            json!(true),
        );
    } else {
        // The v2 client pinned to 2026-07-28: stateless, whatever the upstream.
        expect("era", &line["era"], json!("modern"));
        expect("protocolVersion", &line["protocolVersion"], json!(MODERN));
        expect("sessionId", &line["sessionId"], Value::Null);
    }
    let server = if upstream == "legacy-upstream" {
        everything
    } else {
        MODERN_SERVER_NAME
    };
    expect("serverName", &line["serverName"], json!(server));
    let tools = line["tools"].as_array().cloned().unwrap_or_default();
    expect(
        "whether tools/list has echo",
        &json!(tools.contains(&json!("echo"))),
        json!(true),
    );
    let sent = line["sent"].as_str().unwrap_or_default();
    expect("echo", &line["echo"], json!(format!("Echo: {sent}")));
    expect("isError", &line["isError"], json!(false));
    // Streamable HTTP §Custom Headers from Tool Parameters: the modern server refuses `where`
    // (-32020) unless its HTTP client, the v2 client itself or Gatehouse bridging the v1 client,
    // mirrors `region` (non-ASCII, so Base64) and `count` into Mcp-Param-* headers.
    let where_answer = if upstream == "modern-upstream" {
        json!("Region: Zürich-1 x3")
    } else {
        Value::Null
    };
    expect("where", &line["where"], where_answer);
    problems
}

/// What is wrong with the raw `server/discover` to /mcp/legacy.
fn discover_problems(line: Option<&Value>, everything: &str) -> Vec<String> {
    let Some(line) = line else {
        return vec!["discover: no line printed".to_owned()];
    };
    if line["ok"] != true {
        return vec![format!("discover: failed: {}", line["error"])];
    }
    let mut problems = Vec::new();
    if line["status"] != 200 {
        problems.push(format!(
            "discover: HTTP {} (error {}), expected 200",
            line["status"], line["error"]
        ));
    }
    if line["sessionIdHeader"] != false {
        problems.push("discover: answered with an Mcp-Session-Id".to_owned());
    }
    let result = &line["result"];
    let versions = result["supportedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !versions.contains(&json!(MODERN)) {
        problems.push(format!(
            "discover: supportedVersions {} lacks {MODERN}",
            result["supportedVersions"]
        ));
    }
    let server = &result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"];
    if server != everything {
        problems.push(format!(
            "discover: _meta serverInfo name is {server}, expected {everything:?} (the upstream's own)"
        ));
    }
    problems
}

/// What is wrong with the raw `initialize` to /mcp/modern.
fn initialize_problems(line: Option<&Value>) -> Vec<String> {
    let Some(line) = line else {
        return vec!["initialize: no line printed".to_owned()];
    };
    if line["ok"] != true {
        return vec![format!("initialize: failed: {}", line["error"])];
    }
    let mut problems = Vec::new();
    if line["status"] != 200 {
        problems.push(format!(
            "initialize: HTTP {} (error {}), expected 200",
            line["status"], line["error"]
        ));
    }
    if line["sessionId"].as_str().is_none_or(str::is_empty) {
        problems.push("initialize: no Mcp-Session-Id header".to_owned());
    }
    if line["protocolVersion"] != LEGACY {
        problems.push(format!(
            "initialize: protocolVersion {}, expected {LEGACY}",
            line["protocolVersion"]
        ));
    }
    if line["serverName"] != MODERN_SERVER_NAME {
        problems.push(format!(
            "initialize: serverInfo.name {}, expected {MODERN_SERVER_NAME}",
            line["serverName"]
        ));
    }
    problems
}

fn mark(problems: &[String]) -> &'static str {
    if problems.is_empty() { "ok  " } else { "FAIL" }
}

#[tokio::test]
async fn every_era_pairing_works_through_gatehouse() {
    let upstream = Everything::start();
    let everything = everything_name(&upstream.mcp_url()).await;
    let mut command = node_script("eras/pairings.mjs");
    command
        .arg(upstream.mcp_url())
        .env("GATEHOUSED", bin("gatehoused"))
        .stdin(Stdio::null());
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .unwrap_or_else(|_| panic!("pairings.mjs did not finish within 300 s"))
        .unwrap_or_else(|e| panic!("cannot run pairings.mjs: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The harness's own log lines (not the gateway's colored tracing).
    let log: Vec<&str> = stderr.lines().filter(|l| !l.contains('\x1b')).collect();
    let transcript = format!(
        "--- pairings.mjs stdout ---\n{stdout}\n--- stderr (harness) ---\n{}",
        log.join("\n")
    );
    assert!(
        output.status.success(),
        "the harness failed ({}):\n{transcript}",
        output.status
    );
    let report = Report::parse(&stdout);

    println!("server-everything calls itself {everything:?}");
    println!("Gatehouse tokens (local v1 client approved per connection):");
    for (slug, line) in &report.tokens {
        println!(
            "  {} /mcp/{slug}: connected {}{}",
            if line["ok"] == true { "ok  " } else { "FAIL" },
            line["connected"],
            line["error"]
                .as_str()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
    }
    let mut problems = Vec::new();
    for slug in ["legacy", "modern"] {
        if report.tokens.get(slug).is_none_or(|t| t["ok"] != true) {
            problems.push(format!("no Gatehouse token for /mcp/{slug}"));
        }
    }
    println!("era pairings through Gatehouse (client era / upstream era):");
    for name in PAIRINGS {
        let line = report.pairings.get(name);
        let found = pairing_problems(name, line, &everything);
        match line.filter(|l| l["ok"] == true) {
            Some(l) => println!(
                "  {} {name:32} era={} version={} session={} server={} echo={}",
                mark(&found),
                l["era"],
                l["protocolVersion"],
                if l["sessionId"].is_string() {
                    "yes"
                } else {
                    "no"
                },
                l["serverName"],
                l["echo"]
            ),
            None => println!(
                "  {} {name:32} {}",
                mark(&found),
                line.map_or_else(|| "no line".to_owned(), |l| l["error"].to_string())
            ),
        }
        problems.extend(found);
    }
    println!("raw requests through Gatehouse:");
    let discover = report.checks.get("discover");
    let found = discover_problems(discover, &everything);
    println!(
        "  {} server/discover (2026-07-28) -> /mcp/legacy: HTTP {} session {} supportedVersions {} serverInfo {}",
        mark(&found),
        discover.map_or(Value::Null, |l| l["status"].clone()),
        discover.map_or(Value::Null, |l| l["sessionIdHeader"].clone()),
        discover.map_or(Value::Null, |l| l["result"]["supportedVersions"].clone()),
        discover.map_or(Value::Null, |l| {
            l["result"]["_meta"]["io.modelcontextprotocol/serverInfo"].clone()
        }),
    );
    problems.extend(found);
    let initialize = report.checks.get("initialize");
    let found = initialize_problems(initialize);
    println!(
        "  {} initialize (2025-11-25) -> /mcp/modern: HTTP {} session {} protocolVersion {} serverInfo.name {}",
        mark(&found),
        initialize.map_or(Value::Null, |l| l["status"].clone()),
        initialize.map_or(Value::Null, |l| l["sessionId"].clone()),
        initialize.map_or(Value::Null, |l| l["protocolVersion"].clone()),
        initialize.map_or(Value::Null, |l| l["serverName"].clone()),
    );
    problems.extend(found);

    assert!(
        problems.is_empty(),
        "era pairings that do not work through Gatehouse:\n  {}\n{transcript}",
        problems.join("\n  ")
    );
}
