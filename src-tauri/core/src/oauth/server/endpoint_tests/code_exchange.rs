//! The token endpoint's authorization code grant (RFC 6749 §4.1.3, RFC 7636): bearer tokens for a
//! good code, the refusals, a reused code revoking the grant, and token requests that are not one
//! of the supported grants.

use super::*;

#[tokio::test]
async fn code_exchange_issues_bearer_tokens_with_no_store() {
    let gw = gateway();
    let (code, reply) = gw.tokens().await;
    assert_no_store(&reply);
    assert_eq!(reply.json["token_type"], "Bearer");
    assert_eq!(reply.json["expires_in"], ACCESS_TOKEN_TTL / 1000);
    assert_eq!(reply.json["scope"], "mcp:access");
    let access = reply.text("access_token");
    assert!(
        access.starts_with("gh_at_"),
        "an opaque Gatehouse access token"
    );
    assert!(
        reply.text("refresh_token").starts_with("gh_rt_"),
        "refresh_token grant registered"
    );
    let row = {
        let hash = stored_hash(&access);
        gw.store
            .read_blocking(move |c| access_tokens::lookup(c, &hash))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("access token stored by hash"))
    };
    assert_eq!(
        row.resource,
        format!("{ISSUER}/mcp/github"),
        "audience = the code's resource"
    );
    assert_eq!(row.grant_id, code.grant);
    assert!(gw.access_usable(&access));

    // No refresh_token grant type and no offline_access: no refresh token.
    let client = gw.client(&["authorization_code"]).await;
    let connection = gw.connection("other");
    let reply = gw
        .exchange(&gw.code(&client, &connection, "mcp:access"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.json.get("refresh_token").is_none(), "{}", reply.json);
    let reply = gw
        .exchange(&gw.code(&client, &connection, "mcp:access offline_access"))
        .await;
    assert!(
        reply.json["refresh_token"].is_string(),
        "offline_access asks for one"
    );
}

#[tokio::test]
async fn code_exchange_refusals() {
    let gw = gateway();
    let client = gw.client(&["authorization_code", "refresh_token"]).await;
    let other = gw.client(&["authorization_code", "refresh_token"]).await;
    let connection = gw.connection("github");
    let code = gw.code(&client, &connection, "mcp:access");
    type Params = Vec<(&'static str, String)>;
    let base = |overrides: &[(&'static str, &str)]| -> Params {
        let mut params: Params = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.code.clone()),
            ("code_verifier", code.verifier.clone()),
            ("redirect_uri", REDIRECT.into()),
            ("client_id", client.to_string()),
        ];
        for (name, value) in overrides {
            params.retain(|(n, _)| n != name);
            if !value.is_empty() {
                params.push((name, (*value).to_owned()));
            }
        }
        params
    };
    let wrong_verifier = "x".repeat(43);
    let cases: Vec<(Params, &str, &str)> = vec![
        (
            base(&[("code_verifier", &wrong_verifier)]),
            "invalid_grant",
            "wrong verifier",
        ),
        (
            base(&[("code_verifier", "")]),
            "invalid_request",
            "missing verifier",
        ),
        (
            base(&[("client_id", other.as_str())]),
            "invalid_grant",
            "another client",
        ),
        (
            base(&[("redirect_uri", "http://localhost:53124/callback")]),
            "invalid_grant",
            "another redirect_uri",
        ),
        (
            base(&[("redirect_uri", "")]),
            "invalid_request",
            "redirect_uri is required",
        ),
        (
            base(&[("resource", "https://other.example/mcp")]),
            "invalid_target",
            "resource outside the grant",
        ),
        (
            base(&[("resource", &format!("{ISSUER}/mcp/other"))]),
            "invalid_target",
            "another connection's resource",
        ),
        (
            base(&[("code", "gh_ac_unknown")]),
            "invalid_grant",
            "unknown code",
        ),
    ];
    for (params, error, why) in cases {
        let pairs: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = gw.form("/token", &pairs).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{why}");
        assert_eq!(reply.error(), error, "{why}");
        assert_no_store(&reply);
    }
    let via_localhost = format!("http://localhost:{PORT}/mcp/github");
    let pairs = base(&[("resource", &via_localhost)]);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let reply = gw.form("/token", &pairs).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "failed attempts did not burn the code, and a loopback alias names the same resource: {}",
        reply.json
    );

    let late = gw.code(&client, &connection, "mcp:access");
    gw.clock.advance(11 * MINUTE);
    let reply = gw.exchange(&late).await;
    assert_eq!(
        reply.error(),
        "invalid_grant",
        "a code older than 10 minutes has expired"
    );
}

#[tokio::test]
async fn code_reuse_revokes_the_grant_but_a_bad_replay_does_not() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let (access, refresh) = (first.text("access_token"), first.text("refresh_token"));

    let mut replay = vec![
        ("grant_type", "authorization_code"),
        ("code", code.code.as_str()),
        (
            "code_verifier",
            "wrong-verifier-wrong-verifier-wrong-verifier-1",
        ),
        ("redirect_uri", REDIRECT),
        ("client_id", code.client_id.as_str()),
    ];
    let reply = gw.form("/token", &replay).await;
    assert_eq!(
        reply.error(),
        "invalid_grant",
        "replay with a wrong verifier"
    );
    assert!(
        gw.access_usable(&access),
        "a bad replay revokes nothing (no denial of service)"
    );
    assert!(gw.refresh_usable(&refresh), "nor the refresh token");

    replay[2].1 = &code.verifier;
    let reply = gw.form("/token", &replay).await;
    assert_eq!(reply.error(), "invalid_grant", "second valid redemption");
    assert_no_store(&reply);
    assert!(
        !gw.access_usable(&access),
        "the first access token stops working"
    );
    assert!(!gw.refresh_usable(&refresh), "and the refresh token");
    assert_eq!(
        gw.grant_status(&code.grant),
        GrantStatus::Revoked,
        "code reuse revokes the grant"
    );
}

#[tokio::test]
async fn unsupported_grants_and_malformed_token_requests() {
    let gw = gateway();
    for grant_type in [
        "password",
        "client_credentials",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let reply = gw
            .form("/token", &[("grant_type", grant_type), ("client_id", "c")])
            .await;
        assert_eq!(
            reply.error(),
            "unsupported_grant_type",
            "only authorization_code and refresh_token: {grant_type}"
        );
        assert_no_store(&reply);
    }
    let missing = gw.form("/token", &[("client_id", "c")]).await;
    assert_eq!(missing.error(), "invalid_request", "grant_type missing");
    let twice = gw
        .form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("grant_type", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(twice.error(), "invalid_request", "parameters are sent once");
    let no_client = gw
        .form(
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(
        no_client.error(),
        "invalid_request",
        "client_id is required"
    );
    for (content_type, body) in [
        (
            "application/json",
            "{\"grant_type\":\"authorization_code\"}".to_owned(),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("grant_type=x&pad={}", "a".repeat(1 << 20)),
        ),
        ("application/x-www-form-urlencoded", "%%%=&&=%zz".to_owned()),
    ] {
        let reply = gw
            .send(
                Gateway::request(Method::POST, "/token")
                    .header("content-type", content_type)
                    .body(Body::from(body))
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{content_type}: never a 500"
        );
        assert!(
            ["invalid_request", "unsupported_grant_type"].contains(&reply.error()),
            "{}",
            reply.json
        );
    }
}
