//! The upstream OAuth sign-in from the window: add the connection, sign in through the browser,
//! sign out.

use gatehouse_e2e::peers::{admin, query_param};
use gatehouse_e2e::upstream::{AuthServer, UpstreamMcp, files_containing, signin};

use super::*;

const OAUTH_SLUG: &str = "docs";
const OAUTH_NAME: &str = "Upstream Docs";

/// The connection `slug` as `gatehoused connections list --json` shows it.
fn stored_connection(data_dir: &Path, slug: &str) -> Value {
    let listed: Value = serde_json::from_str(&admin(data_dir, &["connections", "list", "--json"]))
        .unwrap_or_else(|e| panic!("connections list --json: {e}"));
    listed
        .as_array()
        .and_then(|all| all.iter().find(|c| c["slug"] == slug).cloned())
        .unwrap_or_else(|| panic!("no connection {slug}: {listed}"))
}

/// A `$BROWSER` that opens nothing: it appends its argument (the authorization URL) to `log` and
/// exits 0. The opener splits `$BROWSER` on whitespace and ':', so its path must have neither.
fn recording_browser(dir: &Path, log: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("record-browser.sh");
    let text = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\nexit 0\n",
        log.display()
    );
    std::fs::write(&script, text).unwrap_or_else(|e| panic!("write {script:?}: {e}"));
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {script:?}: {e}"));
    let shown = script.to_string_lossy();
    assert!(
        !shown.contains(char::is_whitespace) && !shown.contains(':'),
        "the $BROWSER path must be one word: {shown}"
    );
    script
}

