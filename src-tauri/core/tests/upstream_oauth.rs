//! Role 2 against real in-process servers on 127.0.0.1:0, not mocked traits: an upstream MCP server
//! that answers 401 with a `resource_metadata` challenge and serves its PRM, and an authorization
//! server with metadata, /register, /authorize (auto-approving), /token (PKCE check, refresh
//! rotation), /revoke and /userinfo. Gatehouse runs as the real gateway on a real socket.
//!
//! Covered: discovery (the challenged PRM URL, else the path-inserted then the root well-known,
//! RFC 9728 §3.1 and §5.1; a PRM naming another resource is set aside, RFC 9728 §3.3; the AS
//! `issuer` must match, RFC 8414 §3.3; no S256 advertised, no sign-in), registration (DCR as a
//! native app; a new authorization server means a new registration), the authorization request
//! (PKCE S256, `state`, the RFC 8707 `resource`, the challenged scope or else the PRM's; only an
//! https or loopback authorization endpoint is opened), the callback (`state` checked and used
//! once, `iss` checked per RFC 9207), the code exchange, the upstream token on every upstream
//! request and never the Gatehouse one, SSRF refusals and no redirect followed, and sign-out
//! revoking at the AS (RFC 7009); plus invalid_grant → reauth_required → sign in again, the
//! 50-concurrent single-flight refresh, and no token value in the database, the WAL or a DTO.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::oauth::upstream::flow::RevokeResult;
use gatehouse_core::oauth::upstream::{CallbackQuery, UpstreamError, UpstreamOAuth};
use gatehouse_core::store::connections::{self, ConnectionStatus};
use gatehouse_core::store::{ClientId, upstream_credentials};
use gatehouse_testkit::signin::*;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- tests

/// The 2025-03-26 discovery fallback (MCP 2025-03-26 authorization §2.3.3): only with the
/// per-connection opt-in, an upstream without protected resource metadata is signed in to through
/// its origin's default endpoints (or its RFC 8414 document there), with PKCE S256 and the RFC 8707
/// resource.
#[tokio::test]
async fn legacy_upstream_without_prm_needs_the_opt_in_then_signs_in_at_its_origin() {
    for with_metadata in [false, true] {
        let env = Env::in_front_of(start_legacy_oauth_upstream(with_metadata).await).await;
        let refused = env
            .cli
            .start_signin(&env.connection, &env.redirect_uri())
            .await
            .err()
            .unwrap_or_else(|| panic!("without the opt-in there is no sign-in"));
        assert!(
            refused.to_string().contains("legacy discovery fallback")
                && refused.to_string().contains("--legacy-oauth"),
            "the error says what to turn on, and how: {refused}"
        );
        assert!(
            env.upstream.registrations.lock().unwrap().is_empty(),
            "nothing was registered without the opt-in"
        );

        let id = env.connection.clone();
        let now = env.vault.store().now();
        env.vault
            .store()
            .write_blocking(move |tx| {
                let mut settings = connections::get(tx, &id)?.unwrap().settings;
                settings.oauth.legacy_discovery = true;
                let edit = connections::ConnectionEdit {
                    settings: Some(settings),
                    ..Default::default()
                };
                connections::update(tx, &id, &edit, now).map(|_| ())
            })
            .unwrap();

        env.sign_in().await;
        let base = env.upstream.mcp_base.lock().unwrap().clone();
        let log = env.upstream.log.lock().unwrap().clone();
        if !with_metadata {
            assert!(
                log.iter()
                    .any(|l| l.contains("/.well-known/oauth-authorization-server")),
                "the origin's RFC 8414 document was looked for first: {log:?}"
            );
        }
        let query = env.upstream.authorize_queries.lock().unwrap()[0].clone();
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["resource"], format!("{base}/mcp"));
        let form = env.upstream.token_forms.lock().unwrap()[0].clone();
        assert_eq!(
            form["resource"],
            format!("{base}/mcp"),
            "RFC 8707 on the token request"
        );
        assert_eq!(
            env.upstream.registrations.lock().unwrap().len(),
            1,
            "DCR at {base}/register"
        );
        assert_eq!(env.row().status, ConnectionStatus::Connected);
        let reply = env.call(&env.local_token()).await;
        assert_eq!(
            reply["result"]["ok"], true,
            "the proxy reaches the legacy upstream: {reply}"
        );
    }
}

