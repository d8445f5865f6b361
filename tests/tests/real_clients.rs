//! Role 1 with the real programs: `gatehoused serve` in front of the MCP reference server, the
//! official TypeScript SDK client and mcp-remote as clients, the consent clicked by Playwright in
//! Chromium. Each client registers, is approved, lists and calls tools, reads a resource, gets a prompt,
//! refreshes its token; after `gatehoused grants revoke` its next request gets 401. Plus: the consent
//! page cannot be framed, and Deny sends `access_denied` back to the client.

use std::path::Path;
use std::time::Duration;

use gatehouse_e2e::Gatehoused;
use gatehouse_e2e::peers::{
    Everything, NodeProcess, add_connection, consent, grant_of, grant_slug, grants, query_param,
    revoke_grant,
};

const STEP: Duration = Duration::from_secs(60);
const SLUG: &str = "everything";
const SDK_CLIENT_NAME: &str = "Gatehouse E2E SDK client";
/// What mcp-remote 0.15.1's proxy registers as (dist/proxy.js `clientName`).
const MCP_REMOTE_CLIENT_NAME: &str = "MCP CLI Proxy";

/// A gateway with one connection, `everything`, to a fresh reference server.
struct Setup {
    data: tempfile::TempDir,
    _upstream: Everything,
    gateway: Gatehoused,
}

impl Setup {
    fn new() -> Self {
        let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let upstream = Everything::start();
        let gateway = Gatehoused::serve(data.path());
        add_connection(data.path(), SLUG, "Everything", &upstream.mcp_url());
        Self {
            data,
            _upstream: upstream,
            gateway,
        }
    }
    fn data_dir(&self) -> &Path {
        self.data.path()
    }
    fn mcp_url(&self) -> String {
        format!("{}/mcp/{SLUG}", self.gateway.base_url)
    }
}

/// Checks the authorization URL the client was sent to: Gatehouse's /authorize with S256 PKCE and the
/// connection as the resource.
fn check_authorize_url(setup: &Setup, url: &str) {
    assert!(
        url.starts_with(&format!("{}/authorize?", setup.gateway.base_url)),
        "the client must be sent to Gatehouse's /authorize: {url}"
    );
    assert_eq!(
        query_param(url, "code_challenge_method").as_deref(),
        Some("S256"),
        "{url}"
    );
    assert!(query_param(url, "state").is_some(), "{url}");
}

