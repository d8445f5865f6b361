//! Consent only the person at this desktop can give: a program running as
//! **another OS account** on the same computer — here a system user the test creates with
//! `useradd`, running Node under `setpriv` — tries every step of the attack the review found, while
//! `gatehoused serve` runs as the test's own account (the desktop user) in front of the MCP reference
//! server:
//! - register a client (`/register`), load a consent page (`/authorize`, `/authorize/review`),
//!   approve a pending consent with a copied form *and* cookie (`/authorize/decision`), start an
//!   upstream sign-in (`/oauth/upstream-signin`), and use a stolen access token (`/mcp/<slug>`):
//!   each is refused with 403, and nothing changes in the store;
//! - the refusals are in the audit log (`caller.refused`);
//! - the desktop user's own flow (DCR, the consent in its browser with its cookie, the code, the
//!   token, MCP calls) still works before and after. The real SDK client, mcp-remote and Chromium
//!   consent run as the desktop user in `real_clients.rs`.
//!
//! Linux only (the caller lookup of `gatehouse_core::net::caller`); it needs root to create the other
//! account, as CI has. Elsewhere it says why it did not run.

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use gatehouse_e2e::Gatehoused;
use gatehouse_e2e::peers::{Everything, add_connection};
use serde_json::{Value, json};

const OTHER_USER: &str = "gatehouse-e2e-other";
const SLUG: &str = "everything";
const VERIFIER: &str = "a-pkce-verifier-of-the-desktop-user-0123456789abcdefghij";