#[tokio::test]
async fn discovery_registration_authorize_and_callback_end_to_end() {
    let env = Env::new().await;
    let callback = env.authorize().await;
    let base = env.upstream.mcp_base.lock().unwrap().clone();
    let log = env.upstream.log.lock().unwrap().clone();
    assert_eq!(
        log[..5],
        [
            "POST /mcp",
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-authorization-server",
            "/register",
            "/authorize"
        ],
        "the challenged PRM URL (RFC 9728 §5.1), then AS metadata, then DCR, then authorize"
    );

    let reg = env.upstream.registrations.lock().unwrap()[0].clone();
    assert_eq!(
        reg["application_type"], "native",
        "DCR declares a native app (MCP 2026-07-28 client registration §Application Type)"
    );
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert_eq!(
        reg["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        reg["redirect_uris"],
        json!([
            env.redirect_uri(),
            gatehouse_core::oauth::upstream::deep_link::DEEP_LINK_REDIRECT_URI
        ]),
        "both callbacks in one registration, the sign-in's own first"
    );
    assert_eq!(reg["client_name"], "Gatehouse");

    let q = env.upstream.authorize_queries.lock().unwrap()[0].clone();
    assert_eq!(q["response_type"], "code", "OAuth 2.1 §4.1.1");
    assert!(q["client_id"].starts_with("dcr-client-"));
    assert_eq!(q["redirect_uri"], env.redirect_uri());
    assert_eq!(q["code_challenge"].len(), 43, "S256 of a 32-byte verifier");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["state"].len() >= 22, "state carries at least 128 bits");
    assert_eq!(q["resource"], format!("{base}/mcp"), "canonical resource");
    assert_eq!(
        q["scope"], "mcp:tools",
        "the challenged scope wins (MCP 2026-07-28 authorization §Scope Selection Strategy)"
    );

    let (status, page) = env.deliver(&callback).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in to Upstream up"), "{page}");
    assert!(
        page.contains("ada@example.com"),
        "account from id_token claims: {page}"
    );
    let form = env.upstream.token_forms.lock().unwrap()[0].clone();
    assert_eq!(form["grant_type"], "authorization_code", "OAuth 2.1 §4.1.3");
    assert_eq!(form["resource"], format!("{base}/mcp"));
    assert_eq!(form["redirect_uri"], env.redirect_uri());
    assert!(form.contains_key("code_verifier") && form.contains_key("client_id"));

    let row = env.row();
    assert_eq!(row.status, ConnectionStatus::Connected);
    assert_eq!(row.account_label.as_deref(), Some("ada@example.com"));

    // The same callback again is ignored (a `state` is used once): no second token request.
    let (status, page) = env.deliver(&callback).await;
    assert_eq!(status, 400, "a second delivery is refused");
    assert!(page.contains("already used"), "{page}");
    assert_eq!(
        env.upstream.token_forms.lock().unwrap().len(),
        1,
        "no second exchange"
    );

    // The DCR client is reused for the next sign-in (same issuer, same redirect URI).
    env.sign_in().await;
    assert_eq!(
        env.upstream.registrations.lock().unwrap().len(),
        1,
        "registered once"
    );
}

#[tokio::test]
async fn proxy_injects_the_upstream_token_and_refreshes_once_for_fifty_waiters() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    let answer = env.call(&local).await;
    assert_eq!(
        answer["result"]["ok"], true,
        "the call goes through: {answer}"
    );
    let bearers = env.upstream.mcp_bearers.lock().unwrap().clone();
    assert!(
        bearers.last().unwrap().starts_with(AT_PREFIX),
        "the upstream sees the upstream token, never the Gatehouse token"
    );
    assert!(!bearers.contains(&local), "no token passthrough");

    // Through the gateway: an upstream 401 (the AS forgot the access token) → one refresh, one retry.
    env.upstream.access.lock().unwrap().clear();
    let answer = env.call(&local).await;
    assert_eq!(
        answer["result"]["ok"], true,
        "refreshed and retried: {answer}"
    );
    assert_eq!(
        env.upstream.refresh_calls.load(Ordering::SeqCst),
        1,
        "one refresh for the 401"
    );
    env.upstream.refresh_calls.store(0, Ordering::SeqCst);

    // Single-flight refresh: expired access token, 50 concurrent callers → exactly one refresh.
    env.expire_access_token();
    let proxy_tokens = UpstreamOAuth::new(&env.vault);
    let version = env.row().config_version;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let oauth = proxy_tokens.clone();
        let id = env.connection.clone();
        tasks.push(tokio::spawn(async move {
            oauth
                .tokens()
                .access_token(&id, version)
                .await
                .map(|t| t.expose_secret().to_owned())
        }));
    }
    let mut got = HashSet::new();
    for t in tasks {
        got.insert(t.await.unwrap().unwrap());
    }
    assert_eq!(
        env.upstream.refresh_calls.load(Ordering::SeqCst),
        1,
        "exactly one refresh at the AS"
    );
    assert_eq!(got.len(), 1, "every waiter got the refreshed token");
    let form = env
        .upstream
        .token_forms
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(form["grant_type"], "refresh_token");
    assert!(form.contains_key("resource"), "refresh sends resource");

    // The rotated refresh token replaced the old one: the AS has exactly one live refresh token
    // and Gatehouse holds it (a second refresh with it succeeds).
    env.expire_access_token();
    let fresh = UpstreamOAuth::new(&env.vault);
    fresh
        .tokens()
        .access_token(&env.connection, version)
        .await
        .unwrap();
    assert_eq!(
        env.upstream.refresh_calls.load(Ordering::SeqCst),
        2,
        "the stored token is the rotated one"
    );
}

#[tokio::test]
async fn invalid_grant_turns_reauth_required_and_signing_in_again_restores() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    let mut events = env.vault.store().subscribe();
    // The upstream revokes everything.
    env.upstream.access.lock().unwrap().clear();
    env.upstream.refresh.lock().unwrap().clear();
    let answer = env.call(&local).await;
    let message = answer["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("sign in again") || message.contains("Sign in again"),
        "a refused refresh is an in-band error that says to sign in again: {answer}"
    );
    assert!(message.contains("open Gatehouse"), "{message}");
    let row = env.row();
    assert_eq!(row.status, ConnectionStatus::ReauthRequired);
    assert_eq!(row.status_detail.as_deref(), Some("Sign in again"));
    let mut saw = false;
    while let Ok(event) = events.try_recv() {
        saw |= matches!(
            event,
            gatehouse_core::store::StoreEvent::ConnectionStatusChanged {
                status: ConnectionStatus::ReauthRequired,
                ..
            }
        );
    }
    assert!(
        saw,
        "an event tells the app the connection needs a new sign-in"
    );

    env.sign_in().await;
    assert_eq!(
        env.row().status,
        ConnectionStatus::Connected,
        "sign in again restores it"
    );
    assert_eq!(
        env.call(&local).await["result"]["ok"],
        true,
        "the same local grant works again"
    );
}

