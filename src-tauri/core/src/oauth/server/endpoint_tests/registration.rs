//! Dynamic client registration (RFC 7591): the payloads real clients send, the redirect URIs and
//! metadata refused, and a flood throttled.

use super::*;

#[tokio::test]
async fn dcr_accepts_real_client_payloads() {
    let gw = gateway();
    let payloads = [
        json!({"client_name": "Claude Code (github)", "redirect_uris": ["http://localhost:53123/callback"],
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
               "token_endpoint_auth_method": "none"}),
        json!({"client_name": "Visual Studio Code", "application_type": "native",
               "redirect_uris": ["https://insiders.vscode.dev/redirect", "https://vscode.dev/redirect",
                                 "http://127.0.0.1/", "http://127.0.0.1:33418/"],
               "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}),
        json!({"client_name": "Cursor", "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback",
               "https://www.cursor.com/agents/mcp/oauth/callback", "http://localhost:8787/callback"],
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
               "token_endpoint_auth_method": "none"}),
        json!({"client_name": "MCP CLI Proxy", "client_uri": "https://github.com/modelcontextprotocol/mcp-cli",
               "software_id": "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d", "software_version": "0.1.16",
               "redirect_uris": ["http://localhost:3335/oauth/callback"],
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
               "token_endpoint_auth_method": "none", "scope": "openid email profile"}),
        json!({"redirect_uris": ["http://localhost:6274/oauth/callback"], "token_endpoint_auth_method": "none",
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
               "client_name": "MCP Inspector", "client_uri": "https://github.com/modelcontextprotocol/inspector"}),
    ];
    let mut ids = Vec::new();
    for payload in &payloads {
        let reply = gw.register(payload).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{payload} → {}",
            reply.json
        );
        assert_eq!(
            reply.json["client_name"], payload["client_name"],
            "name kept"
        );
        assert_eq!(reply.json["token_endpoint_auth_method"], "none");
        assert_eq!(
            reply.json["redirect_uris"], payload["redirect_uris"],
            "as registered"
        );
        assert!(
            reply.json.get("client_secret").is_none(),
            "public clients get no secret"
        );
        assert!(
            reply.json["client_id_issued_at"].as_i64() == Some(T0 / 1000),
            "issued at, in seconds"
        );
        let id = reply.text("client_id");
        let stored = gw
            .store
            .read_blocking({
                let id = ClientId::new(id.clone()).unwrap_or_else(|| panic!("id"));
                move |c| crate::store::clients::get(c, &id)
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("client {id} is stored"));
        assert_eq!(
            stored.registration.registration_source,
            crate::store::clients::RegistrationSource::Dcr
        );
        ids.push(id);
    }
    let mcp_remote = gw.register(&payloads[3]).await;
    assert_eq!(
        mcp_remote.json["scope"], "mcp:access offline_access",
        "openid email profile is down-scoped, not refused"
    );
    assert!(
        !ids.contains(&mcp_remote.text("client_id")),
        "each POST /register creates a new client"
    );
    let secret_basic = gw
        .register(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    assert_eq!(
        secret_basic.status,
        StatusCode::CREATED,
        "client_secret_basic is replaced by none, not refused (RFC 7591 §2)"
    );
    assert_eq!(
        secret_basic.json["token_endpoint_auth_method"], "none",
        "the response shows the effective value"
    );
}

#[tokio::test]
async fn dcr_refuses_bad_redirect_uris_and_malformed_metadata() {
    let gw = gateway();
    for uris in [
        json!(["http://evil.example/cb"]),
        json!(["javascript:alert(1)"]),
    ] {
        let reply = gw.register(&json!({"redirect_uris": uris})).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "a non-loopback http or script redirect is refused: {uris}"
        );
        assert_eq!(
            reply.error(),
            "invalid_redirect_uri",
            "a non-loopback http or script redirect is refused: {uris}"
        );
    }
    let reply = gw.register(&json!({"client_name": "x"})).await;
    assert_eq!(
        reply.error(),
        "invalid_redirect_uri",
        "redirect_uris missing"
    );
    let reply = gw
        .register(&json!({"redirect_uris": "http://localhost/cb"}))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "redirect_uris not an array"
    );
    let not_json = gw
        .send(
            Gateway::request(Method::POST, "/register")
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
    assert_eq!(
        not_json.status,
        StatusCode::BAD_REQUEST,
        "a body that is not JSON"
    );
    assert_eq!(
        not_json.error(),
        "invalid_client_metadata",
        "a body that is not JSON"
    );

    let huge = format!(
        "{{\"redirect_uris\":[\"{REDIRECT}\"],\"client_name\":\"{}\"}}",
        "a".repeat(1 << 20)
    );
    let reply = gw
        .send(
            Gateway::request(Method::POST, "/register")
                .header("content-type", "application/json")
                .body(Body::from(huge))
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "a 1 MiB body is refused before parsing"
    );
    assert_eq!(reply.error(), "invalid_client_metadata", "JSON error body");
}

#[tokio::test]
async fn dcr_flood_is_throttled() {
    let gw = gateway();
    let body = json!({"redirect_uris": [REDIRECT]});
    for i in 0..REGISTRATIONS_PER_MINUTE {
        let reply = gw.register(&body).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "registration {i} is within the limit"
        );
    }
    let reply = gw.register(&body).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "over the per-minute limit"
    );
    assert!(reply.header("retry-after").is_some(), "says when to retry");
    assert_eq!(reply.error(), "too_many_requests", "JSON error body");
    gw.clock.advance(MINUTE);
    assert_eq!(
        gw.register(&body).await.status,
        StatusCode::CREATED,
        "refilled"
    );
}
