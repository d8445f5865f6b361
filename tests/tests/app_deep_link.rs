//! The upstream sign-in through the deep link, with the real programs: the real app binary (under
//! Xvfb and a private D-Bus session bus, which tauri-plugin-single-instance needs on Linux) in
//! front of an OAuth-protected upstream (`oidc-provider` guarding the TypeScript SDK's MCP server).
//! Run by `cargo xtask test`, which provides the display, the bus and `GATEHOUSE_APP_BIN`; ignored
//! by a plain `cargo test`.
//!
//! The sign-in is started by `gatehoused connections signin --callback deep-link` against the app's
//! data directory; Playwright signs in at the AS in Chromium and captures the redirect to
//! `dev.gatehouse:/oauth/callback?code=…&state=…&iss=…` instead of following it; the test then opens
//! it as the desktop would:
//! - **running instance**: `xdg-open` (as on GNOME, through `gio open`) finds the scheme handler the
//!   app registered at launch and starts `gatehouse '<that URL>'`; that second process hands the URL
//!   to the first over D-Bus and exits; the first completes the exchange (the connection turns
//!   connected, a local MCP client calls the upstream through the app's gateway); the same link
//!   again (`gatehouse '<URL>'` directly) changes nothing (the state is burned);
//! - **cold start**: with no app running, the link starts the app, which completes the sign-in the CLI
//!   started (its state is in the store).
//!
//! Finally no upstream token, authorization code or state appears in any file the app wrote (its
//! logs at `RUST_LOG=debug`, its stdout/stderr, the database).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use gatehouse_e2e::app::{AppHome, read};
use gatehouse_e2e::peers::{NodeProcess, admin, consent, query_param, tests_dir};
use gatehouse_e2e::upstream::{
    AuthServer, UpstreamMcp, files_containing, signin_capturing_redirect,
};
use gatehouse_e2e::{gatehoused, wait_for};
use serde_json::Value;

const SLUG: &str = "up";
const DEEP_LINK: &str = "dev.gatehouse:/oauth/callback";
const STEP: Duration = Duration::from_secs(60);

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

/// `gatehoused connections signin up --callback deep-link --no-browser` running in the background:
/// it printed the authorization URL and waits for the sign-in to complete.
struct PendingSignin {
    child: Child,
    authorization_url: String,
    rest: Receiver<String>,
}