#[tokio::test]
async fn callbacks_with_a_wrong_state_or_issuer_are_refused() {
    let env = Env::new().await;
    // A wrong state → no token request.
    let callback = env.authorize().await;
    let mut tampered = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(k, v)| {
            let forged = k == "state";
            (
                k.into_owned(),
                if forged {
                    "forged".into()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let (status, _) = env.deliver(tampered.as_str()).await;
    assert_eq!(status, 400);
    assert!(
        env.upstream.token_forms.lock().unwrap().is_empty(),
        "a wrong state: no token request"
    );

    // An iss mismatch (RFC 9207 §2.4) → rejected; the upstream's error_description is not shown.
    *env.upstream.iss_mode.lock().unwrap() = "wrong";
    let (status, page) = env.deliver(&env.authorize().await).await;
    assert_eq!(status, 400);
    assert!(page.contains("another authorization server"), "{page}");
    // What the page shows, after its style sheet (whose `.tool-description` says "script").
    let shown = page.split("</style>").nth(1).unwrap_or(&page);
    assert!(
        !shown.contains("script") && !shown.contains("access_denied"),
        "nothing the mismatched response carried is shown: {page}"
    );

    // The AS advertises iss support but the callback has none (RFC 9207 §2.4).
    *env.upstream.iss_mode.lock().unwrap() = "missing";
    let (status, page) = env.deliver(&env.authorize().await).await;
    assert_eq!(status, 400);
    assert!(page.contains("no iss"), "a missing iss is refused: {page}");
    assert!(
        env.upstream.token_forms.lock().unwrap().is_empty(),
        "no code was ever exchanged"
    );
    assert_eq!(env.row().status, ConnectionStatus::NeedsAuth);
}

#[tokio::test]
async fn discovery_refusals() {
    let env = Env::new().await;
    let redirect = env.redirect_uri();
    let start = || env.cli.start_signin(&env.connection, &redirect);

    // A PRM for another resource (RFC 9728 §3.3).
    *env.upstream.prm_resource.lock().unwrap() = Some("https://evil.example/mcp".into());
    let err = start().await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::Discovery(_)) && err.to_string().contains("another resource"),
        "{err}"
    );
    *env.upstream.prm_resource.lock().unwrap() = None;

    let patch = |k: &str, v: Value| {
        let mut m = env.upstream.metadata_patch.lock().unwrap();
        m.clear();
        m.insert(k.into(), v);
    };
    // Each refusal needs a fresh discovery: the cache is keyed by config_version, so use new
    // processes' state (a fresh UpstreamOAuth) for each case.
    let fresh = || UpstreamOAuth::new(&env.vault);
    patch("issuer", json!("https://other.example"));
    assert!(
        fresh()
            .start_signin(&env.connection, &redirect)
            .await
            .unwrap_err()
            .to_string()
            .contains("issuer"),
        "the metadata's issuer must be the one asked for (RFC 8414 §3.3)"
    );
    patch("code_challenge_methods_supported", json!(["plain"]));
    assert!(
        fresh()
            .start_signin(&env.connection, &redirect)
            .await
            .unwrap_err()
            .to_string()
            .contains("S256"),
        "no S256 advertised, no sign-in"
    );
    patch("code_challenge_methods_supported", Value::Null);
    assert!(
        fresh()
            .start_signin(&env.connection, &redirect)
            .await
            .unwrap_err()
            .to_string()
            .contains("S256"),
        "no code_challenge_methods_supported at all, no sign-in"
    );
    for bad in ["javascript:alert(1)", "file:///etc/passwd"] {
        patch("authorization_endpoint", json!(bad));
        let err = fresh()
            .start_signin(&env.connection, &redirect)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("authorization endpoint"),
            "only an https or loopback authorization endpoint is opened: {err}"
        );
    }
    assert!(
        env.upstream.authorize_queries.lock().unwrap().is_empty(),
        "nothing was launched"
    );
    env.upstream.metadata_patch.lock().unwrap().clear();

    // SSRF: the PRM names an AS on the metadata address or the LAN.
    for evil in [
        "http://169.254.169.254",
        "http://10.0.0.1",
        "https://169.254.169.254/latest",
    ] {
        *env.upstream.prm_as.lock().unwrap() = Some(evil.into());
        let err = fresh()
            .start_signin(&env.connection, &redirect)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("https") || err.to_string().contains("private"),
            "SSRF refused: {evil}: {err}"
        );
    }
    // A redirect from the metadata URL is not followed.
    let base = env.upstream.mcp_base.lock().unwrap().clone();
    *env.upstream.prm_as.lock().unwrap() = Some(format!("{base}/redirect-issuer"));
    let err = fresh()
        .start_signin(&env.connection, &redirect)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("redirect"),
        "redirects are never followed: {err}"
    );
    assert!(
        env.upstream
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|p| p == "/redirect"),
        "the redirecting metadata URL was asked"
    );
    *env.upstream.prm_as.lock().unwrap() = None;
}

