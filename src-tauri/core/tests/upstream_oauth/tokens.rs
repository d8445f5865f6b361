//! The upstream token on the proxy's requests: refresh, reauth, step-up and client credentials.

use super::*;

#[tokio::test]
async fn proxy_injects_the_upstream_token_and_refreshes_once_for_fifty_waiters() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    let answer = env.call(&local).await;
    assert_eq!(
        answer["result"]["ok"], true,
        "the call goes through: {answer}"
    );
    let bearers = env.upstream.mcp_bearers.lock().unwrap().clone();
    assert!(
        bearers.last().unwrap().starts_with(AT_PREFIX),
        "the upstream sees the upstream token, never the Gatehouse token"
    );
    assert!(!bearers.contains(&local), "no token passthrough");

    // Through the gateway: an upstream 401 (the AS forgot the access token) → one refresh, one retry.
    env.upstream.access.lock().unwrap().clear();
    let answer = env.call(&local).await;
    assert_eq!(
        answer["result"]["ok"], true,
        "refreshed and retried: {answer}"
    );
    assert_eq!(
        env.upstream.refresh_calls.load(Ordering::SeqCst),
        1,
        "one refresh for the 401"
    );
    env.upstream.refresh_calls.store(0, Ordering::SeqCst);

    // Single-flight refresh: expired access token, 50 concurrent callers → exactly one refresh.
    env.expire_access_token();
    let proxy_tokens = UpstreamOAuth::new(&env.vault);
    let version = env.row().config_version;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let oauth = proxy_tokens.clone();
        let id = env.connection.clone();
        tasks.push(tokio::spawn(async move {
            oauth
                .tokens()
                .access_token(&id, version)
                .await
                .map(|t| t.expose_secret().to_owned())
        }));
    }
    let mut got = HashSet::new();
    for t in tasks {
        got.insert(t.await.unwrap().unwrap());
    }
    assert_eq!(
        env.upstream.refresh_calls.load(Ordering::SeqCst),
        1,
        "exactly one refresh at the AS"
    );
    assert_eq!(got.len(), 1, "every waiter got the refreshed token");
    let form = env
        .upstream
        .token_forms
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(form["grant_type"], "refresh_token");
    assert!(form.contains_key("resource"), "refresh sends resource");

    // The rotated refresh token replaced the old one: the AS has exactly one live refresh token
    // and Gatehouse holds it (a second refresh with it succeeds).
    env.expire_access_token();
    let fresh = UpstreamOAuth::new(&env.vault);
    fresh
        .tokens()
        .access_token(&env.connection, version)
        .await
        .unwrap();
    assert_eq!(
        env.upstream.refresh_calls.load(Ordering::SeqCst),
        2,
        "the stored token is the rotated one"
    );
}

#[tokio::test]
async fn invalid_grant_turns_reauth_required_and_signing_in_again_restores() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    let mut events = env.vault.store().subscribe();
    // The upstream revokes everything.
    env.upstream.access.lock().unwrap().clear();
    env.upstream.refresh.lock().unwrap().clear();
    let answer = env.call(&local).await;
    let message = answer["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("sign in again") || message.contains("Sign in again"),
        "a refused refresh is an in-band error that says to sign in again: {answer}"
    );
    assert!(message.contains("open Gatehouse"), "{message}");
    let row = env.row();
    assert_eq!(row.status, ConnectionStatus::ReauthRequired);
    assert_eq!(row.status_detail.as_deref(), Some("Sign in again"));
    let mut saw = false;
    while let Ok(event) = events.try_recv() {
        saw |= matches!(
            event,
            gatehouse_core::store::StoreEvent::ConnectionStatusChanged {
                status: ConnectionStatus::ReauthRequired,
                ..
            }
        );
    }
    assert!(
        saw,
        "an event tells the app the connection needs a new sign-in"
    );

    env.sign_in().await;
    assert_eq!(
        env.row().status,
        ConnectionStatus::Connected,
        "sign in again restores it"
    );
    assert_eq!(
        env.call(&local).await["result"]["ok"],
        true,
        "the same local grant works again"
    );
}

