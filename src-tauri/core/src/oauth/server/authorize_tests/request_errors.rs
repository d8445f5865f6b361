//! What a bad authorization request gets (RFC 6749 §4.1.2.1): an error page while the client or
//! its redirect URI is not trusted, an error redirect once it is; scopes Gatehouse does not grant
//! are dropped.

use super::*;

#[tokio::test]
async fn client_and_redirect_errors_are_pages_never_redirects() {
    let env = env();
    let client = env.client(Some("C"), &["http://127.0.0.1/cb"]);
    let ok = env.get(&params(&client, "http://127.0.0.1:53122/cb")).await;
    assert_eq!(ok.0, StatusCode::OK, "loopback redirects match any port");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            params("no-such-client", "http://127.0.0.1:5000/cb"),
            "unknown client_id",
        ),
        (
            with(params(&client, "x"), "client_id", None),
            "missing client_id",
        ),
        (
            params(&client, "http://127.0.0.1:5000/other"),
            "different path",
        ),
        (
            params(&client, "http://localhost:53122/cb"),
            "localhost does not stand in for 127.0.0.1",
        ),
        (
            params(&client, "http://127.0.0.1:1@evil.com/cb"),
            "userinfo",
        ),
        (params(&client, "http://127.0.0.1:5000/cb#frag"), "fragment"),
        (
            params(&client, "http://127.0.0.1:5000/cb?extra=1"),
            "extra query",
        ),
        (
            params("http://evil.example/client", "http://127.0.0.1:5000/cb"),
            "http CIMD client_id, no fetch",
        ),
        (
            params(
                "https://evil.example/a/../client",
                "http://127.0.0.1:5000/cb",
            ),
            "dot segment CIMD client_id, no fetch",
        ),
    ];
    for (p, why) in cases {
        let response = env.get(&p).await;
        assert_error_page(&response, why);
    }
    let p = params(&client, "http://127.0.0.1:5000/cb");
    let mut doubled = p.clone();
    doubled.push(("redirect_uri", "http://127.0.0.1:5001/cb"));
    assert_error_page(&env.get(&doubled).await, "two redirect_uri values");
}

#[tokio::test]
async fn errors_after_a_trusted_redirect_are_redirected() {
    let env = env();
    let client = env.client(Some("C"), &["http://127.0.0.1/cb"]);
    let base = params(&client, "http://127.0.0.1:5000/cb");
    let too_short = &CHALLENGE[..42];
    let with_plus = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM";
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            with(base.clone(), "code_challenge", None),
            "invalid_request",
            "no code_challenge",
        ),
        (
            with(base.clone(), "code_challenge_method", Some("plain")),
            "invalid_request",
            "code_challenge_method plain",
        ),
        (
            with(base.clone(), "code_challenge_method", None),
            "invalid_request",
            "no method means plain",
        ),
        (
            with(base.clone(), "code_challenge", Some(too_short)),
            "invalid_request",
            "a 42-character challenge",
        ),
        (
            with(base.clone(), "code_challenge", Some(with_plus)),
            "invalid_request",
            "a challenge outside base64url",
        ),
        (
            with(base.clone(), "response_type", Some("token")),
            "unsupported_response_type",
            "response_type token",
        ),
        (
            with(base.clone(), "resource", Some("https://other.example/mcp")),
            "invalid_target",
            "not a Gatehouse connection",
        ),
        (
            with(
                base.clone(),
                "resource",
                Some("http://127.0.0.1:4849/mcp/docs#x"),
            ),
            "invalid_target",
            "resource with a fragment",
        ),
        (
            with(base.clone(), "resource", None),
            "invalid_target",
            "missing resource → invalid_target (Gatehouse's policy)",
        ),
        (
            with(
                base.clone(),
                "resource",
                Some("http://127.0.0.1:4849/mcp/nope"),
            ),
            "invalid_target",
            "unknown connection",
        ),
        (
            with(
                base.clone(),
                "resource",
                Some("http://127.0.0.1:4849/mcp/off"),
            ),
            "invalid_target",
            "disabled connection",
        ),
    ];
    for (p, error, why) in cases {
        let response = env.get(&p).await;
        assert_error_redirect(&response, error, why);
    }
    let mut two = base.clone();
    two.push(("resource", "http://127.0.0.1:4849/mcp/off"));
    assert_error_redirect(
        &env.get(&two).await,
        "invalid_target",
        "two resource parameters",
    );
    assert_eq!(
        env.count("SELECT count(*) FROM authorization_requests"),
        0,
        "no consent recorded for a bad request"
    );
}

#[tokio::test]
async fn oidc_scopes_are_down_scoped_and_names_escaped() {
    let env = env_with(
        FixedToolCatalog(Err("upstream <down>".into())),
        CimdResolver::new(),
    );
    let client = env.client(
        Some("<script>alert(1)</script>"),
        &["http://127.0.0.1/cb", "https://app.example/cb"],
    );
    let p = with(
        params(&client, "http://127.0.0.1:5000/cb"),
        "scope",
        Some("openid email profile offline_access"),
    );
    let (status, _, html) = env.get(&p).await;
    assert_eq!(status, StatusCode::OK, "down-scoped, not refused");
    assert!(!html.contains("<script"), "the client name is escaped");
    assert!(
        html.contains("&quot;&#60;script&#62;alert(1)&#60;/script&#62;&quot;"),
        "and shown in quotes"
    );
    assert!(
        html.contains(
            "The tool list could not be loaded: upstream &#60;down&#62;; approving allows all tools"
        ),
        "catalog failure explained"
    );
    assert!(!html.contains("type=\"checkbox\""), "no checkboxes");
    assert!(
        !html.contains("Every callback this client registered is on this computer"),
        "no localhost warning when an https callback is registered"
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM authorization_requests WHERE scopes = 'mcp:access offline_access'"
        ),
        1,
        "openid/email/profile dropped, mcp:access added"
    );
}
