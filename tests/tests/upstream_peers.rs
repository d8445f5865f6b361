//! The real upstream for role 2 works on its own, before Gatehouse is involved: `oidc-provider` as the
//! authorization server (DCR, PKCE S256, resource indicators, refresh rotation, revocation,
//! introspection) guarding the TypeScript SDK's MCP server, and Playwright signing in at it in Chromium.
//! The test itself plays the OAuth client, so `upstream_real.rs` can rely on each piece.

use std::time::Duration;

use gatehouse_e2e::upstream::{
    AuthServer, CallbackServer, PKCE_VERIFIER, UpstreamMcp, authorization_url, callback_param,
    mcp_post, mcp_session, signin, whoami,
};
use serde_json::json;

const STEP: Duration = Duration::from_secs(60);

#[test]
fn upstream_advertises_oauth_and_registers_native_clients() {
    let auth_server = AuthServer::start(60);
    let mcp = UpstreamMcp::start(&auth_server.issuer);

    // Unauthenticated: 401 pointing at the protected resource metadata.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"}}});
    let (status, www, _, _) = mcp_post(&mcp.url, None, None, &init);
    assert_eq!(status, 401);
    let www = www.unwrap_or_default();
    assert!(www.starts_with("Bearer "), "{www}");
    assert!(
        www.contains(&format!(
            "resource_metadata=\"{}\"",
            mcp.resource_metadata_url()
        )),
        "{www}"
    );

    // RFC 9728 metadata: this server as the resource, the AS as its authorization server.
    let prm: serde_json::Value = gatehouse_e2e::upstream::block_on(async {
        reqwest::get(mcp.resource_metadata_url())
            .await?
            .json()
            .await
    })
    .unwrap_or_else(|e| panic!("PRM: {e}"));
    assert_eq!(prm["resource"], mcp.url.as_str(), "{prm}");
    assert_eq!(
        prm["authorization_servers"],
        json!([auth_server.issuer]),
        "{prm}"
    );

    // The AS: exact issuer, S256 only, the endpoints the client needs, RFC 9207.
    let metadata = auth_server.metadata();
    assert_eq!(metadata["issuer"], auth_server.issuer.as_str());
    assert!(auth_server.issuer.starts_with("http://127.0.0.1:"));
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "registration_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "userinfo_endpoint",
    ] {
        assert!(
            metadata[endpoint]
                .as_str()
                .is_some_and(|u| u.starts_with(&auth_server.issuer)),
            "{endpoint}: {metadata}"
        );
    }
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .is_some_and(|g| g.iter().any(|t| t == "refresh_token")),
        "{metadata}"
    );
    // No RFC 8414 document at the issuer: a client must fall back to OpenID discovery.
    let rfc8414 = gatehouse_e2e::upstream::block_on(async {
        reqwest::get(format!(
            "{}/.well-known/oauth-authorization-server",
            auth_server.issuer
        ))
        .await
        .map(|r| r.status().as_u16())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rfc8414, 404);

    // DCR: a native public client with a loopback http redirect URI.
    let (status, registered) = auth_server.register_native(
        "http://127.0.0.1:49152/oauth/callback",
        "Gatehouse E2E native",
    );
    assert_eq!(status, 201, "{registered}");
    assert_eq!(registered["application_type"], "native");
    assert_eq!(registered["token_endpoint_auth_method"], "none");
    assert!(
        registered["client_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    // A native client may not use a non-loopback http redirect URI.
    let (status, refused) =
        auth_server.register_native("http://example.test/oauth/callback", "bad");
    assert_eq!(status, 400, "{refused}");
}

#[test]
fn code_pkce_resource_flow_refresh_rotation_expiry_and_revocation() {
    // Short-lived access tokens so expiry is seen within the test.
    const TTL: u64 = 5;
    let auth_server = AuthServer::start(TTL);
    let mcp = UpstreamMcp::start(&auth_server.issuer);
    let metadata = auth_server.metadata();
    let callback = CallbackServer::start();
    let (status, registered) =
        auth_server.register_native(&callback.redirect_uri, "Gatehouse E2E flow");
    assert_eq!(status, 201, "{registered}");
    let client_id = registered["client_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Without PKCE the AS refuses (redirects back with an error, never a code).
    let url = authorization_url(
        &metadata,
        &client_id,
        &callback.redirect_uri,
        &mcp.url,
        "s1",
    )
    .replace("code_challenge_method=S256", "")
    .replace(
        &format!("code_challenge={}", gatehouse_e2e::upstream::PKCE_CHALLENGE),
        "",
    );
    let refused = signin(&url, "alice", "no-pkce");
    assert!(refused.final_url.contains("error="), "{refused:?}");
    assert!(!refused.final_url.contains("code="), "{refused:?}");
    let _ = callback.wait(STEP);

    // The browser sign-in: login + consent, back to our loopback callback with code, state, iss.
    let url = authorization_url(
        &metadata,
        &client_id,
        &callback.redirect_uri,
        &mcp.url,
        "s2",
    );
    let done = signin(&url, "alice", "flow");
    assert_eq!(done.report["has_code"], true, "{:?}", done.report);
    assert!(done.text.contains("Signed in"), "{}", done.text);
    let target = callback.wait(STEP);
    assert_eq!(callback_param(&target, "state").as_deref(), Some("s2"));
    assert_eq!(
        callback_param(&target, "iss").as_deref(),
        Some(auth_server.issuer.as_str()),
        "RFC 9207"
    );
    let code = callback_param(&target, "code").unwrap_or_else(|| panic!("{target}"));

    // Wrong verifier: refused.
    let (status, body) = auth_server.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &callback.redirect_uri),
        ("client_id", &client_id),
        ("code_verifier", "x".repeat(43).as_str()),
        ("resource", &mcp.url),
    ]);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // A fresh code (the failed exchange burned the first one), exchanged properly.
    let url = authorization_url(
        &metadata,
        &client_id,
        &callback.redirect_uri,
        &mcp.url,
        "s3",
    );
    let _ = signin(&url, "alice", "flow-2");
    let code = callback_param(&callback.wait(STEP), "code").unwrap_or_default();
    let (status, tokens) = auth_server.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &callback.redirect_uri),
        ("client_id", &client_id),
        ("code_verifier", PKCE_VERIFIER),
        ("resource", &mcp.url),
    ]);
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], TTL, "{tokens}");
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!access.is_empty() && !refresh.is_empty(), "{tokens}");
    assert!(
        tokens["id_token"].is_string(),
        "an id_token with the email claim"
    );

    // The MCP server accepts it: whoami is the AS's subject.
    let session = mcp_session(&mcp.url, &access).unwrap_or_else(|s| panic!("initialize: {s}"));
    let (status, who) = whoami(&mcp.url, &access, &session);
    assert_eq!(status, 200);
    let who = who.unwrap_or_default();
    assert_eq!(who["sub"], "alice", "{who}");
    assert_eq!(who["email"], "alice@example.test", "{who}");
    assert_eq!(who["client_id"], client_id.as_str(), "{who}");

    // Expiry: after the TTL the same token gets 401.
    std::thread::sleep(Duration::from_secs(TTL + 1));
    let (status, _) = whoami(&mcp.url, &access, &session);
    assert_eq!(status, 401, "an expired access token is refused");

    // Refresh with rotation: new access and refresh tokens, and the new access token works.
    let (status, refreshed) = auth_server.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh),
        ("client_id", &client_id),
        ("resource", &mcp.url),
    ]);
    assert_eq!(status, 200, "{refreshed}");
    let access2 = refreshed["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refresh2 = refreshed["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !refresh2.is_empty() && refresh2 != refresh,
        "rotated: {refreshed}"
    );
    assert_ne!(access2, access);
    let (status, who) = whoami(&mcp.url, &access2, &session);
    assert_eq!(status, 200);
    assert_eq!(who.unwrap_or_default()["sub"], "alice");
    assert_eq!(auth_server.refreshes(), 1, "{}", auth_server.stats());

    // The upstream revokes: the next request is 401, and the refresh token is dead too.
    // One grant per browser sign-in so far (s2, whose code was burned, and s3).
    assert_eq!(auth_server.revoke_subject("alice"), 2);
    let (status, _) = whoami(&mcp.url, &access2, &session);
    assert_eq!(
        status, 401,
        "a revoked token is refused on the next request"
    );
    let (status, body) = auth_server.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh2),
        ("client_id", &client_id),
        ("resource", &mcp.url),
    ]);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // RFC 7009 revocation works for a public client too (what Gatehouse's disconnect calls).
    let url = authorization_url(
        &metadata,
        &client_id,
        &callback.redirect_uri,
        &mcp.url,
        "s4",
    );
    let _ = signin(&url, "alice", "flow-3");
    let code = callback_param(&callback.wait(STEP), "code").unwrap_or_default();
    let (_, tokens) = auth_server.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &callback.redirect_uri),
        ("client_id", &client_id),
        ("code_verifier", PKCE_VERIFIER),
        ("resource", &mcp.url),
    ]);
    let access3 = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(mcp_session(&mcp.url, &access3).is_ok(), "{tokens}");
    let revocation = metadata["revocation_endpoint"].as_str().unwrap_or_default();
    let (status, _) = gatehouse_e2e::upstream::post_form(
        revocation,
        &[
            ("token", &access3),
            ("token_type_hint", "access_token"),
            ("client_id", &client_id),
        ],
    );
    assert_eq!(status, 200);
    assert_eq!(mcp_session(&mcp.url, &access3), Err(401));

    // A token issued for another resource (RFC 8707 audience) is refused by this server.
    let other = "http://127.0.0.1:1/other";
    let url = authorization_url(&metadata, &client_id, &callback.redirect_uri, other, "s5");
    let _ = signin(&url, "alice", "flow-4");
    let code = callback_param(&callback.wait(STEP), "code").unwrap_or_default();
    let (status, tokens) = auth_server.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &callback.redirect_uri),
        ("client_id", &client_id),
        ("code_verifier", PKCE_VERIFIER),
        ("resource", other),
    ]);
    assert_eq!(status, 200, "{tokens}");
    let foreign = tokens["access_token"].as_str().unwrap_or_default();
    assert_eq!(mcp_session(&mcp.url, foreign), Err(401), "wrong audience");
}
