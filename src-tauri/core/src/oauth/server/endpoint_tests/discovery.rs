//! What a client discovers before it registers: the authorization server metadata (RFC 8414), the
//! protected resource metadata of each endpoint (RFC 9728), and CORS for browser clients on
//! loopback origins only.

use super::*;

#[tokio::test]
async fn as_metadata_names_the_origin_and_s256_only() {
    let gw = gateway();
    for host in [format!("127.0.0.1:{PORT}"), format!("localhost:{PORT}")] {
        let reply = gw
            .send(
                Request::get("/.well-known/oauth-authorization-server")
                    .header("host", host)
                    .body(Body::empty())
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        let m = &reply.json;
        assert_eq!(m["issuer"], ISSUER, "the issuer is fixed whatever the Host");
        assert_eq!(m["authorization_endpoint"], format!("{ISSUER}/authorize"));
        assert_eq!(m["token_endpoint"], format!("{ISSUER}/token"));
        assert_eq!(m["registration_endpoint"], format!("{ISSUER}/register"));
        assert_eq!(m["revocation_endpoint"], format!("{ISSUER}/revoke"));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(
            m["grant_types_supported"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["token_endpoint_auth_methods_supported"], json!(["none"]));
        assert_eq!(
            m["revocation_endpoint_auth_methods_supported"],
            json!(["none"])
        );
        assert_eq!(
            m["scopes_supported"],
            json!(["mcp:access", "offline_access"])
        );
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["client_id_metadata_document_supported"], true);
    }
    let oidc = gw.get("/.well-known/openid-configuration").await;
    assert_eq!(oidc.status, StatusCode::NOT_FOUND, "not an OpenID Provider");
}

#[tokio::test]
async fn protected_resource_metadata_names_the_endpoint_and_404s_unknown_slugs() {
    let gw = gateway();
    let github = gw.connection("github");
    let reply = gw
        .get("/.well-known/oauth-protected-resource/mcp/github")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json,
        json!({
            "resource": format!("{ISSUER}/mcp/github"),
            "authorization_servers": [ISSUER],
            "scopes_supported": ["mcp:access"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Gatehouse – Connection github",
        }),
        "RFC 9728 §2/§3.2"
    );
    for path in [
        "/.well-known/oauth-protected-resource/mcp/unknown",
        "/.well-known/oauth-protected-resource/mcp/BAD..slug",
        "/.well-known/oauth-protected-resource",
    ] {
        let reply = gw.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.error(), "not_found", "a JSON 404 for {path}");
    }
    let now = gw.store.now();
    gw.store
        .write_blocking(|tx| connections::set_enabled(tx, &github, false, now))
        .unwrap_or_else(|e| panic!("{e}"));
    let reply = gw
        .get("/.well-known/oauth-protected-resource/mcp/github")
        .await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "a disabled connection is no resource"
    );
}

#[tokio::test]
async fn cors_for_loopback_origins_only() {
    let gw = gateway();
    for path in [
        "/register",
        "/token",
        "/revoke",
        "/.well-known/oauth-authorization-server",
    ] {
        let reply = gw
            .send(
                Gateway::request(Method::OPTIONS, path)
                    .header("origin", "http://localhost:6274")
                    .header("access-control-request-method", "POST")
                    .header("access-control-request-headers", "content-type")
                    .body(Body::empty())
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .await;
        assert!(
            reply.status.is_success(),
            "preflight on {path}: an ok status (Fetch, CORS-preflight fetch): {}",
            reply.status
        );
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("http://localhost:6274"),
            "the loopback origin is echoed, never *"
        );
        assert!(
            reply
                .header("access-control-allow-headers")
                .is_some_and(|h| h.contains("content-type")),
            "JSON and form bodies need content-type"
        );
    }
    let reply = gw
        .send(
            Gateway::request(Method::POST, "/register")
                .header("origin", "http://localhost:6274")
                .header("content-type", "application/json")
                .body(Body::from(json!({"redirect_uris": [REDIRECT]}).to_string()))
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "the Inspector registers from JS"
    );
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:6274")
    );

    let evil = gw
        .send(
            Gateway::request(Method::OPTIONS, "/register")
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
    assert_eq!(
        evil.status,
        StatusCode::FORBIDDEN,
        "the guard refuses foreign origins"
    );
    assert_eq!(evil.header("access-control-allow-origin"), None);
    let native = gw.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(
        native.header("access-control-allow-origin"),
        None,
        "no Origin, no CORS"
    );
}
