//! Role 2 with the real programs: `gatehoused serve` in front of an OAuth-protected upstream
//! (the TypeScript SDK's MCP server guarded by `oidc-provider`), the sign-in at the upstream driven by
//! Playwright in Chromium through `$BROWSER`, a local SDK client authorized with Gatehouse (approve.mjs).
//! Add by URL → detected as OAuth ("needs_auth") → sign in → the local client calls `whoami` through
//! Gatehouse → the upstream token expires → refreshed exactly once → the upstream revokes it → a JSON-RPC
//! error and `reauth_required` → sign in again → works, without re-authorizing the local client. And no
//! upstream token value is in the data directory (database, logs) or the gateway's stderr.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse_e2e::peers::{NodeProcess, admin, artifacts_dir, consent, query_param, tests_dir};
use gatehouse_e2e::upstream::{AuthServer, UpstreamMcp, files_containing, serve_logging_to};
use gatehouse_e2e::{gatehoused, wait_for};
use serde_json::Value;

const STEP: Duration = Duration::from_secs(60);
const SLUG: &str = "up";
/// The upstream access token's lifetime. Must exceed Gatehouse's refresh-ahead margin, or every call
/// would refresh; lower it only together with that margin.
const ACCESS_TTL: u64 = 20;

/// The connection as `gatehoused connections list --json` shows it.
fn connection(data_dir: &Path) -> Value {
    let listed: Value = serde_json::from_str(&admin(data_dir, &["connections", "list", "--json"]))
        .unwrap_or_else(|e| panic!("connections list --json: {e}"));
    listed
        .as_array()
        .and_then(|all| all.iter().find(|c| c["slug"] == SLUG).cloned())
        .unwrap_or_else(|| panic!("no connection {SLUG}: {listed}"))
}

fn wait_status(data_dir: &Path, status: &str) -> Value {
    wait_for(Duration::from_secs(30), || {
        let c = connection(data_dir);
        (c["status"] == status).then_some(c)
    })
    .unwrap_or_else(|| {
        panic!(
            "connection {SLUG} never reached {status:?}: {}",
            connection(data_dir)
        )
    })
}

