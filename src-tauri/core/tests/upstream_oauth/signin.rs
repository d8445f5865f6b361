//! Sign-in: registration, the authorization request, the callback and the code exchange.

use super::*;

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
