use super::*;
use serde_json::json;

#[test]
fn several_challenges_are_parsed() {
    let mut headers = HeaderMap::new();
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Basic realm="x", Bearer error="invalid_token", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="files:read files:write""#),
    );
    let c = bearer_challenge(&headers).expect("a Bearer challenge is present");
    assert_eq!(
        c.resource_metadata.as_deref(),
        Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
    );
    assert_eq!(c.scope.as_deref(), Some("files:read files:write"));
    assert_eq!(c.error.as_deref(), Some("invalid_token"));

    let mut two = HeaderMap::new();
    two.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("DPoP algs=\"ES256\""),
    );
    two.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("bearer resource_metadata=https://a.example/prm"),
    );
    assert_eq!(
        bearer_challenge(&two)
            .and_then(|c| c.resource_metadata)
            .as_deref(),
        Some("https://a.example/prm"),
        "the Bearer challenge is found among several headers, unquoted values too"
    );
    let escaped = parse_challenges(r#"Bearer scope="a \"b\"""#);
    assert_eq!(
        escaped[0].1[0].1, "a \"b\"",
        "quoted-pair escapes are undone"
    );
}

#[test]
fn probe_orders_follow_the_specs() {
    let mcp = Url::parse("https://mcp.example.com/v1/mcp").unwrap();
    assert_eq!(
        resource_metadata_urls(&mcp, None),
        [
            "https://mcp.example.com/.well-known/oauth-protected-resource/v1/mcp",
            "https://mcp.example.com/.well-known/oauth-protected-resource"
        ],
        "RFC 9728 §3.1 well-knowns: path-inserted first, then root"
    );
    assert_eq!(
        server_metadata_urls("https://as.example/t1").unwrap(),
        [
            "https://as.example/.well-known/oauth-authorization-server/t1",
            "https://as.example/.well-known/openid-configuration/t1",
            "https://as.example/t1/.well-known/openid-configuration"
        ],
        "an issuer with a path: OAuth path-inserted, OpenID path-inserted, OpenID appended"
    );
    assert_eq!(
        server_metadata_urls("https://as.example/").unwrap(),
        [
            "https://as.example/.well-known/oauth-authorization-server",
            "https://as.example/.well-known/openid-configuration"
        ],
        "root issuer: the two root well-knowns"
    );
}

/// RFC 9728 §3.3: metadata at the origin's well-known names the origin; a sibling path or
/// another origin never covers the MCP URL (§7.3).
#[test]
fn a_resource_covers_its_own_url_and_the_urls_below_it_only() {
    let mcp = "https://mcp.example.com/v1/mcp";
    for named in [
        "https://mcp.example.com/v1/mcp",
        "https://mcp.example.com/v1",
        "https://mcp.example.com",
        "https://mcp.example.com/",
    ] {
        assert!(covers(named, mcp), "{named} covers {mcp}");
    }
    for named in [
        "https://mcp.example.com/v1/mc",
        "https://mcp.example.com/v2",
        "https://other.example.com/v1/mcp",
        "http://mcp.example.com/v1/mcp",
        "https://mcp.example.com:8443/v1/mcp",
        "https://mcp.example.com/v1/mcp/deeper",
        "https://mcp.example.com/?x=1",
        "not a url",
    ] {
        assert!(!covers(named, mcp), "{named} must not cover {mcp}");
    }
}

#[test]
fn canonical_resources() {
    assert_eq!(
        canonical_resource("HTTPS://MCP.Example.com/mcp/#frag").as_deref(),
        Some("https://mcp.example.com/mcp")
    );
    assert_eq!(
        canonical_resource("https://mcp.example.com").as_deref(),
        Some("https://mcp.example.com")
    );
}

#[test]
fn metadata_is_refused_without_s256_or_with_unsafe_endpoints() {
    let policy = Outbound::public(1024);
    let good = json!({
        "issuer": "https://as.example",
        "authorization_endpoint": "https://as.example/authorize",
        "token_endpoint": "https://as.example/token",
        "code_challenge_methods_supported": ["S256"]
    });
    let map = |v: Value| v.as_object().cloned().unwrap();
    assert!(validate_server_metadata(&policy, "https://as.example", &map(good.clone())).is_ok());
    assert_eq!(
        validate_server_metadata(&policy, "https://as.example/", &map(good.clone())),
        Err(DiscoveryError::IssuerMismatch("https://as.example/".into())),
        "the issuer must match exactly (RFC 8414 §3.3)"
    );
    for methods in [json!(null), json!(["plain"])] {
        let mut m = map(good.clone());
        m.insert("code_challenge_methods_supported".into(), methods);
        assert_eq!(
            validate_server_metadata(&policy, "https://as.example", &m),
            Err(DiscoveryError::NoS256),
            "metadata without S256 in code_challenge_methods_supported is refused"
        );
    }
    for bad in [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://as.example/authorize",
    ] {
        let mut m = map(good.clone());
        m.insert("authorization_endpoint".into(), json!(bad));
        assert_eq!(
            validate_server_metadata(&policy, "https://as.example", &m),
            Err(DiscoveryError::UnsafeEndpoint("authorization endpoint")),
            "an unsafe authorization endpoint is refused: {bad}"
        );
    }
}