/// The common part: from the client's `connected` line to `READY`.
fn check_mcp_traffic(client: &mut NodeProcess, echo: &str) {
    let tools = client.expect_step("listTools", STEP);
    assert!(
        tools["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|n| n == "echo")),
        "tools through the gateway: {tools}"
    );
    let called = client.expect_step("callTool", STEP);
    assert_eq!(called["text"], format!("Echo: {echo}"), "{called}");
    let read = client.expect_step("readResource", STEP);
    assert!(
        read["text"].as_str().is_some_and(|t| !t.is_empty()),
        "resource read through the gateway: {read}"
    );
    let prompt = client.expect_step("getPrompt", STEP);
    assert_eq!(prompt["messages"], 1, "{prompt}");
    client.expect_marker("REFRESHED", STEP);
    client.expect_marker("READY", STEP);
}

/// Revokes the client's grant with the admin CLI and checks its next call fails with an auth error.
fn revoke_and_check_next_call_fails(setup: &Setup, client: &mut NodeProcess, client_name: &str) {
    let grant = grant_of(setup.data_dir(), client_name, SLUG);
    assert_eq!(grant["status"], "active", "{grant}");
    // The program the OS saw redeeming the code: the client's own Node process, not the browser.
    assert!(
        grant["caller"]["exe"].as_str().is_some_and(|exe| exe
            .rsplit('/')
            .next()
            .is_some_and(|name| name.starts_with("node"))),
        "the grant names the client's executable as seen by the OS: {grant}"
    );
    assert!(grant["caller"]["pid"].as_u64().is_some(), "{grant}");
    for secret in ["access_token", "refresh_token", "token", "code"] {
        assert!(
            grant.get(secret).is_none(),
            "grants list must never show token values: {grant}"
        );
    }
    let id = grant["id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| grant["id"].as_i64().map(|n| n.to_string()))
        .unwrap_or_else(|| panic!("grant without id: {grant}"));
    revoke_grant(setup.data_dir(), &id);
    client.send("CALL");
    let call = client.expect("the call after the revoke", STEP, |l| {
        serde_json::from_str::<serde_json::Value>(l)
            .ok()
            .filter(|v| v["step"] == "call")
    });
    assert_eq!(
        call["ok"], false,
        "a revoked grant must stop working on the very next request: {call}"
    );
    assert_eq!(
        call["auth_error"], true,
        "the failure must be an auth failure: {call}"
    );
    let status = client.finish(STEP);
    assert_eq!(
        status.code(),
        Some(5),
        "exit 5 = final call failed with an auth error\n{}",
        client.transcript()
    );
    let after = grants(setup.data_dir());
    let revoked = after
        .iter()
        .find(|g| g["id"] == grant["id"])
        .unwrap_or_else(|| panic!("the revoked grant disappeared from the list: {after:?}"));
    assert_ne!(revoked["status"], "active", "{revoked}");
}

#[test]
fn sdk_client_authorizes_uses_refreshes_and_is_revoked() {
    let setup = Setup::new();
    let state = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("tempfile: {e}"));
    let state_path = state.path().to_string_lossy().into_owned();
    let mut client = NodeProcess::spawn(
        "sdk-client.mjs",
        &[&setup.mcp_url(), "--state", &state_path],
    );
    let url = client.expect_authorize(STEP);
    check_authorize_url(&setup, &url);
    assert!(
        query_param(&url, "resource").is_some_and(|r| r == setup.mcp_url()),
        "the SDK sends the PRM's resource: {url}"
    );
    let approved = consent(&url, "approve", "sdk-client");
    let final_url = approved
        .final_url
        .unwrap_or_else(|| panic!("{:?}", approved.report));
    assert!(
        query_param(&final_url, "code").is_some(),
        "approve must redirect with a code: {}",
        approved.report
    );
    assert_eq!(
        query_param(&final_url, "iss").as_deref(),
        Some(setup.gateway.base_url.as_str()),
        "RFC 9207 iss on the redirect: {}",
        approved.report
    );
    let callback = client.expect_step("callback", STEP);
    assert_eq!(callback["has_code"], true, "{callback}");
    let connected = client.expect_step("connected", STEP);
    assert_eq!(connected["server"]["name"], "mcp-servers/everything");
    check_mcp_traffic(&mut client, "hello through gatehouse");
    let grant = grant_of(setup.data_dir(), SDK_CLIENT_NAME, SLUG);
    assert_eq!(grant_slug(&grant), Some(SLUG));
    revoke_and_check_next_call_fails(&setup, &mut client, SDK_CLIENT_NAME);
    let call = client
        .seen()
        .iter()
        .find_map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .filter(|v| v["step"] == "call")
        })
        .unwrap_or_default();
    assert_eq!(
        call["status"], 401,
        "Gatehouse answers a revoked token with HTTP 401: {call}"
    );
}

#[test]
fn mcp_remote_authorizes_uses_refreshes_and_is_revoked() {
    let setup = Setup::new();
    let config = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config_dir = config.path().to_string_lossy().into_owned();
    let callback_port = gatehouse_e2e::free_port().to_string();
    let mut client = NodeProcess::spawn(
        "mcp-remote-client.mjs",
        &[
            &setup.mcp_url(),
            "--config-dir",
            &config_dir,
            "--callback-port",
            &callback_port,
        ],
    );
    let url = client.expect_authorize(STEP);
    check_authorize_url(&setup, &url);
    assert_eq!(
        query_param(&url, "redirect_uri"),
        Some(format!("http://localhost:{callback_port}/oauth/callback")),
        "mcp-remote's redirect URI (localhost, explicit port)"
    );
    let approved = consent(&url, "approve", "mcp-remote");
    assert!(
        approved
            .final_url
            .as_deref()
            .is_some_and(|u| query_param(u, "code").is_some()),
        "{:?}",
        approved.report
    );
    let connected = client.expect_step("connected", STEP);
    assert_eq!(connected["server"]["name"], "mcp-servers/everything");
    check_mcp_traffic(&mut client, "hello through mcp-remote");
    revoke_and_check_next_call_fails(&setup, &mut client, MCP_REMOTE_CLIENT_NAME);
}

