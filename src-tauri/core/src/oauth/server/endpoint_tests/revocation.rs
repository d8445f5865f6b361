//! Token revocation (RFC 7009): a client revokes its own tokens, an unknown or another client's
//! token changes nothing, and revoking an access token leaves the rest of the grant.

use super::*;

#[tokio::test]
async fn revocation_of_own_unknown_and_foreign_tokens() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let (access, refresh) = (first.text("access_token"), first.text("refresh_token"));
    let client = code.client_id.as_str();

    let unknown = gw
        .form(
            "/revoke",
            &[("token", "gh_rt_nothing"), ("client_id", client)],
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::OK,
        "an unknown token still gets 200"
    );

    let other = gw.client(&["authorization_code", "refresh_token"]).await;
    for hint in ["access_token", "refresh_token"] {
        for token in [&access, &refresh] {
            let reply = gw
                .form(
                    "/revoke",
                    &[
                        ("token", token),
                        ("token_type_hint", hint),
                        ("client_id", other.as_str()),
                    ],
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "another client's token is refused"
            );
            assert_eq!(reply.error(), "invalid_client", "another client's token");
        }
    }
    assert!(
        gw.access_usable(&access) && gw.refresh_usable(&refresh),
        "a refused revocation leaves the tokens working"
    );

    let reply = gw
        .form(
            "/revoke",
            &[
                ("token", &refresh),
                ("token_type_hint", "access_token"),
                ("client_id", client),
            ],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "a wrong hint still finds the token"
    );
    assert!(!gw.refresh_usable(&refresh), "refresh token revoked");
    assert!(!gw.access_usable(&access), "the grant's access tokens too");
    assert_eq!(
        gw.refresh(&code.client_id, &refresh).await.error(),
        "invalid_grant",
        "a revoked refresh token no longer refreshes"
    );
    assert_eq!(gw.grant_status(&code.grant), GrantStatus::Revoked);
}

#[tokio::test]
async fn revoking_an_access_token_revokes_only_it() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let (access, refresh) = (first.text("access_token"), first.text("refresh_token"));
    let reply = gw
        .form(
            "/revoke",
            &[("token", &access), ("client_id", code.client_id.as_str())],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!gw.access_usable(&access), "revoked");
    assert!(gw.refresh_usable(&refresh), "the refresh token lives on");
    assert_eq!(
        gw.refresh(&code.client_id, &refresh).await.status,
        StatusCode::OK
    );
    let no_client = gw.form("/revoke", &[("token", &refresh)]).await;
    assert_eq!(
        no_client.error(),
        "invalid_client",
        "client_id identifies a public client"
    );
}
