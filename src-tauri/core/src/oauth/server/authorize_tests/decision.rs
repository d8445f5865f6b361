//! The person's decision on the consent page: approving issues a code bound to the request and
//! activates the grant, denying redirects with `access_denied`, nothing is approved without them,
//! and a decision without the page's CSRF token or the browser's cookie issues nothing.

use super::*;

#[tokio::test]
async fn approve_issues_a_code_bound_to_the_request_and_activates_the_grant() {
    let env = env();
    let client = env.client(Some("Claude Code"), &["http://localhost/callback"]);
    let state = "a b&c=d/é?#+%20";
    let p = with(
        params(&client, "http://localhost:53122/callback"),
        "state",
        Some(state),
    );
    let (status, headers, html) = env.get(&p).await;
    assert_eq!(status, StatusCode::OK, "consent page shown: {html}");
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "framing refused (OAuth 2.1 §7.10): {csp}"
    );
    assert_eq!(
        headers.get(header::X_FRAME_OPTIONS).map(|v| v.as_bytes()),
        Some(&b"DENY"[..]),
        "framing refused (OAuth 2.1 §7.10)"
    );
    assert_eq!(
        headers.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "no caching of the CSRF token"
    );
    for text in [
        "&quot;Claude Code&quot;",
        "unverified",
        "Docs docs",
        "on behalf of you",
        "http://localhost:53122/callback",
        "Every callback this client registered is on this computer",
        "name=\"tool\" value=\"search\" checked",
        "name=\"tool\" value=\"delete\" checked",
    ] {
        assert!(html.contains(text), "the page shows {text}");
    }
    assert!(!html.contains(CHALLENGE), "the code challenge never leaks");
    assert_eq!(
        env.count("SELECT count(*) FROM grants WHERE status = 'pending'"),
        1,
        "a pending grant is created with the page"
    );

    let request_id = hidden(&html, "request_id");
    let csrf = hidden(&html, "csrf_token");
    let form = [
        ("request_id", request_id.as_str()),
        ("csrf_token", csrf.as_str()),
        ("offered", "search"),
        ("offered", "fetch"),
        ("offered", "delete"),
        ("tool", "search"),
        ("tool", "fetch"),
        ("decision", "approve"),
    ];
    let (status, headers, _) = env.post(&form).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "303, never 307 (OAuth 2.1 §7.5.4)"
    );
    let url = location(&headers);
    assert!(
        url.as_str()
            .starts_with("http://localhost:53122/callback?code=gh_ac_"),
        "the code goes to the exact requested callback: {url}"
    );
    assert_eq!(
        query(&url, "state").as_deref(),
        Some(state),
        "state comes back byte for byte"
    );
    assert_eq!(query(&url, "iss").as_deref(), Some(ISSUER), "RFC 9207");
    let code = query(&url, "code").unwrap_or_default();
    let hash = *TokenHash::of(&code).as_bytes();
    let row = store_of(&env)
        .read_blocking(|c| authorization_codes::lookup(c, &hash))
        .unwrap_or_else(|e| panic!("lookup: {e}"))
        .unwrap_or_else(|| panic!("only the code's hash is stored, and it is"));
    assert_eq!(
        row.redirect_uri, "http://localhost:53122/callback",
        "exact URI bound"
    );
    assert_eq!(row.code_challenge, CHALLENGE, "PKCE challenge bound");
    assert_eq!(row.resource, RESOURCE, "resource bound");
    assert_eq!(row.scopes, "mcp:access", "scopes bound");
    assert_eq!(row.client_id.as_str(), client, "client bound");
    let grant = store_of(&env)
        .read_blocking(|c| grants::get(c, &row.grant_id))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("grant exists"));
    assert_eq!(
        grant.status,
        GrantStatus::Active,
        "approved grant is active"
    );
    assert_eq!(
        grant.tools,
        Some(vec!["fetch".to_owned(), "search".to_owned()]),
        "unchecked tools are left out"
    );
    assert_eq!(
        grant.redirect_uri, "http://localhost/callback",
        "the grant binds the registered (port-agnostic) callback"
    );

    let again = env.post(&form).await;
    assert_error_page(&again, "a second POST of the same decision");
    assert_eq!(
        env.count("SELECT count(*) FROM authorization_codes"),
        1,
        "no second code"
    );
}