impl PendingSignin {
    fn start(data_dir: &Path, port: u16) -> Self {
        let mut child = gatehoused(data_dir)
            .args([
                "connections",
                "signin",
                SLUG,
                "--callback",
                "deep-link",
                "--no-browser",
                "--timeout",
                "120",
                "--port",
                &port.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("gatehoused connections signin: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("signin stdout is not piped"));
        let (tx, rest) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let authorization_url = loop {
            let line = rest
                .recv_timeout(STEP)
                .unwrap_or_else(|e| panic!("signin printed no authorization URL ({e}): {seen:?}"));
            if line.starts_with("http") && line.contains("redirect_uri=") {
                break line;
            }
            seen.push(line);
        };
        Self {
            child,
            authorization_url,
            rest,
        }
    }

    /// Waits for the command to return; (success, what it printed after the URL). `app_output` is
    /// the app's output file, shown when the command never returns.
    fn finish(mut self, app_output: &Path) -> (bool, String) {
        let status = wait_for(Duration::from_secs(60), || {
            self.child.try_wait().ok().flatten()
        });
        let Some(status) = status else {
            let _ = self.child.kill();
            panic!(
                "connections signin did not return within 60 s of the callback: the app did not \
                 complete the sign-in\n--- app ---\n{}",
                read(app_output)
            );
        };
        let printed: Vec<String> = self.rest.try_iter().collect();
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        (
            status.success(),
            format!("{}\n{stderr}", printed.join("\n")),
        )
    }
}

fn whoami(client: &mut NodeProcess) -> Value {
    client.send("WHOAMI");
    client.expect("a whoami result", STEP, |l| {
        serde_json::from_str::<Value>(l)
            .ok()
            .filter(|v| v["step"] == "whoami")
    })
}

/// The browser part: log in and consent at the AS, capture the redirect to the deep link.
fn browser_sign_in(pending: &PendingSignin, issuer: &str, name: &str) -> String {
    let url = &pending.authorization_url;
    assert!(
        url.starts_with(&format!("{issuer}/auth?")),
        "the authorization endpoint of the AS: {url}"
    );
    assert_eq!(
        query_param(url, "redirect_uri").as_deref(),
        Some(DEEP_LINK),
        "--callback deep-link must send the browser back to the app's private-use scheme"
    );
    let signed = signin_capturing_redirect(url, "alice", name);
    assert_eq!(signed.report["ok"], true, "{:?}", signed.report);
    let link = signed.final_url;
    assert!(
        link.starts_with(&format!("{DEEP_LINK}?")),
        "the AS redirected to the deep link"
    );
    for param in ["code", "state", "iss"] {
        assert!(
            query_param(&link, param).is_some_and(|v| !v.is_empty()),
            "the callback link carries {param} (RFC 6749 §4.1.2, RFC 9207)"
        );
    }
    link
}

#[test]
#[ignore = "needs the app binary, Xvfb and a D-Bus session: run through `cargo xtask test`"]
fn deep_link_callback_reaches_the_running_app_and_starts_a_cold_one() {
    let auth_server = AuthServer::start(300);
    let upstream = UpstreamMcp::start(&auth_server.issuer);
    let home = AppHome::new();
    let data = home.data_dir.clone();

    let mut first = home.launch("first", &[]);
    admin(
        &data,
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
    wait_status(&data, "needs_auth");

    // Running instance: the second launch hands the link over and exits; the first completes it.
    let pending = PendingSignin::start(&data, home.port);
    let link = browser_sign_in(&pending, &auth_server.issuer, "deeplink-running");
    let mut secrets: Vec<String> = ["code", "state"]
        .iter()
        .filter_map(|p| query_param(&link, p))
        .collect();
    // The desktop's way: the link goes to the scheme handler the app registered at launch.
    let handed = home.open_as_desktop("second", &link);
    assert!(
        handed.success(),
        "the desktop must find the app's dev.gatehouse: handler and start it, got {handed}:\n{}",
        read(&home.output_file("second"))
    );
    assert!(
        first.is_running(),
        "the running instance must survive the hand-over"
    );
    let (ok, printed) = pending.finish(&home.output_file("first"));
    assert!(
        ok,
        "connections signin must see the app complete the sign-in:\n{printed}\n--- app ---\n{}",
        read(&home.output_file("first"))
    );
    let connected = wait_status(&data, "connected");
    assert!(
        read(&home.output_file("first")).contains("sign-in completed through the deep link"),
        "the running instance (not some other path) completed the sign-in:\n{}",
        read(&home.output_file("first"))
    );
    assert!(
        connected["account_label"]
            .as_str()
            .is_some_and(|a| a.contains("alice")),
        "on behalf of the AS's account: {connected}"
    );
    let stats = auth_server.stats();
    assert_eq!(stats["token"]["authorization_code"], 1, "{stats}");
    assert_eq!(stats["registrations"], 1, "one DCR registration: {stats}");

    // The same link again: its state is burned, nothing is exchanged, the connection stays.
    let replay = home.hand_over("replay", &link);
    assert!(replay.success(), "a replayed link is still handed over");
    let failed_in_log = wait_for(Duration::from_secs(15), || {
        read(&home.output_file("first"))
            .contains("sign-in through the deep link failed")
            .then_some(())
    });
    assert!(
        failed_in_log.is_some(),
        "the running app must refuse the replayed callback:\n{}",
        read(&home.output_file("first"))
    );
    assert_eq!(
        auth_server.stats()["token"]["authorization_code"],
        1,
        "a replayed callback must not reach the token endpoint"
    );
    assert_eq!(connection(&data)["status"], "connected");

    // A local MCP client authorizes with Gatehouse and calls the upstream through the app's gateway.
    let local_url = format!("{}/mcp/{SLUG}", home.base_url());
    let mut client = NodeProcess::spawn("upstream/local-client.mjs", &[&local_url]);
    let url = client.expect_authorize(STEP);
    let approved = consent(&url, "approve", "deeplink-local-client");
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
    let who = whoami(&mut client);
    assert_eq!(who["ok"], true, "{who}");
    assert_eq!(who["who"]["sub"], "alice", "{who}");
    drop(client);

    // Cold start: sign out, stop the app, start a sign-in from the CLI, and let the link start the
    // app, which completes it from the store.
    admin(&data, &["connections", "signout", SLUG]);
    wait_status(&data, "needs_auth");
    drop(first);
    let pending = PendingSignin::start(&data, home.port);
    let link = browser_sign_in(&pending, &auth_server.issuer, "deeplink-cold");
    secrets.extend(
        ["code", "state"]
            .iter()
            .filter_map(|p| query_param(&link, p)),
    );
    let mut cold = home.launch("cold", &[&link]);
    let (ok, printed) = pending.finish(&home.output_file("cold"));
    assert!(
        ok,
        "the app started by the link must complete the sign-in:\n{printed}\n--- app ---\n{}",
        read(&home.output_file("cold"))
    );
    wait_status(&data, "connected");
    assert!(
        read(&home.output_file("cold")).contains("sign-in completed through the deep link"),
        "the cold-started app completed the sign-in from its launch argument:\n{}",
        read(&home.output_file("cold"))
    );
    assert_eq!(
        auth_server.stats()["token"]["authorization_code"],
        2,
        "the cold-started app exchanged the second code"
    );
    assert!(
        cold.is_running(),
        "the app keeps running after a cold start"
    );

    // Switching back to the loopback callback reuses the registration: both redirect URIs were
    // registered at once.
    admin(&data, &["connections", "signout", SLUG]);
    wait_status(&data, "needs_auth");
    let signin_log = home.root.path().join("signin-loopback.log");
    let output = gatehoused(&data)
        .args([
            "connections",
            "signin",
            SLUG,
            "--port",
            &home.port.to_string(),
        ])
        .env("BROWSER", tests_dir().join("js/upstream/browser.sh"))
        .env("UPSTREAM_LOGIN", "alice")
        .env("UPSTREAM_SIGNIN_NAME", "deeplink-then-loopback")
        .env("UPSTREAM_SIGNIN_LOG", &signin_log)
        .output()
        .unwrap_or_else(|e| panic!("gatehoused connections signin: {e}"));
    assert!(
        output.status.success(),
        "the loopback sign-in after deep-link ones failed:\n{}\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        read(&signin_log)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    let loopback = format!("{}/oauth/callback", home.base_url());
    assert!(
        printed
            .split_whitespace()
            .filter_map(|w| query_param(w, "redirect_uri"))
            .any(|r| r == loopback),
        "the default callback is the app gateway's loopback one: {printed}"
    );
    wait_status(&data, "connected");
    let stats = auth_server.stats();
    assert_eq!(stats["token"]["authorization_code"], 3, "{stats}");
    assert_eq!(
        stats["registrations"], 1,
        "deep link and loopback sign-ins share one DCR registration: {stats}"
    );
    drop(cold);

    // No upstream token, code or state in anything the app wrote (logs, outputs, database).
    secrets.extend(auth_server.issued_token_values());
    assert!(
        secrets.len() >= 6,
        "two codes, two states and the AS's tokens: {}",
        secrets.len()
    );
    let leaks = files_containing(home.root.path(), &secrets);
    assert!(
        leaks.is_empty(),
        "an upstream token, code or state was found in: {leaks:?}"
    );
    let log_dir = data.join("logs");
    assert!(
        std::fs::read_dir(&log_dir).is_ok_and(|mut d| d.next().is_some()),
        "the app must have written its log file in {log_dir:?} (else the leak check proves nothing)"
    );
}