#[tokio::test]
async fn without_a_resource_metadata_hint_the_well_knowns_are_probed_in_order() {
    let env = Env::new().await;
    *env.upstream.bare_challenge.lock().unwrap() = true;
    env.authorize().await;
    let log = env.upstream.log.lock().unwrap().clone();
    assert_eq!(log[0], "POST /mcp");
    assert_eq!(
        log[1], "/.well-known/oauth-protected-resource/mcp",
        "path-inserted first (RFC 9728 §3.1)"
    );
    let q = env.upstream.authorize_queries.lock().unwrap()[0].clone();
    assert_eq!(
        q["scope"], "mcp:tools mcp:read",
        "the PRM's scopes_supported without a challenged scope (MCP 2026-07-28 authorization \
         §Scope Selection Strategy)"
    );
}

#[tokio::test]
async fn sign_out_revokes_at_the_upstream_and_leaves_no_token_anywhere() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    env.expire_access_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true, "refreshed");

    // Security: no upstream token value in the database file, its WAL, or any DTO.
    let tokens: Vec<String> = env
        .upstream
        .token_forms
        .lock()
        .unwrap()
        .iter()
        .filter_map(|f| f.get("refresh_token").cloned())
        .chain(env.upstream.mcp_bearers.lock().unwrap().iter().cloned())
        .collect();
    assert!(!tokens.is_empty());
    let db = gatehouse_core::config::database_path(env.dir.path());
    let wal = db.with_extension("sqlite3-wal");
    assert!(db.exists(), "the database file is where the test looks");
    for path in [db, wal] {
        let name = path.display().to_string();
        if let Ok(bytes) = std::fs::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(AT_PREFIX) && !text.contains(RT_PREFIX),
                "{name} holds a token in clear"
            );
        }
    }
    let views = gatehouse_core::admin::list_connections(&env.vault, 1).unwrap();
    let dto = serde_json::to_string(&views).unwrap();
    assert!(
        !dto.contains(AT_PREFIX) && !dto.contains(RT_PREFIX),
        "no token in a DTO"
    );

    // Sign out → RFC 7009 at the AS, local tokens gone.
    let result = env.cli.sign_out(&env.connection).await.unwrap();
    assert_eq!(result, RevokeResult::Revoked);
    let revoked = env.upstream.revoked.lock().unwrap().clone();
    assert!(
        revoked.iter().any(|t| t.starts_with(RT_PREFIX))
            && revoked.iter().any(|t| t.starts_with(AT_PREFIX))
    );
    let id = env.connection.clone();
    let cred = env
        .vault
        .store()
        .read_blocking(move |c| upstream_credentials::get(c, &id))
        .unwrap()
        .unwrap();
    assert!(cred.access_token_sealed.is_none() && cred.refresh_token_sealed.is_none());
    assert_eq!(env.row().status, ConnectionStatus::NeedsAuth);
    let answer = env.call(&local).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("open Gatehouse and sign in"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_material_change_purges_tokens_and_voids_pending_sign_ins() {
    let env = Env::new().await;
    let callback = env.authorize().await;
    let mut settings = env.row().settings;
    settings.oauth.scopes = Some("mcp:read".into());
    env.vault
        .store()
        .update_connection(
            &env.connection,
            &connections::ConnectionEdit {
                settings: Some(settings),
                ..Default::default()
            },
        )
        .unwrap();
    let (status, page) = env.deliver(&callback).await;
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("changed"), "{page}");
    assert!(
        env.upstream.token_forms.lock().unwrap().is_empty(),
        "no exchange for a stale sign-in"
    );

    env.sign_in().await;
    let mut settings = env.row().settings;
    settings.oauth.scopes = Some("mcp:tools".into());
    env.vault
        .store()
        .update_connection(
            &env.connection,
            &connections::ConnectionEdit {
                settings: Some(settings),
                ..Default::default()
            },
        )
        .unwrap();
    let id = env.connection.clone();
    assert!(
        env.vault
            .store()
            .read_blocking(move |c| upstream_credentials::get(c, &id))
            .unwrap()
            .is_none(),
        "a material change purges the upstream credential"
    );
    let _ = CallbackQuery::default();
}

