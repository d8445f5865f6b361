//! `/authorize` as part of the running gateway: behind the router's Host/Origin guard, waiting
//! for Gatehouse's own upstream sign-in, and announcing a shown consent page to the desktop.

use super::*;

#[tokio::test]
async fn the_gateway_router_serves_authorize_behind_its_guard() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let vault = Vault::open(dir.path(), KeyBackend::File, Arc::new(ManualClock::new(0)))
        .unwrap_or_else(|e| panic!("vault: {e}"));
    let app = crate::gateway::router(Runtime::new(vault, LocalAuthority { port: PORT }));
    let request = |host: &str, caller: Option<PeerUser>| {
        let mut request =
            Request::get("/authorize?client_id=nope&redirect_uri=http://127.0.0.1/cb")
                .header(header::HOST, host)
                .body(Body::empty())
                .unwrap_or_else(|e| panic!("{e}"));
        if let Some(user) = caller {
            request
                .extensions_mut()
                .insert(PeerConnection::known(user, None));
        }
        request
    };
    let own = format!("127.0.0.1:{PORT}");
    let status = |request: Request<Body>| {
        let app = app.clone();
        async move {
            app.oneshot(request)
                .await
                .unwrap_or_else(|e| match e {})
                .status()
        }
    };
    assert_eq!(
        status(request(&own, Some(PeerUser::Desktop))).await,
        StatusCode::BAD_REQUEST,
        "routed: unknown client page"
    );
    assert_eq!(
        status(request(
            &format!("evil.example:{PORT}"),
            Some(PeerUser::Desktop)
        ))
        .await,
        StatusCode::MISDIRECTED_REQUEST,
        "the Host guard wraps /authorize"
    );
    assert_eq!(
        status(request(
            &own,
            Some(PeerUser::Other {
                account: String::from("uid 4242"),
            })
        ))
        .await,
        StatusCode::FORBIDDEN,
        "another OS account never reaches the consent page"
    );
    assert_eq!(
        status(request(&own, None)).await,
        StatusCode::FORBIDDEN,
        "a caller that cannot be identified is refused (fails closed)"
    );
}

#[tokio::test]
async fn no_code_before_gatehouse_is_signed_in_upstream() {
    let env = env();
    let sql = |statement: &'static str| {
        store_of(&env)
            .write_blocking(move |tx| Ok(tx.execute(statement, [])?))
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    };
    sql("UPDATE connections SET auth_kind = 'oauth', status = 'needs_auth' WHERE slug = 'docs'");
    let client = env.client(Some("Claude Code"), &["http://localhost/callback"]);
    let (status, _, html) = env
        .get(&params(&client, "http://localhost:53122/callback"))
        .await;
    assert_eq!(status, StatusCode::OK, "consent comes first: {html}");
    let request_id = hidden(&html, "request_id");
    let csrf = hidden(&html, "csrf_token");
    let form = [
        ("request_id", request_id.as_str()),
        ("csrf_token", csrf.as_str()),
        ("decision", "approve"),
    ];
    let (status, _, page) = env.post(&form).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(
        page.contains("Sign in to Docs docs") && page.contains("/oauth/upstream-signin"),
        "the page offers the upstream sign-in: {page}"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM authorization_codes"),
        0,
        "a local client never receives a code without working upstream credentials"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM authorization_requests WHERE status = 'pending'"),
        1,
        "the request stays pending for a second Approve"
    );

    // Signed in upstream (tokens stored, connected): the same form now issues the code.
    sql(
        "INSERT INTO upstream_credentials (connection_id, access_token_sealed, updated_at)
         SELECT id, x'01', 0 FROM connections WHERE slug = 'docs'",
    );
    sql("UPDATE connections SET status = 'connected' WHERE slug = 'docs'");
    let (status, _, _) = env.post(&form).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "approved after the upstream sign-in"
    );
    assert_eq!(env.count("SELECT count(*) FROM authorization_codes"), 1);
}

/// The desktop notification that a client asks for consent starts here: a shown consent page announces
/// the client's reported name and the connection once; a request refused before consent announces
/// nothing.
#[tokio::test]
async fn a_shown_consent_page_is_announced_for_the_desktop_notification() {
    let env = env();
    let mut events = store_of(&env).subscribe();
    let client = env.client(Some("Claude Code"), &["http://localhost/callback"]);
    let refused = env
        .get(&params(&client, "http://evil.example/callback"))
        .await;
    assert_eq!(refused.0, StatusCode::BAD_REQUEST, "unregistered callback");
    let shown = env
        .get(&params(&client, "http://localhost:53122/callback"))
        .await;
    assert_eq!(shown.0, StatusCode::OK, "consent page shown: {}", shown.2);
    let mut announced = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let crate::store::StoreEvent::ConsentRequested {
            client_name,
            connection_name,
        } = event
        {
            announced.push((client_name, connection_name));
        }
    }
    assert_eq!(
        announced,
        vec![(Some("Claude Code".to_owned()), "Docs docs".to_owned())],
        "exactly the shown consent page is announced, with the reported name and the connection"
    );
}