/// The attacker: fetch calls from Node as another OS account, statuses printed as one JSON line.
const ATTACKER_JS: &str = r#"
const plan = JSON.parse(process.argv[1]);
const out = {};
async function status(name, url, init) {
  try {
    const r = await fetch(url, { redirect: 'manual', ...init });
    out[name] = r.status;
  } catch (e) {
    out[name] = String(e);
  }
}
const form = (o) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: plan.cookie },
  body: new URLSearchParams(o).toString(),
});
(async () => {
  await status('health', `${plan.base}/health`);
  await status('register', `${plan.base}/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Evil', redirect_uris: ['http://127.0.0.1/cb'] }),
  });
  await status('authorize', plan.authorize_url);
  await status('review', `${plan.base}${plan.review_path}`, { headers: { cookie: plan.cookie } });
  await status('decision', `${plan.base}/authorize/decision`,
    form({ request_id: plan.request_id, csrf_token: plan.csrf_token, decision: 'approve', all_tools: 'yes' }));
  await status('upstream_signin', `${plan.base}/oauth/upstream-signin`,
    form({ request_id: plan.request_id, csrf_token: plan.csrf_token }));
  await status('mcp', `${plan.base}/mcp/${plan.slug}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${plan.token}`, 'content-type': 'application/json',
               accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  await status('token', `${plan.base}/token`, form({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'x' }));
  process.stdout.write(JSON.stringify(out) + '\n');
})();
"#;

fn run(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The other account's uid and gid, created when missing; `None` (with the reason) where the test
/// cannot run.
fn other_account() -> Result<(u32, u32), String> {
    if !cfg!(target_os = "linux") {
        return Err(String::from("the caller lookup is Linux-only"));
    }
    if run(Command::new("id").arg("-u")).as_deref() != Some("0") {
        return Err(String::from("creating another OS account needs root"));
    }
    if run(Command::new("id").args(["-u", OTHER_USER])).is_none() {
        let created = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                OTHER_USER,
            ])
            .status()
            .map_err(|e| format!("useradd: {e}"))?;
        if !created.success() && run(Command::new("id").args(["-u", OTHER_USER])).is_none() {
            return Err(format!("useradd {OTHER_USER} failed: {created}"));
        }
    }
    let uid = run(Command::new("id").args(["-u", OTHER_USER]))
        .and_then(|u| u.parse().ok())
        .ok_or("no uid")?;
    let gid = run(Command::new("id").args(["-g", OTHER_USER]))
        .and_then(|g| g.parse().ok())
        .ok_or("no gid")?;
    Ok((uid, gid))
}

/// The S256 challenge of [`VERIFIER`] (RFC 7636 §4.2), hashed with the core's SHA-256 (the e2e
/// crate has no hashing dependency of its own).
fn challenge() -> String {
    let digest = gatehouse_core::crypto::TokenHash::of(VERIFIER);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_bytes())
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    html.find(&marker)
        .map(|start| {
            html[start + marker.len()..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default()
}

fn count(data_dir: &std::path::Path, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(data_dir.join("gatehouse.sqlite3"))
        .unwrap_or_else(|e| panic!("open store: {e}"));
    db.busy_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    db.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn another_os_account_can_neither_consent_nor_sign_in_nor_use_a_stolen_token() {
    let (uid, gid) = match other_account() {
        Ok(ids) => ids,
        Err(why) => {
            eprintln!("SKIPPED another_os_account_…: {why}");
            return;
        }
    };
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let upstream = Everything::start();
    let gateway = Gatehoused::serve(data.path());
    add_connection(data.path(), SLUG, "Everything", &upstream.mcp_url());
    let base = gateway.base_url.clone();
    let resource = format!("{base}/mcp/{SLUG}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));

    // The desktop user's client registers and its person approves in the browser.
    let registered: Value = http
        .post(format!("{base}/register"))
        .json(&json!({"client_name": "Desktop client", "redirect_uris": ["http://127.0.0.1/callback"]}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("register: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("register body: {e}"));
    let client_id = registered["client_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !client_id.is_empty(),
        "the desktop user registers: {registered}"
    );
    let challenge = challenge();
    let authorize_query = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", "http://127.0.0.1:53999/callback"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", resource.as_str()),
        ("state", "desk"),
    ];
    let authorize = http
        .get(format!("{base}/authorize"))
        .query(&authorize_query);
    let authorize_url = authorize
        .try_clone()
        .and_then(|r| r.build().ok())
        .map(|r| r.url().to_string())
        .unwrap_or_default();
    let (status, page, cookie) =
        gatehouse_testkit::browser::open_consent(&http, &base, authorize).await;
    assert_eq!(
        status, 200,
        "the desktop user's browser sees the consent page"
    );
    assert!(
        page.contains("(pid "),
        "the page names the program the OS saw registering the client"
    );
    let request_id = hidden(&page, "request_id");
    let csrf_token = hidden(&page, "csrf_token");

    // A first grant and token of the desktop user, for the attacker to steal.
    let decided = http
        .post(format!("{base}/authorize/decision"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("request_id", request_id.as_str()),
            ("csrf_token", csrf_token.as_str()),
            ("decision", "approve"),
            ("all_tools", "yes"),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("decision: {e}"));
    assert_eq!(decided.status(), 303, "the desktop user approves");
    let location = decided
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let code = gatehouse_e2e::peers::query_param(&location, "code").unwrap_or_default();
    let tokens: Value = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:53999/callback"),
            ("client_id", client_id.as_str()),
            ("code_verifier", VERIFIER),
            ("resource", resource.as_str()),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("token: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("token body: {e}"));
    let token = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!token.is_empty(), "the desktop user gets a token: {tokens}");

    // A second consent is pending; the attacker holds a copy of its form and cookie.
    let (_, page, cookie) = gatehouse_testkit::browser::open_consent(
        &http,
        &base,
        http.get(format!("{base}/authorize"))
            .query(&authorize_query),
    )
    .await;
    let request_id = hidden(&page, "request_id");
    let csrf_token = hidden(&page, "csrf_token");
    let active_before = count(
        data.path(),
        "SELECT COUNT(*) FROM grants WHERE status = 'active'",
    );
    let clients_before = count(data.path(), "SELECT COUNT(*) FROM clients");

    let plan = json!({
        "base": base,
        "slug": SLUG,
        "authorize_url": authorize_url,
        "review_path": format!("/authorize/review?request_id={request_id}"),
        "request_id": request_id,
        "csrf_token": csrf_token,
        "cookie": cookie,
        "token": token,
    });
    let output = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            "/usr/bin/node",
            "-e",
            ATTACKER_JS,
        ])
        .arg(plan.to_string())
        .env("HOME", "/tmp")
        .current_dir("/tmp")
        .output()
        .unwrap_or_else(|e| panic!("setpriv node: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "the attacker printed no report ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(
        seen["health"], 200,
        "the other account reaches the gateway: {seen}"
    );
    for step in [
        "register",
        "authorize",
        "review",
        "decision",
        "upstream_signin",
        "mcp",
        "token",
    ] {
        assert_eq!(
            seen[step], 403,
            "{step}: another OS account is refused, whatever it copied: {seen}"
        );
    }
    assert_eq!(
        count(
            data.path(),
            "SELECT COUNT(*) FROM grants WHERE status = 'active'"
        ),
        active_before,
        "nothing was approved"
    );
    assert_eq!(
        count(data.path(), "SELECT COUNT(*) FROM clients"),
        clients_before,
        "nothing was registered"
    );
    assert!(
        count(
            data.path(),
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'caller.refused'"
        ) >= 1,
        "the refusals are in the audit log"
    );

    // The desktop user's own token and consent still work.
    let listed = http
        .post(format!("{base}/mcp/{SLUG}"))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-06-18")
        .body(
            json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-06-18","capabilities":{},
            "clientInfo":{"name":"desk","version":"1"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("mcp: {e}"));
    assert_eq!(listed.status(), 200, "the desktop user's token works");
    let decided = http
        .post(format!("{base}/authorize/decision"))
        .header("cookie", &cookie)
        .form(&[
            ("request_id", request_id.as_str()),
            ("csrf_token", csrf_token.as_str()),
            ("decision", "approve"),
            ("all_tools", "yes"),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("decision: {e}"));
    assert_eq!(
        decided.status(),
        303,
        "the pending consent the attacker tried is still the person's to approve"
    );
}