#[tokio::test]
async fn the_cli_detects_oauth_and_signs_in_through_the_running_gateway() {
    let env = Env::new().await;
    let exe = env!("CARGO_BIN_EXE_gatehoused");
    let url = format!("{}/mcp", env.upstream.mcp_base.lock().unwrap());
    let port = env.gateway.address().port().to_string();
    let cli = |args: &[&str]| {
        let mut c = tokio::process::Command::new(exe);
        c.arg("--data-dir")
            .arg(env.dir.path())
            .args(args)
            .env("GATEHOUSE_KEY_BACKEND", "file")
            .env("GATEHOUSE_PORT", &port)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    };
    // Auto-detect: no --auth, the probe answers 401 → oauth, "Sign-in needed".
    let out = cli(&[
        "connections",
        "add",
        "--json",
        "--slug",
        "auto",
        "--name",
        "Auto",
        "--url",
        &url,
    ])
    .output()
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["auth_kind"], "oauth", "detected by the probe");
    assert_eq!(view["status"], "needs_auth");

    // signin: the "browser" is a program that records its single argument (no shell involved).
    let (script, seen) = recording_browser(env.dir.path());
    let child = cli(&["connections", "signin", "auto", "--timeout", "20"])
        .env("BROWSER", &script)
        .spawn()
        .unwrap();
    let opened = opened(&seen).await;
    assert!(
        opened.contains("/authorize?"),
        "the browser got the authorization URL: {opened:?}"
    );
    let r = env.http.get(&opened).send().await.unwrap();
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{}/oauth/callback?", env.gateway.base_url())));
    let (status, page) = env.deliver(&callback).await;
    assert_eq!(status, 200, "{page}");
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "signin exits 0: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&opened), "the URL is printed too");
    assert!(
        stdout.contains("signed in to auto as ada@example.com"),
        "{stdout}"
    );

    // signout: revokes at the upstream.
    let out = cli(&["connections", "signout", "auto"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked"));
    assert!(
        !env.upstream.revoked.lock().unwrap().is_empty(),
        "RFC 7009 revoke reached the AS"
    );
}

#[tokio::test]
async fn client_credentials_for_machine_to_machine() {
    let env = Env::new().await;
    let url = format!("{}/mcp", env.upstream.mcp_base.lock().unwrap());
    let input = gatehouse_core::admin::NewConnectionInput {
        slug: "m2m".into(),
        name: "Machine".into(),
        upstream_url: url,
        auth: gatehouse_core::admin::UpstreamAuth::OAuth(gatehouse_core::admin::OAuthInput {
            client_id: Some("m2m".into()),
            client_secret: Some(secrecy::SecretString::from(M2M_SECRET.to_owned())),
            client_credentials: true,
            ..Default::default()
        }),
        account_name: None,
    };
    let port = env.gateway.address().port();
    let view = gatehouse_core::admin::add_connection(&env.vault, port, &input).unwrap();
    assert_eq!(view.status, "needs_auth");
    let oauth = UpstreamOAuth::new(&env.vault);
    let started = gatehouse_core::admin::start_signin(
        &oauth,
        port,
        "m2m",
        gatehouse_core::admin::SigninCallback::Loopback,
    )
    .await
    .unwrap();
    assert!(matches!(
        started,
        gatehouse_core::admin::SigninLaunch::Connected
    ));
    let view = gatehouse_core::admin::get_connection(&env.vault, port, "m2m").unwrap();
    assert_eq!(view.status, "connected");
    assert_eq!(
        env.upstream.refresh_calls.load(Ordering::SeqCst),
        1,
        "one client_credentials call"
    );
    let form = env
        .upstream
        .token_forms
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        form.get("resource").is_some_and(|r| r.ends_with("/mcp")),
        "resource sent: {form:?}"
    );
    assert!(
        !form.contains_key("client_secret"),
        "the secret goes in Basic auth, not the body"
    );

    // Expired → a new client_credentials token, no refresh token needed.
    let id = gatehouse_core::store::ConnectionId::parse(&view.id).unwrap();
    let now = env.vault.store().now();
    let id2 = id.clone();
    env.vault
        .store()
        .write_blocking(move |tx| {
            let mut c = upstream_credentials::get(tx, &id2)?.unwrap();
            c.expires_at = Some(now - 1);
            upstream_credentials::put(tx, &c, now)
        })
        .unwrap();
    let token = oauth
        .tokens()
        .access_token(&id, view.config_version)
        .await
        .unwrap();
    assert!(token.expose_secret().starts_with(AT_PREFIX));
    assert_eq!(env.upstream.refresh_calls.load(Ordering::SeqCst), 2);
    let db = std::fs::read(gatehouse_core::config::database_path(env.dir.path())).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(M2M_SECRET),
        "the client secret is sealed"
    );
}

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    env.expire_access_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    env.cli.sign_out(&env.connection).await.unwrap();
    let logs = String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned();
    assert!(
        logs.contains("upstream sign-in completed"),
        "the log is captured"
    );
    for secret in [AT_PREFIX, RT_PREFIX, M2M_SECRET] {
        assert!(!logs.contains(secret), "{secret} appears in the log");
    }
    assert!(!logs.contains(&local), "the local token appears in the log");
    let leaks: Vec<&str> = logs.lines().filter(|l| l.contains("code=code-")).collect();
    assert!(
        leaks.is_empty(),
        "an authorization code appears in the log: {leaks:#?}"
    );
}

#[tokio::test]
async fn a_new_authorization_server_means_a_new_registration() {
    let env = Env::new().await;
    env.sign_in().await;
    assert_eq!(env.upstream.registrations.lock().unwrap().len(), 1);
    // The PRM now names AS2. Nothing registered at AS1 is used there.
    let world2 = start_oauth_upstream().await;
    let issuer2 = world2.issuer.lock().unwrap().clone();
    *env.upstream.prm_as.lock().unwrap() = Some(issuer2.clone());
    let fresh = UpstreamOAuth::new(&env.vault);
    let start = fresh
        .start_signin(&env.connection, &env.redirect_uri())
        .await
        .unwrap();
    assert!(start.authorization_url.starts_with(&issuer2), "AS2 is used");
    assert_eq!(
        world2.registrations.lock().unwrap().len(),
        1,
        "Gatehouse registered at AS2"
    );
    assert_eq!(
        env.upstream.registrations.lock().unwrap().len(),
        1,
        "and not again at AS1"
    );

    // The proxy's refresh refuses to send AS1's refresh token to AS2: sign in again instead.
    env.expire_access_token();
    let version = env.row().config_version;
    let err = fresh
        .tokens()
        .access_token(&env.connection, version)
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::ReauthRequired), "{err}");
    assert!(
        world2.token_forms.lock().unwrap().is_empty(),
        "no AS1 token reached AS2"
    );
    assert_eq!(env.row().status, ConnectionStatus::ReauthRequired);
}

