//! The upstream account: who the connection acts as, and grants when it changes.

use super::*;

/// "On behalf of": the upstream's own answer (id_token / userinfo) where it gives one, else the
/// name the user gave the account.
#[tokio::test]
async fn the_account_is_the_upstreams_answer_else_the_users_name() {
    use gatehouse_core::admin::{self, ConnectionChanges};

    let env = Env::new().await;
    let port = env.gateway.address().port();
    *env.upstream.anonymous.lock().unwrap() = true;
    let named = ConnectionChanges {
        account_name: Some("ops robot".into()),
        ..ConnectionChanges::default()
    };
    admin::edit_connection(&env.vault, port, "up", &named).unwrap();
    env.sign_in().await;
    let view = admin::get_connection(&env.vault, port, "up").unwrap();
    assert_eq!(view.status, "connected");
    assert_eq!(
        view.account_label.as_deref(),
        Some("ops robot"),
        "an upstream with no identity: the user's name"
    );
    assert_eq!(
        env.row().account_label,
        None,
        "nothing came from the upstream"
    );

    *env.upstream.anonymous.lock().unwrap() = false;
    env.sign_in().await;
    let view = admin::get_connection(&env.vault, port, "up").unwrap();
    assert_eq!(
        view.account_label.as_deref(),
        Some("ada@example.com"),
        "the upstream's own answer wins over the user's name"
    );
}

#[tokio::test]
async fn signing_in_as_another_account_revokes_the_grants_of_the_previous_one() {
    let env = Env::new().await;
    env.sign_in().await;
    let token = env.local_token();
    let listed = env.call(&token).await;
    assert!(listed.get("result").is_some(), "the grant works: {listed}");

    // The same account again changes nothing.
    env.sign_in().await;
    let listed = env.call(&token).await;
    assert!(
        listed.get("result").is_some(),
        "a new sign-in as the same account keeps the grants: {listed}"
    );

    // Another account: the grants approved for ada end.
    *env.upstream.id_token_claims.lock().unwrap() =
        Some(json!({"sub": "2", "email": "eve@example.com"}));
    env.sign_in().await;
    assert_eq!(env.row().account_label.as_deref(), Some("eve@example.com"));
    let status = env
        .http
        .post(format!("{}/mcp/up", env.gateway.base_url()))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(json!({"jsonrpc":"2.0","id":7,"method":"tools/list"}).to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        status, 401,
        "a grant approved for the previous account no longer works"
    );
    let reasons: Vec<String> = env
        .vault
        .store()
        .read_blocking(|c| {
            let mut s = c.prepare("SELECT revoked_reason FROM grants WHERE status = 'revoked'")?;
            let rows = s
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .unwrap();
    assert_eq!(reasons, vec!["upstream_account_changed".to_owned()]);
}

#[tokio::test]
async fn a_sign_out_in_between_does_not_let_another_account_inherit_the_grants() {
    let env = Env::new().await;
    env.sign_in().await;
    let token = env.local_token();
    assert!(
        env.call(&token).await.get("result").is_some(),
        "the grant works"
    );
    gatehouse_core::admin::sign_out(env.gateway.upstream_oauth(), "up")
        .await
        .unwrap();
    assert_eq!(
        env.row().account_label,
        None,
        "signed out: no account shown"
    );

    *env.upstream.id_token_claims.lock().unwrap() =
        Some(json!({"sub": "2", "email": "eve@example.com"}));
    env.sign_in().await;
    let revoked: i64 = env
        .vault
        .store()
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM grants WHERE revoked_reason = 'upstream_account_changed'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(
        revoked, 1,
        "the grant approved while the connection acted as ada ends when it signs in as eve"
    );
}
