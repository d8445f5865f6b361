//! The pinned third-party peers work on this machine, without Gatehouse in between: the reference
//! server runs in Streamable HTTP mode, the SDK client script and mcp-remote exercise it directly, and
//! the Playwright script clicks Approve / Deny on a stand-in consent page and tells a framed page from a
//! blocked one. `real_clients.rs` runs the same peers through the gateway.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use gatehouse_e2e::peers::{Everything, NodeProcess, consent, query_param};

const STEP: Duration = Duration::from_secs(60);

#[test]
fn sdk_client_lists_calls_reads_and_gets_from_server_everything() {
    let upstream = Everything::start();
    let mut client = NodeProcess::spawn("sdk-client.mjs", &[&upstream.mcp_url(), "--no-auth"]);
    let connected = client.expect_step("connected", STEP);
    assert_eq!(
        connected["server"]["name"], "mcp-servers/everything",
        "{connected}"
    );
    let tools = client.expect_step("listTools", STEP);
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.contains(&"echo") && names.len() > 5,
        "tools: {names:?}"
    );
    let called = client.expect_step("callTool", STEP);
    assert_eq!(called["text"], "Echo: hello through gatehouse");
    let read = client.expect_step("readResource", STEP);
    assert!(
        read["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("demo://")),
        "{read}"
    );
    assert!(
        read["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{read}"
    );
    let prompt = client.expect_step("getPrompt", STEP);
    assert_eq!(prompt["name"], "simple-prompt");
    assert_eq!(prompt["messages"], 1);
    client.expect_marker("READY", STEP);
    client.send("CALL");
    let call = client.expect_step("call", STEP);
    assert_eq!(call["ok"], true, "{call}");
    let status = client.finish(STEP);
    assert!(status.success(), "{status}\n{}", client.transcript());
}

#[test]
fn mcp_remote_proxies_server_everything_over_stdio() {
    let upstream = Everything::start();
    let config = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config_dir = config.path().to_string_lossy().into_owned();
    let mut client = NodeProcess::spawn(
        "mcp-remote-client.mjs",
        &[&upstream.mcp_url(), "--config-dir", &config_dir],
    );
    let connected = client.expect_step("connected", STEP);
    assert_eq!(
        connected["server"]["name"], "mcp-servers/everything",
        "{connected}"
    );
    assert_eq!(
        connected["authorizations"], 0,
        "no OAuth against an open server"
    );
    let tools = client.expect_step("listTools", STEP);
    assert!(
        tools["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|n| n == "echo")),
        "{tools}"
    );
    let called = client.expect_step("callTool", STEP);
    assert_eq!(called["text"], "Echo: hello through mcp-remote");
    client.expect_step("readResource", STEP);
    client.expect_step("getPrompt", STEP);
    client.expect_marker("READY", STEP);
    client.send("CALL");
    let call = client.expect_step("call", STEP);
    assert_eq!(call["ok"], true, "{call}");
    let status = client.finish(STEP);
    assert!(status.success(), "{status}\n{}", client.transcript());
}

#[test]
fn playwright_clicks_approve_and_deny_on_a_consent_page() {
    let page = StandInConsent::start();
    let redirect = format!("http://127.0.0.1:{}/callback", page.port);
    let url = format!(
        "http://127.0.0.1:{}/authorize?state=xyz&redirect_uri={}",
        page.port,
        redirect.replace(':', "%3A").replace('/', "%2F")
    );

    let approved = consent(&url, "approve", "stand-in-approve");
    let final_url = approved
        .final_url
        .unwrap_or_else(|| panic!("{:?}", approved.report));
    assert!(final_url.starts_with(&redirect), "{final_url}");
    assert_eq!(
        query_param(&final_url, "code").as_deref(),
        Some("stand-in-code")
    );
    assert_eq!(query_param(&final_url, "state").as_deref(), Some("xyz"));
    assert_eq!(approved.report["consent_status"], 200);

    let denied = consent(&url, "deny", "stand-in-deny");
    let final_url = denied
        .final_url
        .unwrap_or_else(|| panic!("{:?}", denied.report));
    assert_eq!(
        query_param(&final_url, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&final_url, "code"), None);
}

#[test]
fn playwright_tells_a_framed_page_from_a_blocked_one() {
    let page = StandInConsent::start();
    let guarded = consent(
        &format!("http://127.0.0.1:{}/authorize?redirect_uri=x", page.port),
        "frame",
        "stand-in-guarded",
    );
    assert_eq!(guarded.report["blocked"], true, "{}", guarded.report);
    let open = consent(
        &format!("http://127.0.0.1:{}/unguarded", page.port),
        "frame",
        "stand-in-unguarded",
    );
    assert_eq!(open.report["blocked"], false, "{}", open.report);
    assert_eq!(open.report["buttons_in_frame"], 2, "{}", open.report);
}

/// A stand-in for Gatehouse's consent page on 127.0.0.1: `/authorize` (with `X-Frame-Options: DENY`
/// and `frame-ancestors 'none'`), `/unguarded` (same page, frameable), `POST /decide` redirecting to
/// the `redirect_uri` with a code or `access_denied`, and `/callback`.
struct StandInConsent {
    port: u16,
}

impl StandInConsent {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"))
            .port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve(stream));
            }
        });
        Self { port }
    }
}

