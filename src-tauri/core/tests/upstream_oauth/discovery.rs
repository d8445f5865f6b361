//! Discovery: the protected resource metadata, the authorization server metadata and what is refused.

use super::*;

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