#[tokio::test]
async fn the_consent_page_tool_list_uses_the_upstream_token() {
    let env = Env::new().await;
    let http =
        gatehouse_core::proxy::upstream_client(&gatehouse_core::proxy::ProxyOptions::default());
    let row = env.row();
    let without =
        gatehouse_core::proxy::catalog::list_upstream_tools(&env.vault, &http, &row).await;
    assert!(without.is_err(), "without a token the upstream refuses");
    env.sign_in().await;
    let row = env.row();
    let token = env
        .cli
        .tokens()
        .access_token(&row.id, row.config_version)
        .await
        .unwrap();
    let tools = gatehouse_core::proxy::catalog::list_upstream_tools_with(
        &env.vault,
        &http,
        &row,
        Some(&token),
    )
    .await
    .unwrap();
    assert_eq!(tools[0].0, "echo");
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

#[tokio::test]
async fn consent_first_then_upstream_sign_in_then_the_code() {
    let env = Env::new().await;
    let base = env.gateway.base_url();
    let client = ClientId::generate();
    env.vault
        .store()
        .upsert_client(&registration(&client, "Test Client"))
        .unwrap();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(
        b"local-verifier-local-verifier-local-verifier",
    ));
    let resource = format!("{base}/mcp/up");
    let (_, consent, cookie) = open_consent(
        &env.http,
        &base,
        env.http.get(format!("{base}/authorize")).query(&[
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "local-state"),
            ("resource", resource.as_str()),
        ]),
    )
    .await;
    let form = vec![
        ("request_id", hidden(&consent, "request_id")),
        ("csrf_token", hidden(&consent, "csrf_token")),
        ("decision", "approve".to_owned()),
    ];
    let decide = || {
        env.http
            .post(format!("{base}/authorize/decision"))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let r = decide().await.unwrap();
    assert_eq!(r.status(), 409, "no code before the upstream sign-in");
    let page = r.text().await.unwrap();
    assert!(page.contains("action=\"/oauth/upstream-signin\""), "{page}");

    // The page's sign-in button: the same request id + CSRF token start the upstream sign-in.
    let r = env
        .http
        .post(format!("{base}/oauth/upstream-signin"))
        .header("cookie", &cookie)
        .form(&[
            ("request_id", form[0].1.clone()),
            ("csrf_token", form[1].1.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let start = page.find("href=\"").unwrap() + 6;
    let link = page[start..start + page[start..].find('"').unwrap()].replace("&#38;", "&");
    let forged = env
        .http
        .post(format!("{base}/oauth/upstream-signin"))
        .form(&[
            ("request_id", form[0].1.clone()),
            ("csrf_token", "wrong".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400, "a wrong CSRF token starts nothing");

    let r = env.http.get(&link).send().await.unwrap();
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    let (status, page) = env.deliver(&callback).await;
    assert_eq!(status, 200, "{page}");

    // Approve again: now the code is issued.
    let r = decide().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1/callback?code="),
        "{location}"
    );
}

#[tokio::test]
async fn insufficient_scope_asks_for_the_union_at_the_next_sign_in() {
    let env = Env::new().await;
    *env.upstream.require_admin.lock().unwrap() = true;
    env.sign_in().await;
    let local = env.local_token();
    let call = || {
        env.http
            .post(format!("{}/mcp/up", env.gateway.base_url()))
            .bearer_auth(&local)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(
                json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo"}})
                    .to_string(),
            )
            .send()
    };
    let answer: Value = call().await.unwrap().json().await.unwrap();
    let message = answer["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("needs more permissions"),
        "a step-up the upstream asks for is an in-band error: {answer}"
    );
    assert_eq!(
        env.row().status_detail.as_deref(),
        Some("More permissions needed: Sign in again")
    );

    env.sign_in().await;
    let q = env
        .upstream
        .authorize_queries
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        q["scope"], "mcp:tools admin",
        "the union of the usual and the challenged scopes"
    );
    let answer: Value = call().await.unwrap().json().await.unwrap();
    assert_eq!(
        answer["result"]["ok"], true,
        "allowed after the step-up: {answer}"
    );

    // A denial that persists is treated as permanent after a few attempts.
    env.upstream.admin_tokens.lock().unwrap().clear();
    for _ in 0..3 {
        let _ = call().await.unwrap();
    }
    let answer: Value = call().await.unwrap().json().await.unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("keeps refusing"),
        "{answer}"
    );
}

/// The deep-link callback (RFC 8252 §7.1): the AS redirects to `dev.gatehouse:/oauth/callback`, the
/// app hands the parsed link to `complete_signin`; a later loopback sign-in reuses the one DCR
/// registration that carries both redirect URIs.
#[tokio::test]
async fn deep_link_sign_in_completes_and_shares_the_registration_with_loopback() {
    use gatehouse_core::admin::{self, SigninCallback, SigninLaunch};
    use gatehouse_core::oauth::upstream::deep_link::DEEP_LINK_REDIRECT_URI;

    let env = Env::new().await;
    let port = env.gateway.address().port();
    let launched = admin::start_signin(&env.cli, port, "up", SigninCallback::DeepLink)
        .await
        .unwrap_or_else(|e| panic!("start_signin: {e}"));
    let SigninLaunch::Browser(start) = launched else {
        panic!("an authorization-code connection signs in in the browser");
    };
    let r = env.http.get(&start.authorization_url).send().await.unwrap();
    let link = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{DEEP_LINK_REDIRECT_URI}?")),
        "the AS sends the browser to the deep link: {link}"
    );
    // The app hands the link to admin with the running gateway's upstream OAuth state.
    assert_eq!(
        gatehouse_core::admin::complete_deep_link(None, &link).await,
        gatehouse_core::admin::DeepLinkOutcome::Failed(
            "the sign-in came back, but Gatehouse's gateway is not running".into()
        ),
        "without a gateway the link is refused, and not burned"
    );
    assert_eq!(
        gatehouse_core::admin::complete_deep_link(
            Some(env.gateway.upstream_oauth()),
            "dev.gatehouse:/settings"
        )
        .await,
        gatehouse_core::admin::DeepLinkOutcome::Ignored
    );
    assert_eq!(
        gatehouse_core::admin::complete_deep_link(Some(env.gateway.upstream_oauth()), &link).await,
        gatehouse_core::admin::DeepLinkOutcome::SignedIn {
            connection_id: env.connection.to_string()
        },
        "the deep-link callback completes the sign-in"
    );
    assert_eq!(env.row().status, ConnectionStatus::Connected);
    let form = env.upstream.token_forms.lock().unwrap()[0].clone();
    assert_eq!(
        form["redirect_uri"], DEEP_LINK_REDIRECT_URI,
        "RFC 6749 §4.1.3: the exchange names the redirect URI the code was issued to"
    );

    env.sign_in().await;
    let registrations = env.upstream.registrations.lock().unwrap().clone();
    assert_eq!(
        registrations.len(),
        1,
        "switching callbacks must not register again: {registrations:?}"
    );
    assert_eq!(
        registrations[0]["redirect_uris"],
        json!([DEEP_LINK_REDIRECT_URI, env.redirect_uri()]),
        "the sign-in's own redirect first, then the other callback"
    );
}

/// An AS that refuses the private-use scheme still gets a working loopback sign-in: one more
/// registration with the loopback redirect alone.
#[tokio::test]
async fn an_as_refusing_the_deep_link_still_registers_the_loopback_callback() {
    let env = Env::new().await;
    *env.upstream.loopback_redirects_only.lock().unwrap() = true;
    env.sign_in().await;
    let registrations = env.upstream.registrations.lock().unwrap().clone();
    assert_eq!(registrations.len(), 2, "{registrations:?}");
    assert_eq!(
        registrations[1]["redirect_uris"],
        json!([env.redirect_uri()]),
        "the retry registers the sign-in's redirect URI alone"
    );
    assert_eq!(env.row().status, ConnectionStatus::Connected);
}

/// "On behalf of": the upstream's own answer (id_token / userinfo) where it gives one, else the
/// name the user gave the account.
#[tokio::test]
async fn the_account_is_the_upstreams_answer_else_the_users_name() {
    use gatehouse_core::admin::{self, ConnectionChanges};

    let env = Env::new().await;
    let port = env.gateway.address().port();
    *env.upstream.anonymous.lock().unwrap() = true;
    let named = ConnectionChanges {
        account_name: Some("ops robot".into()),
        ..ConnectionChanges::default()
    };
    admin::edit_connection(&env.vault, port, "up", &named).unwrap();
    env.sign_in().await;
    let view = admin::get_connection(&env.vault, port, "up").unwrap();
    assert_eq!(view.status, "connected");
    assert_eq!(
        view.account_label.as_deref(),
        Some("ops robot"),
        "an upstream with no identity: the user's name"
    );
    assert_eq!(
        env.row().account_label,
        None,
        "nothing came from the upstream"
    );

    *env.upstream.anonymous.lock().unwrap() = false;
    env.sign_in().await;
    let view = admin::get_connection(&env.vault, port, "up").unwrap();
    assert_eq!(
        view.account_label.as_deref(),
        Some("ada@example.com"),
        "the upstream's own answer wins over the user's name"
    );
}

/// The window's `start_signin` answer: the authorization URL (with the state) goes to the browser
/// only; the DTO names the sign-in by the state's hash and carries no part of the URL's secrets.
#[tokio::test]
async fn the_window_gets_a_signin_started_without_the_state() {
    use gatehouse_core::admin::{self, SigninCallback};

    let env = Env::new().await;
    let port = env.gateway.address().port();
    let opened = Mutex::new(None::<String>);
    let started =
        admin::start_signin_in_browser(&env.cli, port, "up", SigninCallback::DeepLink, |url| {
            *opened.lock().unwrap() = Some(url.to_owned());
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("start_signin_in_browser: {e}"));
    let url = opened
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| panic!("the authorization URL must go to the browser"));
    let state = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no state in {url}"));
    assert_eq!(started.outcome, "browser");
    assert_eq!(
        started.redirect_uri.as_deref(),
        Some("dev.gatehouse:/oauth/callback")
    );
    let json = serde_json::to_string(&started).unwrap();
    assert!(
        !json.contains(&state) && !json.contains("code_challenge"),
        "the DTO must not carry the state or the authorization URL: {json}"
    );
    let hash: String = Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        started.signin_id.as_deref(),
        Some(hash.as_str()),
        "the sign-in is named by the state's hash"
    );

    let refused =
        admin::start_signin_in_browser(&env.cli, port, "up", SigninCallback::Loopback, |_| {
            Err(std::io::Error::other("no browser here"))
        })
        .await;
    assert!(
        refused.is_err_and(|e| e.to_string().contains("cannot open the browser")),
        "a browser that cannot open is an error the window shows"
    );
}

