//! The refresh token grant (RFC 6749 §6, OAuth 2.1 rotation): each refresh rotates the token, a
//! reused one revokes the grant, and the refusals.

use super::*;

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_grant() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let (at1, rt1) = (first.text("access_token"), first.text("refresh_token"));
    let second = gw.refresh(&code.client_id, &rt1).await;
    assert_eq!(second.status, StatusCode::OK, "refresh: {}", second.json);
    assert_no_store(&second);
    let (at2, rt2) = (second.text("access_token"), second.text("refresh_token"));
    assert_ne!(rt1, rt2, "the refresh token rotates");
    assert_ne!(at1, at2, "a new access token");
    assert_eq!(second.json["scope"], "mcp:access", "same scope");

    // A racing client presents RT1 again right away: the same pair, nothing revoked.
    gw.clock.advance(REFRESH_REUSE_GRACE / 2);
    let race = gw.refresh(&code.client_id, &rt1).await;
    assert_eq!(race.status, StatusCode::OK, "grace window: {}", race.json);
    assert_eq!(race.text("access_token"), at2, "the same access token");
    assert_eq!(race.text("refresh_token"), rt2, "the same refresh token");
    assert_eq!(gw.grant_status(&code.grant), GrantStatus::Active);

    // After the window, RT1 again is theft.
    gw.clock.advance(REFRESH_REUSE_GRACE);
    let reuse = gw.refresh(&code.client_id, &rt1).await;
    assert_eq!(
        reuse.error(),
        "invalid_grant",
        "reuse of a rotated refresh token"
    );
    assert_eq!(
        gw.grant_status(&code.grant),
        GrantStatus::Revoked,
        "refresh-token reuse revokes the grant"
    );
    assert!(!gw.refresh_usable(&rt2), "RT2 revoked");
    assert!(
        !gw.access_usable(&at1) && !gw.access_usable(&at2),
        "every access token of the grant"
    );
    let after = gw.refresh(&code.client_id, &rt2).await;
    assert_eq!(after.error(), "invalid_grant", "refresh after revocation");
}

#[tokio::test]
async fn old_refresh_token_fails_once_rotated() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let rt1 = first.text("refresh_token");
    assert_eq!(
        gw.refresh(&code.client_id, &rt1).await.status,
        StatusCode::OK
    );
    let other = gw.client(&["authorization_code", "refresh_token"]).await;
    let reply = gw.refresh(&other, &rt1).await;
    assert_eq!(
        reply.error(),
        "invalid_grant",
        "another client never gets the grace pair"
    );
    assert_eq!(
        gw.grant_status(&code.grant),
        GrantStatus::Active,
        "and revokes nothing"
    );
}

#[tokio::test]
async fn refresh_refusals() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let rt = first.text("refresh_token");
    let client = code.client_id.as_str();
    let wider = gw
        .form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", client),
                ("scope", "mcp:access offline_access"),
            ],
        )
        .await;
    assert_eq!(
        wider.error(),
        "invalid_scope",
        "a scope wider than the grant's"
    );
    let other = gw.client(&["authorization_code", "refresh_token"]).await;
    assert_eq!(
        gw.refresh(&other, &rt).await.error(),
        "invalid_grant",
        "another client's refresh token"
    );
    assert!(gw.refresh_usable(&rt), "refusals change nothing");
    let bad_resource = gw
        .form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", client),
                ("resource", "https://other.example/mcp"),
            ],
        )
        .await;
    assert_eq!(bad_resource.error(), "invalid_target");
    gw.clock.advance(31 * 24 * 60 * MINUTE);
    assert_eq!(
        gw.refresh(&code.client_id, &rt).await.error(),
        "invalid_grant",
        "an expired refresh token"
    );
}
