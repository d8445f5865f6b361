//! An upstream the proxy is not signed in to: an open upstream that starts asking for OAuth (RFC
//! 9728 §5.1) turns the connection into one that needs a sign-in, and a client that takes URL
//! elicitations (MCP 2025-11-25 Elicitation, URL mode) is sent to Gatehouse's sign-in page.

use gatehouse_core::store::connections::{self, AuthKind, ConnectionStatus};
use gatehouse_testkit::proxy::*;
use serde_json::json;

/// An upstream reached without credentials that starts asking for OAuth (a 401 naming protected
/// resource metadata, RFC 9728 §5.1) turns the connection into an OAuth connection that needs a
/// sign-in; the client is told to sign in, not that credentials were rejected (none were sent).
#[tokio::test]
async fn an_open_upstream_that_starts_asking_for_oauth_needs_a_sign_in() {
    let env = Env::new().await;
    let id = env.connection.clone();
    env.vault
        .store()
        .write_blocking(move |tx| {
            Ok(tx.execute(
                "UPDATE connections SET auth_kind = 'none', header_name = NULL, header_value_sealed = NULL
                 WHERE id = ?1",
                [id.as_str()],
            )?)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let (grant, token) = env.all_tools_token();
    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","id":1,"method":"fail/401-oauth"}),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "an in-band error, never HTTP 401");
    let body = json_of(r).await;
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("now asks for OAuth sign-in") && !message.contains("rejected"),
        "{body}"
    );
    let id = env.connection.clone();
    let row = env
        .vault
        .store()
        .read_blocking(move |c| connections::get(c, &id))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("connection"));
    assert_eq!(row.settings.auth_kind, AuthKind::OAuth);
    assert_eq!(row.status, ConnectionStatus::NeedsAuth);
    let grant_status: String = env
        .vault
        .store()
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT status FROM grants WHERE id = ?1",
                [grant.as_str()],
                |r| r.get(0),
            )?)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        grant_status, "revoked",
        "a grant approved for an open server does not act as the account that signs in"
    );
}

/// MCP 2025-11-25 Elicitation (URL mode): a client that declared `elicitation.url` and calls a
/// connection Gatehouse is not signed in to gets -32042 with Gatehouse's sign-in page for it; any
/// other client the plain error. The page starts a sign-in only from its own form (double-submit
/// cookie, SameSite=Strict), never from a bare POST or another site.
#[tokio::test]
async fn a_client_that_takes_url_elicitations_is_sent_to_gatehouses_sign_in_page() {
    let env = Env::new().await;
    let id = env.connection.clone();
    env.vault
        .store()
        .write_blocking(move |tx| {
            Ok(tx.execute(
                "UPDATE connections SET auth_kind = 'oauth', status = 'needs_auth',
                 header_name = NULL, header_value_sealed = NULL WHERE id = ?1",
                [id.as_str()],
            )?)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, token) = env.all_tools_token();
    let mut init_url = init();
    init_url["params"]["capabilities"] = json!({"elicitation": {"form": {}, "url": {}}});
    let answer = json_of(
        env.post("a", Some(&token), &init_url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(answer["error"]["code"], -32042, "{answer}");
    let elicitation = &answer["error"]["data"]["elicitations"][0];
    assert_eq!(elicitation["mode"], "url", "{answer}");
    let page_url = elicitation["url"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        page_url,
        format!("{}/oauth/connections/a/signin", env.gateway.base_url())
    );
    let plain = json_of(
        env.post("a", Some(&token), &init())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    assert_eq!(plain["error"]["code"], -32001, "{plain}");
    assert!(plain["error"].get("data").is_none(), "{plain}");

    // The page: a form and a secret cookie scoped to it.
    let page = env
        .http
        .get(&page_url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status(), 200);
    let cookie = header(&page, "set-cookie").unwrap_or_default();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap_or_default().to_owned();
    let secret = pair
        .split_once('=')
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    let html = page.text().await.unwrap_or_default();
    assert!(html.contains("Sign in to Connection a"), "{html}");
    assert!(html.contains(&secret), "the form carries the token");

    let post = |cookie: Option<String>, fetch_site: &'static str| {
        let mut r = env
            .http
            .post(&page_url)
            .header("sec-fetch-site", fetch_site)
            .form(&[("csrf_token", secret.clone())]);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send()
    };
    let bare = post(None, "same-origin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bare.status(), 403, "no cookie: not the page's own form");
    let cross = post(Some(pair.clone()), "cross-site")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cross.status(), 403, "another site's form");
    let own = post(Some(pair), "same-origin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The form is accepted and the sign-in starts; this fake upstream has no authorization
    // server to find, so it stops there, with the reason.
    assert_eq!(own.status(), 502);
    assert!(
        own.text()
            .await
            .unwrap_or_default()
            .contains("Sign-in could not start")
    );
}
