//! The consent page and the upstream sign-in.

use super::*;

#[tokio::test]
async fn the_consent_page_tool_list_uses_the_upstream_token() {
    let env = Env::new().await;
    let http =
        gatehouse_core::proxy::upstream_client(&gatehouse_core::proxy::ProxyOptions::default());
    let row = env.row();
    let without =
        gatehouse_core::proxy::catalog::list_upstream_tools(&env.vault, &http, &row).await;
    assert!(without.is_err(), "without a token the upstream refuses");
    env.sign_in().await;
    let row = env.row();
    let token = env
        .cli
        .tokens()
        .access_token(&row.id, row.config_version)
        .await
        .unwrap();
    let tools = gatehouse_core::proxy::catalog::list_upstream_tools_with(
        &env.vault,
        &http,
        &row,
        Some(&token),
    )
    .await
    .unwrap();
    assert_eq!(tools[0].0, "echo");
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

#[tokio::test]
async fn consent_first_then_upstream_sign_in_then_the_code() {
    let env = Env::new().await;
    let base = env.gateway.base_url();
    let client = ClientId::generate();
    env.vault
        .store()
        .upsert_client(&registration(&client, "Test Client"))
        .unwrap();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(
        b"local-verifier-local-verifier-local-verifier",
    ));
    let resource = format!("{base}/mcp/up");
    let (_, consent, cookie) = open_consent(
        &env.http,
        &base,
        env.http.get(format!("{base}/authorize")).query(&[
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "local-state"),
            ("resource", resource.as_str()),
        ]),
    )
    .await;
    let form = vec![
        ("request_id", hidden(&consent, "request_id")),
        ("csrf_token", hidden(&consent, "csrf_token")),
        ("decision", "approve".to_owned()),
    ];
    let decide = || {
        env.http
            .post(format!("{base}/authorize/decision"))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let r = decide().await.unwrap();
    assert_eq!(r.status(), 409, "no code before the upstream sign-in");
    let page = r.text().await.unwrap();
    assert!(page.contains("action=\"/oauth/upstream-signin\""), "{page}");

    // The page's sign-in button: the same request id + CSRF token start the upstream sign-in.
    let r = env
        .http
        .post(format!("{base}/oauth/upstream-signin"))
        .header("cookie", &cookie)
        .form(&[
            ("request_id", form[0].1.clone()),
            ("csrf_token", form[1].1.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let start = page.find("href=\"").unwrap() + 6;
    let link = page[start..start + page[start..].find('"').unwrap()].replace("&#38;", "&");
    let forged = env
        .http
        .post(format!("{base}/oauth/upstream-signin"))
        .form(&[
            ("request_id", form[0].1.clone()),
            ("csrf_token", "wrong".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400, "a wrong CSRF token starts nothing");

    let r = env.http.get(&link).send().await.unwrap();
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    let (status, page) = env.deliver(&callback).await;
    assert_eq!(status, 200, "{page}");

    // Approve again: now the code is issued.
    let r = decide().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1/callback?code="),
        "{location}"
    );
}

#[tokio::test]
async fn a_consent_page_cannot_sign_a_signed_in_connection_in_again() {
    let env = Env::new().await;
    env.sign_in().await;
    let base = env.gateway.base_url();
    let client = ClientId::generate();
    env.vault
        .store()
        .upsert_client(&registration(&client, "Test Client"))
        .unwrap();
    let resource = format!("{base}/mcp/up");
    let (_, consent, cookie) = open_consent(
        &env.http,
        &base,
        env.http.get(format!("{base}/authorize")).query(&[
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", "http://127.0.0.1/callback"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("state", "s"),
            ("resource", resource.as_str()),
        ]),
    )
    .await;
    let before = env.upstream.authorize_queries.lock().unwrap().len();
    let r = env
        .http
        .post(format!("{base}/oauth/upstream-signin"))
        .header("cookie", &cookie)
        .form(&[
            ("request_id", hidden(&consent, "request_id")),
            ("csrf_token", hidden(&consent, "csrf_token")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        409,
        "a signed-in connection is never re-signed from a consent page"
    );
    assert_eq!(
        env.upstream.authorize_queries.lock().unwrap().len(),
        before,
        "no upstream sign-in was started"
    );
    assert_eq!(env.row().account_label.as_deref(), Some("ada@example.com"));
}