#[tokio::test]
async fn never_auto_approves_and_reuses_an_identical_active_grant() {
    let env = env();
    let client = env.client(Some("C"), &["http://127.0.0.1/cb"]);
    let mut grant_ids = Vec::new();
    for round in 0..2 {
        let (status, headers, html) = env.get(&params(&client, "http://127.0.0.1:5000/cb")).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "round {round} shows consent again, never a silent redirect"
        );
        assert!(headers.get(header::LOCATION).is_none(), "no redirect");
        // What the browser submits with every box left ticked.
        let mut form = vec![
            ("request_id", hidden(&html, "request_id")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("decision", "approve".into()),
        ];
        for tool in ["search", "fetch", "delete"] {
            form.push(("offered", tool.into()));
            form.push(("tool", tool.into()));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, headers, _) = env.post(&form).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "approved");
        let code = query(&location(&headers), "code").unwrap_or_default();
        let hash = *TokenHash::of(&code).as_bytes();
        let row = store_of(&env)
            .read_blocking(|c| authorization_codes::lookup(c, &hash))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("code stored"));
        grant_ids.push(row.grant_id);
    }
    assert_eq!(
        grant_ids[0], grant_ids[1],
        "the same binding reuses the active grant"
    );
    let active = store_of(&env)
        .read_blocking(|c| {
            grants::list(
                c,
                &GrantFilter {
                    active_only: true,
                    ..GrantFilter::default()
                },
            )
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(active.len(), 1, "one active grant per binding");
    assert_eq!(
        active[0].tools, None,
        "no tool unchecked → all tools (NULL)"
    );
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let env = env();
    let client = env.client(None, &["cursor://anysphere.cursor-mcp/oauth/callback"]);
    let (status, _, html) = env
        .get(&params(
            &client,
            "cursor://anysphere.cursor-mcp/oauth/callback",
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "consent page");
    assert!(
        html.contains("Unverified MCP client"),
        "no name → unverified label"
    );
    assert!(
        html.contains("app link (cursor:)"),
        "private-use scheme warning"
    );
    let request_id = hidden(&html, "request_id");
    let csrf = hidden(&html, "csrf_token");
    let response = env
        .post(&[
            ("request_id", &request_id),
            ("csrf_token", &csrf),
            ("decision", "deny"),
        ])
        .await;
    assert_error_redirect(&response, "access_denied", "the person declined");
    assert_eq!(
        env.count("SELECT count(*) FROM authorization_requests WHERE status = 'denied'"),
        1,
        "request denied"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM grants WHERE status = 'active'"),
        0,
        "nothing active"
    );
}

#[tokio::test]
async fn csrf_missing_wrong_or_stale_issues_nothing() {
    let env = env();
    let client = env.client(Some("C"), &["http://127.0.0.1/cb"]);
    let (_, _, html) = env.get(&params(&client, "http://127.0.0.1:5000/cb")).await;
    let request_id = hidden(&html, "request_id");
    let csrf = hidden(&html, "csrf_token");
    let missing = env
        .post(&[("request_id", &request_id), ("decision", "approve")])
        .await;
    assert_error_page(&missing, "no CSRF token");
    let wrong = env
        .post(&[
            ("request_id", &request_id),
            ("csrf_token", "gh_csrf_wrong"),
            ("decision", "approve"),
        ])
        .await;
    assert_error_page(&wrong, "wrong CSRF token");

    let foreign = {
        let body = format!("request_id={request_id}&csrf_token={csrf}&decision=approve");
        let request = Request::post("/authorize/decision")
            .header(header::ORIGIN, "http://localhost:6274")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap_or_else(|e| panic!("{e}"));
        env.send(request).await
    };
    assert_eq!(
        foreign.0,
        StatusCode::FORBIDDEN,
        "another local origin cannot submit the consent form"
    );

    env.clock.advance(11 * MINUTE);
    let stale = env
        .post(&[
            ("request_id", &request_id),
            ("csrf_token", &csrf),
            ("decision", "approve"),
        ])
        .await;
    assert_error_page(&stale, "stale consent");
    assert_eq!(
        env.count("SELECT count(*) FROM authorization_codes"),
        0,
        "no code was issued"
    );
}

#[tokio::test]
async fn a_program_without_the_browser_cookie_cannot_review_or_decide() {
    let (env, catalog) = counting_env();
    let client = env.client(Some("Claude Code"), &["http://localhost/callback"]);
    let p = params(&client, "http://localhost:53122/callback");
    let (_, _, loading) = env.authorize(&p).await;
    let path = review_path(&loading).unwrap_or_else(|| panic!("a review path"));
    let stolen_jar = env.cookies.lock().map(|c| c.clone()).unwrap_or_default();

    // A script that fetched /authorize but sends no cookie gets nothing.
    if let Ok(mut jar) = env.cookies.lock() {
        jar.clear();
    }
    let (status, _, html) = env.review(&path).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no cookie: no review");
    assert!(!html.contains("csrf_token"), "and no form");
    assert_eq!(calls(&catalog), 0, "and no upstream call");

    // The person's browser reviews; a program that copies the form (CSRF token) but not the
    // cookie cannot approve.
    if let Ok(mut jar) = env.cookies.lock() {
        *jar = stolen_jar;
    }
    let (status, _, html) = env.review(&path).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the browser with the cookie reviews"
    );
    let form = [
        ("request_id", hidden(&html, "request_id")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("decision", "approve".into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    let post = |cookie: Option<&str>, fetch_site: Option<&str>| {
        let mut request = Request::post("/authorize/decision")
            .header(header::HOST, format!("127.0.0.1:{PORT}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie.unwrap_or("unrelated=1"));
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request
            .body(Body::from(body.clone()))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (status, _, _) = env.send(post(None, None)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "CSRF token without the cookie: refused"
    );
    let jar = env.cookies.lock().map(|c| c.join("; ")).unwrap_or_default();
    let (status, _, _) = env.send(post(Some(&jar), Some("cross-site"))).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "Sec-Fetch-Site: cross-site is refused even with the cookie"
    );
    assert_eq!(
        env.count("SELECT COUNT(*) FROM grants WHERE status = 'active'"),
        0,
        "nothing was approved"
    );

    // The browser's own submission, with the tool list left out: approved, with no tool.
    let (status, _, _) = env.send(post(Some(&jar), Some("same-origin"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the browser's form approves");
    let active = store_of(&env)
        .read_blocking(|c| {
            grants::list(
                c,
                &GrantFilter {
                    active_only: true,
                    ..GrantFilter::default()
                },
            )
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(active.len(), 1);
    assert_eq!(
        active[0].tools,
        Some(Vec::new()),
        "an approval that leaves the tool list out allows no tool, never all"
    );
}