/// The URLs the recording browser was asked to open so far.
fn opened_urls(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The upstream sign-in from the window: add an OAuth-protected upstream through the Add connection
/// dialog ("Detect sign-in" picks OAuth), sign in from its card (the app opens the authorization
/// URL with `$BROWSER`, here a script that records it; Playwright then signs in at the real
/// `oidc-provider` in Chromium and lands on the app gateway's loopback callback), see the card turn
/// "Connected as …" live, sign out through the confirmation (revoked at the AS), and find no
/// upstream token or code in anything the app wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the app binary, Xvfb, a D-Bus session, tauri-driver, node and Chromium: run through `cargo xtask test`"]
async fn window_adds_an_oauth_connection_and_signs_in_through_the_browser() {
    let artifacts = artifacts();
    let auth_server = blocking(|| AuthServer::start(300));
    let upstream = blocking(|| UpstreamMcp::start(&auth_server.issuer));
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_dir = home.path().join("data");
    let opened_log = home.path().join("browser-opened.txt");
    let browser = recording_browser(home.path(), &opened_log);
    let app_output = home.path().join("app.out");
    let gateway_port = free_port();
    let window = AppWindow::launch_with(
        home.path(),
        &data_dir,
        gateway_port,
        &[
            ("BROWSER", browser.as_os_str()),
            ("GATEHOUSE_KEY_BACKEND", "file".as_ref()),
            // Everything the app could log, so that the leak check below means something.
            ("RUST_LOG", "debug".as_ref()),
        ],
        Some(&app_output),
    )
    .await;
    window.gateway_status().await;
    window.choose_theme("Light", "light").await;
    window.select_tab("Connections").await;
    let mark = window.mark_document().await;
    window.record_changes().await;

    // Add connection: slug, name, URL; "Detect sign-in" probes the URL and selects OAuth.
    window
        .click(
            &window
                .find("//button[normalize-space(.)='Add connection…']")
                .await,
        )
        .await;
    let dialog = "//*[@data-testid='connection-dialog']";
    let input = |label: &str| {
        format!("{dialog}//input[@id={dialog}//label[normalize-space(.)='{label}']/@for]")
    };
    window
        .type_into(&window.find(&input("Slug")).await, OAUTH_SLUG)
        .await;
    window
        .type_into(&window.find(&input("Name")).await, OAUTH_NAME)
        .await;
    window
        .type_into(&window.find(&input("Server URL")).await, &upstream.url)
        .await;
    let oauth_radio = format!(
        "{dialog}//label[contains(normalize-space(.), 'OAuth sign-in in your browser')]/input[@type='radio']"
    );
    assert!(
        !window.is_selected(&window.find(&oauth_radio).await).await,
        "OAuth must not be selected before the detection"
    );
    window
        .click(
            &window
                .find(&format!(
                    "{dialog}//button[normalize-space(.)='Detect sign-in']"
                ))
                .await,
        )
        .await;
    window
        .find(&format!(
            "{dialog}//*[@role='status' and contains(., 'asks for OAuth sign-in')]"
        ))
        .await;
    assert!(
        window.is_selected(&window.find(&oauth_radio).await).await,
        "the detection of the guarded server must select the OAuth radio"
    );
    let automatic = window
        .find(&format!(
            "{dialog}//select[@id={dialog}//label[normalize-space(.)='Provider']/@for]\
             /option[normalize-space(.)='Automatic: discover and register Gatehouse']"
        ))
        .await;
    assert!(
        window.is_selected(&automatic).await,
        "the provider defaults to automatic discovery and registration"
    );
    window
        .screenshot(&artifacts.join("app-window-oauth-add-dialog.png"))
        .await;
    window
        .click(
            &window
                .find(&format!(
                    "{dialog}//button[@type='submit' and normalize-space(.)='Add connection']"
                ))
                .await,
        )
        .await;
    window.wait_gone(dialog, "adding closes the dialog").await;

    // The new card: sign-in needed, as the store says.
    let card =
        format!("//*[@data-testid='connection-card'][.//h3[normalize-space(.)='{OAUTH_NAME}']]");
    let status = format!("{card}//*[@data-testid='connection-status']");
    window
        .find(&format!("{status}[normalize-space(.)='Sign-in needed']"))
        .await;
    let added = blocking(|| stored_connection(&data_dir, OAUTH_SLUG));
    assert_eq!(added["auth_kind"], "oauth", "{added}");
    assert_eq!(added["status"], "needs_auth", "{added}");
    assert_eq!(added["upstream_url"], upstream.url.as_str(), "{added}");
    assert!(
        opened_urls(&opened_log).is_empty(),
        "nothing is opened in the browser before Sign in is clicked"
    );

    // Sign in…: the app opens the authorization URL with $BROWSER.
    window
        .click(
            &window
                .find(&format!("{card}//button[normalize-space(.)='Sign in…']"))
                .await,
        )
        .await;
    let opened = wait_for(Duration::from_secs(30), || {
        Some(opened_urls(&opened_log)).filter(|urls| !urls.is_empty())
    })
    .unwrap_or_else(|| {
        panic!(
            "Sign in… did not open a browser within 30 s:\n{}",
            std::fs::read_to_string(&app_output).unwrap_or_default()
        )
    });
    assert_eq!(opened.len(), 1, "one click opens one URL: {opened:?}");
    let authorize = opened[0].clone();
    let endpoint = blocking(|| auth_server.metadata())["authorization_endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !endpoint.is_empty() && authorize.starts_with(&format!("{endpoint}?")),
        "the AS's authorization endpoint {endpoint:?}: {authorize}"
    );
    let param = |name: &str| query_param(&authorize, name);
    assert_eq!(
        param("response_type").as_deref(),
        Some("code"),
        "{authorize}"
    );
    assert_eq!(
        param("code_challenge_method").as_deref(),
        Some("S256"),
        "{authorize}"
    );
    for name in ["code_challenge", "state", "client_id"] {
        assert!(
            param(name).is_some_and(|v| !v.is_empty()),
            "{name} is missing: {authorize}"
        );
    }
    assert_eq!(
        param("resource").as_deref(),
        Some(upstream.url.as_str()),
        "RFC 8707: the resource is the upstream MCP server"
    );
    assert_eq!(
        param("redirect_uri"),
        Some(format!("http://127.0.0.1:{gateway_port}/oauth/callback")),
        "the window signs in through the app gateway's loopback callback"
    );
    window
        .find(&format!(
            "//*[@data-testid='connections-announcement' and contains(., \
             'Continue in your browser to sign in to {OAUTH_NAME}')]"
        ))
        .await;

    // The person signs in at the AS; the browser lands on the app gateway's callback.
    let signed = blocking(|| signin(&authorize, "alice", "app-window"));
    assert_eq!(signed.report["ok"], true, "{:?}", signed.report);
    assert!(
        signed
            .final_url
            .starts_with(&format!("http://127.0.0.1:{gateway_port}/oauth/callback?")),
        "the browser ended on the gateway's callback: {}",
        signed.final_url
    );
    assert_eq!(signed.report["final_status"], 200, "{:?}", signed.report);
    let code = query_param(&signed.final_url, "code")
        .unwrap_or_else(|| panic!("no code in {}", signed.final_url));

    // The card turns "Connected as …" in the open window, told by a change event, without a reload.
    let connected_text = window
        .wait_for(
            &format!("{status}[starts-with(normalize-space(.), 'Connected as ')]"),
            Duration::from_secs(60),
        )
        .await;
    let shown = window.try_text(&connected_text).await.unwrap_or_default();
    let stored = blocking(|| stored_connection(&data_dir, OAUTH_SLUG));
    assert_eq!(stored["status"], "connected", "{stored}");
    let account = stored["account_label"].as_str().unwrap_or_default();
    assert!(
        account.contains("alice"),
        "on behalf of the AS's account: {stored}"
    );
    assert_eq!(
        shown.trim(),
        format!("Connected as {account}"),
        "the card names the account the store has"
    );
    assert!(
        window
            .find_all(&format!("{card}//button[normalize-space(.)='Sign in…']"))
            .await
            .is_empty(),
        "a connected card offers no Sign in"
    );
    assert!(
        window
            .recorded_changes()
            .await
            .iter()
            .any(|c| c == "connections"),
        "the window must have been told by a change event: {:?}",
        window.recorded_changes().await
    );
    assert_eq!(
        window.document_mark().await.as_deref(),
        Some(mark.as_str()),
        "the card must change without a reload"
    );
    let stats = blocking(|| auth_server.stats());
    assert_eq!(stats["registrations"], 1, "one DCR registration: {stats}");
    assert_eq!(stats["token"]["authorization_code"], 1, "{stats}");
    window
        .screenshot(&artifacts.join("app-window-oauth-signed-in.png"))
        .await;

    // Sign out…: the confirmation, then the card needs a sign-in again and the AS saw a revocation.
    let revocations_before = stats["revocations"].as_u64().unwrap_or(0);
    window
        .click(
            &window
                .find(&format!("{card}//button[normalize-space(.)='Sign out…']"))
                .await,
        )
        .await;
    let confirm = "//*[@data-testid='confirm-dialog']";
    window
        .find(&format!(
            "{confirm}[.//*[normalize-space(.)='Sign out of {OAUTH_NAME}?']]"
        ))
        .await;
    window
        .click(
            &window
                .find(&format!("{confirm}//button[normalize-space(.)='Sign out']"))
                .await,
        )
        .await;
    window
        .wait_gone(confirm, "signing out closes the dialog")
        .await;
    window
        .find(&format!("{status}[normalize-space(.)='Sign-in needed']"))
        .await;
    window
        .find(&format!("{card}//button[normalize-space(.)='Sign in…']"))
        .await;
    assert_eq!(
        blocking(|| stored_connection(&data_dir, OAUTH_SLUG))["status"],
        "needs_auth"
    );
    let stats = blocking(|| auth_server.stats());
    assert!(
        stats["revocations"].as_u64().unwrap_or(0) > revocations_before,
        "signing out must revoke at the AS (RFC 7009): {stats}"
    );
    window
        .find(&format!(
            "//*[@data-testid='connections-announcement' and normalize-space(.)='Signed out of {OAUTH_NAME}.']"
        ))
        .await;
    window
        .screenshot(&artifacts.join("app-window-oauth-signed-out.png"))
        .await;
    assert_eq!(
        window.document_mark().await.as_deref(),
        Some(mark.as_str()),
        "the window must not have reloaded during the test"
    );
    window.close().await;

    // No upstream token or authorization code in anything the app wrote: its data dir (database,
    // log files) and its output.
    let mut secrets = blocking(|| auth_server.issued_token_values());
    assert!(
        secrets.len() >= 2,
        "the AS issued an access and a refresh token: {}",
        secrets.len()
    );
    secrets.push(code);
    let leaks = files_containing(home.path(), &secrets);
    assert!(
        leaks.is_empty(),
        "an upstream token or code was found in: {leaks:?}"
    );
    let log_dir = data_dir.join("logs");
    assert!(
        std::fs::read_dir(&log_dir).is_ok_and(|mut d| d.next().is_some()),
        "the app must have written its log file in {log_dir:?} (else the leak check proves nothing)"
    );
    assert!(
        std::fs::read_to_string(&app_output).is_ok_and(|out| out.contains("gateway listening")),
        "the app's debug output must be in {app_output:?} (else the leak check proves nothing)"
    );
    drop(upstream);
    drop(auth_server);
}