#[tokio::test]
async fn signing_in_as_another_account_revokes_the_grants_of_the_previous_one() {
    let env = Env::new().await;
    env.sign_in().await;
    let token = env.local_token();
    let listed = env.call(&token).await;
    assert!(listed.get("result").is_some(), "the grant works: {listed}");

    // The same account again changes nothing.
    env.sign_in().await;
    let listed = env.call(&token).await;
    assert!(
        listed.get("result").is_some(),
        "a new sign-in as the same account keeps the grants: {listed}"
    );

    // Another account: the grants approved for ada end.
    *env.upstream.id_token_claims.lock().unwrap() =
        Some(json!({"sub": "2", "email": "eve@example.com"}));
    env.sign_in().await;
    assert_eq!(env.row().account_label.as_deref(), Some("eve@example.com"));
    let status = env
        .http
        .post(format!("{}/mcp/up", env.gateway.base_url()))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(json!({"jsonrpc":"2.0","id":7,"method":"tools/list"}).to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        status, 401,
        "a grant approved for the previous account no longer works"
    );
    let reasons: Vec<String> = env
        .vault
        .store()
        .read_blocking(|c| {
            let mut s = c.prepare("SELECT revoked_reason FROM grants WHERE status = 'revoked'")?;
            let rows = s
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap();
    assert_eq!(reasons, vec!["upstream_account_changed".to_owned()]);
}

#[tokio::test]
async fn a_consent_page_cannot_sign_a_signed_in_connection_in_again() {
    let env = Env::new().await;
    env.sign_in().await;
    let base = env.gateway.base_url();
    let client = ClientId::generate();
    env.vault
        .store()
        .upsert_client(&registration(&client, "Test Client"))
        .unwrap();
    let resource = format!("{base}/mcp/up");
    let (_, consent, cookie) = open_consent(
        &env.http,
        &base,
        env.http.get(format!("{base}/authorize")).query(&[
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", "http://127.0.0.1/callback"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("state", "s"),
            ("resource", resource.as_str()),
        ]),
    )
    .await;
    let before = env.upstream.authorize_queries.lock().unwrap().len();
    let r = env
        .http
        .post(format!("{base}/oauth/upstream-signin"))
        .header("cookie", &cookie)
        .form(&[
            ("request_id", hidden(&consent, "request_id")),
            ("csrf_token", hidden(&consent, "csrf_token")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        409,
        "a signed-in connection is never re-signed from a consent page"
    );
    assert_eq!(
        env.upstream.authorize_queries.lock().unwrap().len(),
        before,
        "no upstream sign-in was started"
    );
    assert_eq!(env.row().account_label.as_deref(), Some("ada@example.com"));
}

#[tokio::test]
async fn a_sign_out_in_between_does_not_let_another_account_inherit_the_grants() {
    let env = Env::new().await;
    env.sign_in().await;
    let token = env.local_token();
    assert!(
        env.call(&token).await.get("result").is_some(),
        "the grant works"
    );
    gatehouse_core::admin::sign_out(env.gateway.upstream_oauth(), "up")
        .await
        .unwrap();
    assert_eq!(
        env.row().account_label,
        None,
        "signed out: no account shown"
    );

    *env.upstream.id_token_claims.lock().unwrap() =
        Some(json!({"sub": "2", "email": "eve@example.com"}));
    env.sign_in().await;
    let revoked: i64 = env
        .vault
        .store()
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM grants WHERE revoked_reason = 'upstream_account_changed'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(
        revoked, 1,
        "the grant approved while the connection acted as ada ends when it signs in as eve"
    );
}

/// RFC 9728 §3.3: metadata that names the origin (as the origin's well-known does) covers the MCP
/// URL below it; the sign-in succeeds and sends the resource the metadata named, as the MCP SDKs
/// do (a regression: `connections add` once accepted such a server and every sign-in then failed).
#[tokio::test]
async fn metadata_naming_the_origin_signs_in_with_that_resource() {
    let env = Env::new().await;
    let origin = env.upstream.mcp_base.lock().unwrap().clone();
    *env.upstream.prm_resource.lock().unwrap() = Some(format!("{origin}/"));
    env.sign_in().await;
    assert_eq!(env.row().status, ConnectionStatus::Connected);
    let sent = env.upstream.authorize_queries.lock().unwrap()[0]
        .get("resource")
        .cloned();
    assert_eq!(sent.as_deref(), Some(origin.as_str()), "RFC 8707 resource");
    let exchanged = env.upstream.token_forms.lock().unwrap()[0]
        .get("resource")
        .cloned();
    assert_eq!(exchanged.as_deref(), Some(origin.as_str()));
}
