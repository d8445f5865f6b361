//! Which clients may ask and how often: a client identified by its metadata document (CIMD), the
//! cost of a request before anyone looks at it, and the cap on pending requests.

use super::*;

/// Serves `document` at `/client.json` on 127.0.0.1; returns the URL.
async fn document_server(document: Arc<std::sync::Mutex<serde_json::Value>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let app = Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            let document = Arc::clone(&document);
            async move {
                let value = document.lock().map(|d| d.clone()).unwrap_or_default();
                axum::Json(value)
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://127.0.0.1:{port}/client.json")
}

#[tokio::test]
async fn cimd_client_with_portless_loopback_callback_works_and_failures_are_not_cached() {
    let env = env_with(
        FixedToolCatalog(Ok(tools())),
        CimdResolver::insecure_loopback_for_tests(),
    );
    let document = Arc::new(std::sync::Mutex::new(serde_json::Value::Null));
    let url = document_server(Arc::clone(&document)).await;
    let good = serde_json::json!({
        "client_id": url,
        "client_name": "Claude Code",
        "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    });
    let mut wrong = good.clone();
    wrong["client_id"] = serde_json::json!("https://claude.ai/oauth/other");
    if let Ok(mut d) = document.lock() {
        *d = wrong;
    }
    let p = params(&url, "http://localhost:53122/callback");
    assert_error_page(
        &env.get(&p).await,
        "the document's client_id differs from its URL",
    );

    if let Ok(mut d) = document.lock() {
        *d = good;
    }
    let (status, _, html) = env.get(&p).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the failure was not cached; the fixed document works: {html}"
    );
    assert!(html.contains("Client ID host"), "CIMD host shown");
    assert_eq!(
        env.count("SELECT count(*) FROM clients WHERE registration_source = 'cimd'"),
        1,
        "the document is persisted as a cimd client"
    );
    let other_path = params(&url, "http://localhost:53122/elsewhere");
    assert_error_page(&env.get(&other_path).await, "redirect not in the document");
}

#[tokio::test]
async fn authorize_does_nothing_costly_and_keeps_one_pending_request_per_client() {
    let (env, catalog) = counting_env();
    let mut events = store_of(&env).subscribe();
    let client = env.client(Some("Loader"), &["http://localhost/callback"]);
    let p = params(&client, "http://localhost:53122/callback");
    for _ in 0..100 {
        let (status, headers, html) = env.authorize(&p).await;
        assert_eq!(status, StatusCode::OK, "the loading page");
        assert!(
            review_path(&html).is_some(),
            "the page refreshes to the review"
        );
        let cookie = headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "the consent cookie is HttpOnly and SameSite=Strict: {cookie}"
        );
    }
    assert_eq!(calls(&catalog), 0, "no upstream call before a person looks");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM authorization_requests WHERE status = 'pending'"),
        1,
        "a new /authorize replaces the client's pending request"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM grants WHERE status = 'pending'"),
        1,
        "and its pending grant"
    );
    let mut notices = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event, crate::store::StoreEvent::ConsentRequested { .. }) {
            notices += 1;
        }
    }
    assert_eq!(notices, 1, "one notification a minute per client");

    // The browser follows the refresh: one upstream call, then the list is reused.
    let (status, _, html) = env.get(&p).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("name=\"offered\" value=\"search\""),
        "tools listed"
    );
    let (status, _, _) = env.get(&p).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(calls(&catalog), 1, "the tool list is cached per connection");
}

#[tokio::test]
async fn pending_requests_are_capped() {
    let (env, _) = counting_env();
    for i in 0..(crate::oauth::server::authorize::MAX_PENDING_REQUESTS + 5) {
        let client = env.client(Some(&format!("c{i}")), &["http://localhost/callback"]);
        let (status, _, _) = env
            .authorize(&params(&client, "http://localhost:53122/callback"))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(
        env.count("SELECT COUNT(*) FROM authorization_requests WHERE status = 'pending'"),
        i64::from(crate::oauth::server::authorize::MAX_PENDING_REQUESTS),
        "the oldest pending requests beyond the cap are dropped"
    );
}