/// `gatehoused connections signin up` with `$BROWSER` = browser.sh (signin.mjs in Chromium); returns
/// what the command printed. It returns once the running gateway completed the sign-in.
fn sign_in(data_dir: &Path, port: u16, signin_log: &Path, name: &str) -> String {
    let browser: PathBuf = tests_dir().join("js/upstream/browser.sh");
    let output = gatehoused(data_dir)
        .args(["connections", "signin", SLUG, "--port", &port.to_string()])
        .env("BROWSER", &browser)
        .env("UPSTREAM_LOGIN", "alice")
        .env("UPSTREAM_SIGNIN_NAME", name)
        .env("UPSTREAM_SIGNIN_LOG", signin_log)
        .env("GATEHOUSE_ARTIFACTS", artifacts_dir())
        .output()
        .unwrap_or_else(|e| panic!("gatehoused connections signin: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "connections signin failed ({}):\n{stdout}\n{}\n--- signin.mjs ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(signin_log).unwrap_or_default()
    );
    stdout
}

fn whoami(client: &mut NodeProcess) -> Value {
    client.send("WHOAMI");
    client.expect("a whoami result", STEP, |l| {
        serde_json::from_str::<Value>(l)
            .ok()
            .filter(|v| v["step"] == "whoami")
    })
}

#[test]
fn add_detect_sign_in_use_refresh_revoke_reauth_and_no_token_leaks() {
    let auth_server = AuthServer::start(ACCESS_TTL);
    let upstream = UpstreamMcp::start(&auth_server.issuer);
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let stderr_file = scratch.path().join("gatehoused.stderr");
    let signin_log = scratch.path().join("signin.log");
    let gateway = serve_logging_to(data.path(), &stderr_file);

    // Add by URL: the unauthenticated probe finds the 401 + resource_metadata → OAuth, sign-in needed.
    admin(
        data.path(),
        &[
            "connections",
            "add",
            "--slug",
            SLUG,
            "--name",
            "Upstream",
            "--url",
            &upstream.url,
        ],
    );
    let added = wait_status(data.path(), "needs_auth");
    assert_eq!(added["auth_kind"], "oauth", "{added}");

    // Sign in: the CLI prints the authorization URL and opens it with $BROWSER.
    let printed = sign_in(data.path(), gateway.port, &signin_log, "first");
    let authorize = printed
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{}/auth?", auth_server.issuer)))
        .unwrap_or_else(|| panic!("signin printed no authorization URL at the AS: {printed}"));
    assert_eq!(
        query_param(authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(authorize, "resource").as_deref(),
        Some(upstream.url.as_str())
    );
    let redirect = query_param(authorize, "redirect_uri").unwrap_or_default();
    assert_eq!(
        redirect,
        format!("{}/oauth/callback", gateway.base_url),
        "the gateway's loopback callback"
    );
    // The CLI returns once the gateway completed the sign-in, which can be before signin.mjs has
    // written its report after the callback page loaded: wait for the report (bounded).
    let signin_report = gatehouse_e2e::wait_for(std::time::Duration::from_secs(30), || {
        std::fs::read_to_string(&signin_log)
            .ok()
            .filter(|r| r.contains("\"ok\":"))
    })
    .unwrap_or_default();
    assert!(
        signin_report.contains("\"ok\":true"),
        "signin.mjs: {signin_report}"
    );
    let connected = wait_status(data.path(), "connected");
    assert!(
        connected["account_label"]
            .as_str()
            .is_some_and(|a| a.contains("alice")),
        "on behalf of the AS's account: {connected}"
    );
    let stats = auth_server.stats();
    assert_eq!(stats["registrations"], 1, "one DCR registration: {stats}");
    assert_eq!(stats["token"]["authorization_code"], 1, "{stats}");

    // A local client authorizes with Gatehouse and calls the upstream through it.
    let local_url = format!("{}/mcp/{SLUG}", gateway.base_url);
    let mut client = NodeProcess::spawn("upstream/local-client.mjs", &[&local_url]);
    let url = client.expect_authorize(STEP);
    assert!(
        url.starts_with(&format!("{}/authorize?", gateway.base_url)),
        "{url}"
    );
    let approved = consent(&url, "approve", "upstream-local-client");
    assert!(
        approved
            .final_url
            .as_deref()
            .is_some_and(|u| query_param(u, "code").is_some()),
        "{:?}",
        approved.report
    );
    client.expect_step("connected", STEP);
    client.expect_marker("READY", STEP);
    let first = whoami(&mut client);
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["who"]["sub"], "alice", "{first}");
    assert_eq!(first["who"]["email"], "alice@example.test", "{first}");
    let authorizations = first["authorizations"].clone();

    // The upstream access token expires: the next call still works, after exactly one refresh.
    let refreshes_before = auth_server.refreshes();
    std::thread::sleep(Duration::from_secs(ACCESS_TTL + 2));
    let after_expiry = whoami(&mut client);
    assert_eq!(after_expiry["ok"], true, "{after_expiry}");
    assert_eq!(after_expiry["who"]["sub"], "alice");
    let again = whoami(&mut client);
    assert_eq!(again["ok"], true, "{again}");
    assert_eq!(
        auth_server.refreshes() - refreshes_before,
        1,
        "one refresh for the expired token: {}",
        auth_server.stats()
    );

    // The upstream revokes: a JSON-RPC error for the client (not HTTP 401), and reauth_required.
    assert!(auth_server.revoke_subject("alice") >= 1);
    let revoked = whoami(&mut client);
    assert_eq!(revoked["ok"], false, "{revoked}");
    assert_eq!(
        revoked["http_401"], false,
        "Gatehouse must not answer 401 for an upstream revoke: {revoked}"
    );
    assert!(
        revoked["jsonrpc_code"].is_i64(),
        "a JSON-RPC error: {revoked}"
    );
    assert!(
        revoked["error"]
            .as_str()
            .is_some_and(|e| e.to_ascii_lowercase().contains("gatehouse")),
        "the error tells the user to open Gatehouse: {revoked}"
    );
    let reauth = wait_status(data.path(), "reauth_required");
    assert_eq!(reauth["status"], "reauth_required");

    // Sign in again: works, and the local client was not asked to authorize again.
    sign_in(data.path(), gateway.port, &signin_log, "again");
    wait_status(data.path(), "connected");
    let restored = whoami(&mut client);
    assert_eq!(restored["ok"], true, "{restored}");
    assert_eq!(restored["who"]["sub"], "alice");
    assert_eq!(
        restored["authorizations"], authorizations,
        "no new local authorization"
    );
    assert!(
        !client
            .seen()
            .iter()
            .skip(1)
            .any(|l| l.starts_with("AUTHORIZE ")),
        "the local client was sent to authorize again: {}",
        client.transcript()
    );

    // No upstream token value in the data dir (SQLite files, log files) or the gateway's stderr.
    let secrets = auth_server.issued_token_values();
    assert!(
        secrets.len() >= 4,
        "the AS issued tokens: {}",
        secrets.len()
    );
    let mut leaks = files_containing(data.path(), &secrets);
    leaks.extend(files_containing(&stderr_file, &secrets));
    assert!(
        leaks.is_empty(),
        "upstream token values found in: {leaks:?}"
    );
    assert!(
        !secrets.iter().any(|s| printed.contains(s.as_str())),
        "connections signin printed a token"
    );
    drop(client);
    drop(gateway);
}
