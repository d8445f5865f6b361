//! The proxy as a protected resource, through the real gateway in front of the recording upstream:
//! the 401 challenge (RFC 6750 §3.1, RFC 9728 §5.1) for a missing, malformed or forged token and
//! for a token in the query (OAuth 2.1 §5.1); expired, revoked and wrong-audience tokens (RFC 8707)
//! refused, 403 `insufficient_scope` for a token without `mcp:access`; and a session id that is not
//! authentication (bound to its grant).

use gatehouse_core::crypto::{TokenHash, TokenKind};
use gatehouse_core::store::RevocationReason;
use gatehouse_core::store::access_tokens;
use gatehouse_testkit::proxy::*;
use secrecy::ExposeSecret;
use serde_json::json;

#[tokio::test]
async fn missing_or_bad_credentials_get_the_challenge() {
    let env = Env::new().await;
    let prm = format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp/a\"",
        env.gateway.base_url()
    );

    // No Authorization → 401 without an error code (RFC 6750 §3.1).
    let r = env
        .post("a", None, &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "no token");
    let challenge = header(&r, "www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains(&prm),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"mcp:access\""), "{challenge}");
    assert!(
        !challenge.contains("error="),
        "no error code without a token: {challenge}"
    );

    // Basic, empty Bearer.
    for auth in ["Basic dXNlcjpwYXNz", "Bearer ", "Bearer not-a-token"] {
        let r = env
            .http
            .post(env.url("a"))
            .header("authorization", auth)
            .header("accept", ACCEPT_BOTH)
            .header("content-type", "application/json")
            .body(init().to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 401, "{auth:?} must be refused");
        let challenge = header(&r, "www-authenticate").unwrap_or_default();
        assert!(challenge.contains(&prm), "{auth:?}: {challenge}");
        assert!(
            challenge.matches("error=").count() <= 1,
            "parameters appear once: {challenge}"
        );
    }

    // A valid token in the query is never accepted (OAuth 2.1 §5.1 dropped the query form).
    let (_, token) = env.all_tools_token();
    let r = env
        .http
        .post(format!("{}?access_token={token}", env.url("a")))
        .header("accept", ACCEPT_BOTH)
        .header("content-type", "application/json")
        .body(init().to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "query tokens are ignored");

    // A forged token with the right shape.
    let forged = gatehouse_core::crypto::token::generate(TokenKind::AccessToken)
        .expose_secret()
        .to_owned();
    let r = env
        .post("a", Some(&forged), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "unknown token");
    assert!(
        header(&r, "www-authenticate")
            .unwrap_or_default()
            .contains("error=\"invalid_token\""),
        "a sent token that fails is invalid_token"
    );

    // Unknown slug: 404, there is no PRM to point at.
    let r = env
        .post("nope", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404, "unknown slug");
    assert!(
        env.upstream_requests().is_empty(),
        "nothing refused may reach the upstream"
    );
}

#[tokio::test]
async fn expired_revoked_foreign_and_underscoped_tokens_are_refused() {
    let env = Env::new().await;
    let (grant, token) = env.all_tools_token();

    // Expired.
    let expired = env.token(&grant, "a", "mcp:access", -1);
    let r = env
        .post("a", Some(&expired), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "expired");
    assert!(
        header(&r, "www-authenticate")
            .unwrap_or_default()
            .contains("invalid_token")
    );

    // The token revoked (RFC 7009).
    let revoked = env.token(&grant, "a", "mcp:access", 3_600_000);
    let hash = *TokenHash::of(&revoked).as_bytes();
    let store = env.vault.store();
    let now = store.now();
    store
        .write_blocking(|tx| access_tokens::revoke(tx, &hash, now))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = env
        .post("a", Some(&revoked), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "a revoked token stops at once");

    // Wrong audience (RFC 8707): a token for /mcp/b on /mcp/a and the other way round.
    let b = add_header_connection(&env.vault, "b", "http://127.0.0.1:9/mcp", SECRET);
    let (_, token_b) = env.grant(&b, "b", None, "mcp:access");
    let r = env
        .post("a", Some(&token_b), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "b's token on a");
    assert!(
        header(&r, "www-authenticate")
            .unwrap_or_default()
            .contains("invalid_token")
    );
    let r = env
        .post("b", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "a's token on b");
    assert!(
        header(&r, "www-authenticate")
            .unwrap_or_default()
            .contains("/mcp/b\""),
        "the challenge names the slug that was called"
    );

    // A valid token without mcp:access → 403 insufficient_scope (RFC 6750 §3.1).
    let (_, weak) = env.grant(&env.connection.clone(), "a", None, "offline_access");
    let r = env
        .post("a", Some(&weak), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 403, "insufficient scope");
    let challenge = header(&r, "www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"mcp:access\"")
            && challenge.contains("resource_metadata="),
        "{challenge}"
    );

    // The good token works; after the grant is revoked the very next request is 401.
    let r = env
        .post("a", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "the valid token passes");
    store
        .revoke_grants(
            std::slice::from_ref(&grant),
            RevocationReason::RefreshTokenReuse,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let r = env
        .post("a", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.status(),
        401,
        "revoked grant: the next request is refused"
    );
}

#[tokio::test]
async fn sessions_are_bound_to_their_grant() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();
    let (_, other) = env.all_tools_token();
    let sid = env.initialize(&token).await;

    // A session id is not authentication: without a token → 401; with another grant's token → 404.
    let r = env
        .post("a", None, &call(&json!(1), "echo"))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "a session id is not authentication");
    let r = env
        .post("a", Some(&other), &call(&json!(1), "echo"))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404, "another client cannot ride the session");

    // Unknown id → 404.
    let r = env
        .post("a", Some(&token), &call(&json!(1), "echo"))
        .header("mcp-session-id", "gh_sid_made-up")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404, "unknown session");

    // DELETE → upstream DELETE, 204; then 404.
    let r = env
        .http
        .delete(env.url("a"))
        .bearer_auth(&token)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 204, "the session is ended");
    let deletes: Vec<_> = env
        .upstream_requests()
        .into_iter()
        .filter(|(m, _, _)| m == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "DELETE is forwarded");
    assert_eq!(
        deletes[0]
            .1
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok()),
        Some(UPSTREAM_SESSION)
    );
    let r = env
        .post("a", Some(&token), &call(&json!(1), "echo"))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404, "a deleted session is gone");
}