fn serve(mut stream: TcpStream) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = String::from_utf8_lossy(&body);
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/");
    let redirect = query_param(target, "redirect_uri").unwrap_or_default();
    let state = query_param(target, "state").unwrap_or_default();
    let form = format!(
        "<!doctype html><title>Consent</title><h1>Allow \u{201c}Stand-in\u{201d}?</h1>\
         <form method=post action=\"/decide?redirect_uri={}&state={state}\">\
         <button name=d value=approve>Approve</button> <button name=d value=deny>Deny</button></form>",
        redirect.replace(':', "%3A").replace('/', "%2F")
    );
    let response = match path {
        "/authorize" => page(
            &form,
            "X-Frame-Options: DENY\r\nContent-Security-Policy: frame-ancestors 'none'\r\n",
        ),
        "/unguarded" => page(&form, ""),
        "/decide" => {
            let outcome = if body.contains("d=approve") {
                "code=stand-in-code"
            } else {
                "error=access_denied"
            };
            format!(
                "HTTP/1.1 303 See Other\r\nLocation: {redirect}?{outcome}&state={state}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        }
        "/callback" => page("<p>done</p>", ""),
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    };
    let _ = stream.write_all(response.as_bytes());
}

fn page(html: &str, extra_headers: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
        html.len()
    )
}

/// The clients' OAuth paths (DCR, consent clicked in Chromium, code exchange, 401 -> refresh, revoke ->
/// auth error) against `js/stand-in-gateway.mjs`, a tiny AS + bearer proxy, so the scripts are known
/// to work before the real gateway is there.
#[test]
fn both_clients_complete_oauth_refresh_and_revoke_through_a_stand_in_gateway() {
    let upstream = Everything::start();
    let mut gateway = NodeProcess::spawn("stand-in-gateway.mjs", &[&upstream.mcp_url()]);
    let base = gateway.expect("address", STEP, |l| {
        l.strip_prefix("listening on ").map(str::to_owned)
    });
    let mcp = format!("{base}/mcp/everything");
    let revoke_all = || {
        let status = std::process::Command::new("node")
            .args([
                "-e",
                &format!("fetch('{base}/admin/revoke-all',{{method:'POST'}}).then(r=>process.exit(r.ok?0:1))"),
            ])
            .status();
        assert!(status.is_ok_and(|s| s.success()), "revoke-all failed");
    };

    let mut sdk = NodeProcess::spawn("sdk-client.mjs", &[&mcp]);
    let url = sdk.expect_authorize(STEP);
    assert!(query_param(&url, "state").is_some(), "{url}");
    let approved = consent(&url, "approve", "stand-in-sdk");
    assert_eq!(
        approved.report["final_url_has_code"], true,
        "{}",
        approved.report
    );
    sdk.expect_step("connected", STEP);
    sdk.expect_step("callTool", STEP);
    sdk.expect_step("getPrompt", STEP);
    sdk.expect_marker("REFRESHED", STEP);
    sdk.expect_marker("READY", STEP);
    revoke_all();
    sdk.send("CALL");
    let call = sdk.expect_step("call", STEP);
    assert_eq!(call["ok"], false, "{call}");
    assert_eq!(call["status"], 401, "{call}");
    assert_eq!(sdk.finish(STEP).code(), Some(5), "{}", sdk.transcript());

    let config = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config_dir = config.path().to_string_lossy().into_owned();
    let port = gatehouse_e2e::free_port().to_string();
    let mut remote = NodeProcess::spawn(
        "mcp-remote-client.mjs",
        &[&mcp, "--config-dir", &config_dir, "--callback-port", &port],
    );
    let url = remote.expect_authorize(STEP);
    assert_eq!(
        query_param(&url, "redirect_uri"),
        Some(format!("http://localhost:{port}/oauth/callback"))
    );
    let approved = consent(&url, "approve", "stand-in-mcp-remote");
    assert_eq!(
        approved.report["final_url_has_code"], true,
        "{}",
        approved.report
    );
    remote.expect_step("connected", STEP);
    remote.expect_step("callTool", STEP);
    remote.expect_step("getPrompt", STEP);
    remote.expect_marker("REFRESHED", STEP);
    remote.expect_marker("READY", STEP);
    revoke_all();
    remote.send("CALL");
    let call = remote.expect_step("call", STEP);
    assert_eq!(call["auth_error"], true, "{call}");
    assert_eq!(
        remote.finish(STEP).code(),
        Some(5),
        "{}",
        remote.transcript()
    );
}