#[test]
fn consent_page_cannot_be_framed() {
    let setup = Setup::new();
    let mut client = NodeProcess::spawn("sdk-client.mjs", &[&setup.mcp_url()]);
    let url = client.expect_authorize(STEP);
    let framed = consent(&url, "frame", "framed");
    assert_eq!(
        framed.report["blocked"], true,
        "the consent page must refuse to be framed: {}",
        framed.report
    );
    assert_eq!(framed.report["buttons_in_frame"], 0, "{}", framed.report);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let response = runtime
        .block_on(reqwest::get(&url))
        .unwrap_or_else(|e| panic!("GET consent page: {e}"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    assert_eq!(header("x-frame-options"), "deny");
    assert!(
        header("content-security-policy").contains("frame-ancestors 'none'"),
        "CSP: {}",
        header("content-security-policy")
    );
    // Nothing was approved: the client is still waiting and holds no grant.
    assert!(
        grants(setup.data_dir())
            .iter()
            .all(|g| g["status"] != "active"),
        "framing must not approve anything"
    );
}

#[test]
fn deny_sends_access_denied_to_the_client() {
    let setup = Setup::new();
    let mut client = NodeProcess::spawn("sdk-client.mjs", &[&setup.mcp_url()]);
    let url = client.expect_authorize(STEP);
    let sent_state = query_param(&url, "state");
    let denied = consent(&url, "deny", "deny");
    let final_url = denied
        .final_url
        .unwrap_or_else(|| panic!("{:?}", denied.report));
    assert_eq!(
        query_param(&final_url, "error").as_deref(),
        Some("access_denied"),
        "{final_url}"
    );
    assert_eq!(query_param(&final_url, "code"), None, "{final_url}");
    assert_eq!(
        query_param(&final_url, "state"),
        sent_state,
        "state echoed on errors too"
    );
    let callback = client.expect_step("callback", STEP);
    assert_eq!(callback["error"], "access_denied", "{callback}");
    let status = client.finish(STEP);
    assert_eq!(
        status.code(),
        Some(3),
        "exit 3 = access denied\n{}",
        client.transcript()
    );
    assert!(
        grants(setup.data_dir())
            .iter()
            .all(|g| g["status"] != "active"),
        "Deny must not leave an active grant"
    );
}

/// `GET /authorize` does nothing costly before a person looks. A web page in Chromium that
/// loads Gatehouse's authorization URL as 100 images (no `Origin` on image loads, so the Origin
/// guard does not stop them) leaves at most one pending request and makes no upstream call.
#[test]
fn authorize_loaded_as_images_keeps_one_pending_request_and_calls_no_upstream() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    // An upstream that only counts what reaches it.
    let hits = Arc::new(AtomicUsize::new(0));
    let upstream = runtime.block_on(async {
        let counted = hits.clone();
        let app = axum::Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { axum::Json(serde_json::json!({"jsonrpc":"2.0","id":1,"result":{"tools":[]}})) }
        });
        format!("{}/mcp", gatehouse_testkit::upstream::serve(app).await)
    });
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let gateway = Gatehoused::serve(data.path());
    gatehouse_e2e::peers::admin(
        data.path(),
        &[
            "connections",
            "add",
            "--slug",
            "quiet",
            "--name",
            "Quiet",
            "--url",
            &upstream,
            "--auth",
            "none",
        ],
    );
    let registered: serde_json::Value = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/register", gateway.base_url))
            .json(&serde_json::json!({"client_name": "Flooded", "redirect_uris": ["http://127.0.0.1/cb"]}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("register: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("register body: {e}"))
    });
    let client_id = registered["client_id"].as_str().unwrap_or_default();
    let url = format!(
        "{base}/authorize?response_type=code&client_id={client_id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcb\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256\
         &resource={base}%2Fmcp%2Fquiet&state=s",
        base = gateway.base_url
    );
    let before = hits.load(Ordering::SeqCst);
    let flood = consent(&url, "images", "images");
    assert_eq!(flood.report["loaded"], 100, "{}", flood.report);
    let db = rusqlite::Connection::open(data.path().join("gatehouse.sqlite3"))
        .unwrap_or_else(|e| panic!("store: {e}"));
    let count = |sql: &str| -> i64 {
        db.query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    let requests = count("SELECT COUNT(*) FROM audit_events WHERE kind = 'grant.created'");
    assert!(
        requests > 1,
        "the images reached /authorize ({requests} consent requests recorded)"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM authorization_requests WHERE status = 'pending'"),
        1,
        "at most one pending request per client and connection"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        before,
        "no upstream call before a person looks at the consent page"
    );
}

/// A person with Gatehouse open never needs the browser page. The real SDK client is sent
/// to `/authorize` (loaded once, as the desktop would show it), the request is listed and approved
/// with `gatehoused requests`, and Gatehouse hands the code to the client's loopback callback
/// itself: the client connects and works.
#[test]
fn sdk_client_approved_from_the_command_line_without_the_browser_page() {
    let setup = Setup::new();
    let mut client = NodeProcess::spawn("sdk-client.mjs", &[&setup.mcp_url()]);
    let url = client.expect_authorize(STEP);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let loaded = runtime
        .block_on(reqwest::get(&url))
        .unwrap_or_else(|e| panic!("GET /authorize: {e}"));
    assert_eq!(loaded.status(), 200, "the request is recorded");

    let listed: serde_json::Value = serde_json::from_str(&gatehouse_e2e::peers::admin(
        setup.data_dir(),
        &["requests", "list", "--json"],
    ))
    .unwrap_or_else(|e| panic!("requests list --json: {e}"));
    let pending = listed
        .as_array()
        .and_then(|all| all.iter().find(|r| r["client_name"] == SDK_CLIENT_NAME))
        .unwrap_or_else(|| panic!("the SDK client's request is listed: {listed}"))
        .clone();
    assert_eq!(pending["connection_slug"], SLUG, "{pending}");
    let port = setup
        .gateway
        .base_url
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let id = pending["id"].as_str().unwrap_or_default().to_owned();
    let decided: serde_json::Value = serde_json::from_str(&gatehouse_e2e::peers::admin(
        setup.data_dir(),
        &["requests", "approve", &id, "--port", &port, "--json"],
    ))
    .unwrap_or_else(|e| panic!("requests approve --json: {e}"));
    assert_eq!(decided["approved"], true, "{decided}");
    assert_eq!(
        decided["delivery"]["via"], "loopback",
        "the code went to the client's loopback callback: {decided}"
    );

    let callback = client.expect_step("callback", STEP);
    assert_eq!(callback["has_code"], true, "{callback}");
    let connected = client.expect_step("connected", STEP);
    assert_eq!(connected["server"]["name"], "mcp-servers/everything");
    let tools = client.expect_step("listTools", STEP);
    assert!(
        tools["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|n| n == "echo")),
        "every tool allowed: {tools}"
    );
    let after: serde_json::Value = serde_json::from_str(&gatehouse_e2e::peers::admin(
        setup.data_dir(),
        &["requests", "list", "--json"],
    ))
    .unwrap_or_else(|e| panic!("requests list --json: {e}"));
    assert_eq!(after, serde_json::json!([]), "nothing is pending any more");
}

/// A client configured with `http://localhost:PORT/mcp/<slug>` (not `127.0.0.1`) works end
/// to end with the real SDK: the 401 names the metadata on `localhost`, whose `resource` is the URL
/// the client used (RFC 9728 §3.3; the SDK refuses any other), and the token works on `localhost`.
#[test]
fn sdk_client_configured_with_localhost_works() {
    let setup = Setup::new();
    let port = setup
        .gateway
        .base_url
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let url = format!("http://localhost:{port}/mcp/{SLUG}");
    let mut client = NodeProcess::spawn("sdk-client.mjs", &[&url]);
    let authorize = client.expect_authorize(STEP);
    assert_eq!(
        query_param(&authorize, "resource").as_deref(),
        Some(url.as_str()),
        "the SDK asks for the resource it was configured with: {authorize}"
    );
    let approved = consent(&authorize, "approve", "sdk-localhost");
    assert!(approved.final_url.is_some(), "{:?}", approved.report);
    let connected = client.expect_step("connected", STEP);
    assert_eq!(connected["server"]["name"], "mcp-servers/everything");
    let tools = client.expect_step("listTools", STEP);
    assert!(
        tools["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|n| n == "echo")),
        "tools through the gateway on localhost: {tools}"
    );
}