#[tokio::test]
async fn insufficient_scope_asks_for_the_union_at_the_next_sign_in() {
    let env = Env::new().await;
    *env.upstream.require_admin.lock().unwrap() = true;
    env.sign_in().await;
    let local = env.local_token();
    let call = || {
        env.http
            .post(format!("{}/mcp/up", env.gateway.base_url()))
            .bearer_auth(&local)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(
                json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo"}})
                    .to_string(),
            )
            .send()
    };
    let answer: Value = call().await.unwrap().json().await.unwrap();
    let message = answer["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("needs more permissions"),
        "a step-up the upstream asks for is an in-band error: {answer}"
    );
    assert_eq!(
        env.row().status_detail.as_deref(),
        Some("More permissions needed: Sign in again")
    );

    env.sign_in().await;
    let q = env
        .upstream
        .authorize_queries
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        q["scope"], "mcp:tools admin",
        "the union of the usual and the challenged scopes"
    );
    let answer: Value = call().await.unwrap().json().await.unwrap();
    assert_eq!(
        answer["result"]["ok"], true,
        "allowed after the step-up: {answer}"
    );

    // A denial that persists is treated as permanent after a few attempts.
    env.upstream.admin_tokens.lock().unwrap().clear();
    for _ in 0..3 {
        let _ = call().await.unwrap();
    }
    let answer: Value = call().await.unwrap().json().await.unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("keeps refusing"),
        "{answer}"
    );
}

#[tokio::test]
async fn client_credentials_for_machine_to_machine() {
    let env = Env::new().await;
    let url = format!("{}/mcp", env.upstream.mcp_base.lock().unwrap());
    let input = gatehouse_core::admin::NewConnectionInput {
        slug: "m2m".into(),
        name: "Machine".into(),
        upstream_url: url,
        auth: gatehouse_core::admin::UpstreamAuth::OAuth(gatehouse_core::admin::OAuthInput {
            client_id: Some("m2m".into()),
            client_secret: Some(secrecy::SecretString::from(M2M_SECRET.to_owned())),
            client_credentials: true,
            ..Default::default()
        }),
        account_name: None,
    };
    let port = env.gateway.address().port();
    let view = gatehouse_core::admin::add_connection(&env.vault, port, &input).unwrap();
    assert_eq!(view.status, "needs_auth");
    let oauth = UpstreamOAuth::new(&env.vault);
    let started = gatehouse_core::admin::start_signin(
        &oauth,
        port,
        "m2m",
        gatehouse_core::admin::SigninCallback::Loopback,
    )
    .await
    .unwrap();
    assert!(matches!(
        started,
        gatehouse_core::admin::SigninLaunch::Connected
    ));
    let view = gatehouse_core::admin::get_connection(&env.vault, port, "m2m").unwrap();
    assert_eq!(view.status, "connected");
    assert_eq!(
        env.upstream.refresh_calls.load(Ordering::SeqCst),
        1,
        "one client_credentials call"
    );
    let form = env
        .upstream
        .token_forms
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        form.get("resource").is_some_and(|r| r.ends_with("/mcp")),
        "resource sent: {form:?}"
    );
    assert!(
        !form.contains_key("client_secret"),
        "the secret goes in Basic auth, not the body"
    );

    // Expired → a new client_credentials token, no refresh token needed.
    let id = gatehouse_core::store::ConnectionId::parse(&view.id).unwrap();
    let now = env.vault.store().now();
    let id2 = id.clone();
    env.vault
        .store()
        .write_blocking(move |tx| {
            let mut c = upstream_credentials::get(tx, &id2)?.unwrap();
            c.expires_at = Some(now - 1);
            upstream_credentials::put(tx, &c, now)
        })
        .unwrap();
    let token = oauth
        .tokens()
        .access_token(&id, view.config_version)
        .await
        .unwrap();
    assert!(token.expose_secret().starts_with(AT_PREFIX));
    assert_eq!(env.upstream.refresh_calls.load(Ordering::SeqCst), 2);
    let db = std::fs::read(gatehouse_core::config::database_path(env.dir.path())).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(M2M_SECRET),
        "the client secret is sealed"
    );
}
