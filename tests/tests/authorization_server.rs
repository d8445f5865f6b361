//! The authorization server's metadata, registration, token and revocation endpoints over a real
//! socket of `gatehoused serve`: RFC 8414 metadata, RFC 7591 registration and its refusals,
//! unsupported grant types, and RFC 7009 revocation.

use gatehouse_e2e::Gatehoused;
use serde_json::{Value, json};

async fn body(response: reqwest::Response) -> Value {
    response
        .json()
        .await
        .unwrap_or_else(|e| panic!("a JSON body: {e}"))
}

#[tokio::test]
async fn discovery_registration_and_token_errors_over_a_socket() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let gateway = Gatehoused::serve(dir.path());
    let base = &gateway.base_url;
    let http = reqwest::Client::new();

    let metadata = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(metadata.status(), 200, "RFC 8414 metadata");
    let metadata = body(metadata).await;
    assert_eq!(
        metadata["issuer"],
        base.as_str(),
        "the issuer is the origin (RFC 8414 §3.3)"
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"]),
        "S256 only"
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"], true,
        "RFC 9207: every authorization response carries iss"
    );

    let prm = http
        .get(format!(
            "{base}/.well-known/oauth-protected-resource/mcp/nothing"
        ))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(prm.status(), 404, "no metadata for an unknown slug");

    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{base}/register"))
        .header("Origin", "http://localhost:6274")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        preflight.status().is_success(),
        "the Inspector's preflight gets an ok status (Fetch, CORS-preflight fetch): {}",
        preflight.status()
    );
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("http://localhost:6274"),
        "loopback origin echoed"
    );

    let registered = http
        .post(format!("{base}/register"))
        .header("Origin", "http://localhost:6274")
        .json(&json!({
            "client_name": "MCP Inspector",
            "redirect_uris": ["http://localhost:6274/oauth/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(registered.status(), 201, "RFC 7591 §3.2.1");
    let client = body(registered).await;
    let client_id = client["client_id"].as_str().unwrap_or_default().to_owned();
    assert!(!client_id.is_empty(), "a client_id: {client}");
    assert!(client.get("client_secret").is_none(), "public client");

    // Its own connection: the gateway answers 413 without reading the body and closes the
    // connection, so it must not go back into a pool shared with the requests below.
    let huge = reqwest::Client::new()
        .post(format!("{base}/register"))
        .header("Content-Type", "application/json")
        .body(vec![b' '; 1 << 20])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(huge.status(), 413, "a 1 MiB registration body is refused");

    let password = http
        .post(format!("{base}/token"))
        .form(&[("grant_type", "password"), ("client_id", &client_id)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        password.status(),
        400,
        "the password grant is not supported"
    );
    assert_eq!(
        password
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "no-store on errors"
    );
    assert_eq!(
        body(password).await["error"],
        "unsupported_grant_type",
        "the password grant is not supported"
    );

    let bad_code = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id.as_str()),
            ("code", "gh_ac_forged"),
            ("redirect_uri", "http://localhost:6274/oauth/callback"),
            ("code_verifier", &"a".repeat(43)),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        body(bad_code).await["error"],
        "invalid_grant",
        "unknown code"
    );

    let revoke = http
        .post(format!("{base}/revoke"))
        .form(&[
            ("token", "gh_at_unknown"),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        revoke.status(),
        200,
        "an unknown token is answered 200 (RFC 7009 §2.2)"
    );
}
