//! The loopback callback page (`oauth::upstream::callback`) shows text that others control: the
//! connection's name (typed by a person, maybe pasted), the account from the upstream's id_token,
//! and the authorization server's `error` / `error_description`. Each carries markup here; the page
//! must show it escaped, never as markup, and must forbid script and framing in its headers.

use gatehouse_core::admin::{self, ConnectionChanges};
use gatehouse_testkit::signin::*;
use serde_json::json;

const NAME_MARKUP: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
const ACCOUNT_MARKUP: &str = "\"><img src=x onerror=alert(4)>@example.com";

/// The callback page for `callback`: status, headers and body.
async fn fetch_page(env: &Env, callback: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = env.http.get(callback).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

fn escaped(text: &str) -> String {
    // As askama's HTML escaper writes them.
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// None of the markup, whole or in its dangerous parts, appears unescaped.
fn assert_no_markup(page: &str) {
    for raw in [
        NAME_MARKUP,
        ACCOUNT_MARKUP,
        DENIAL_MARKUP,
        "<script>alert(",
        "<img src=x",
        "\"><img",
    ] {
        assert!(
            !page.contains(raw),
            "the page carries raw markup {raw:?}: {page}"
        );
    }
}

fn assert_locked_down(headers: &reqwest::header::HeaderMap) {
    let csp = headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "a restrictive CSP: {csp}"
    );
    assert!(
        !csp.contains("script-src") && !csp.contains("unsafe-eval"),
        "no script is allowed at all: {csp}"
    );
    assert_eq!(
        headers.get("x-frame-options").and_then(|v| v.to_str().ok()),
        Some("DENY"),
        "older browsers must not frame the page either"
    );
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}

#[tokio::test]
async fn the_signed_in_page_escapes_the_connection_name_and_the_account() {
    let env = Env::new().await;
    let port = env.gateway.address().port();
    admin::edit_connection(
        &env.vault,
        port,
        "up",
        &ConnectionChanges {
            name: Some(NAME_MARKUP.into()),
            ..ConnectionChanges::default()
        },
    )
    .unwrap_or_else(|e| panic!("any printable name is a valid name: {e}"));
    *env.upstream.id_token_claims.lock().unwrap() =
        Some(json!({"sub": "1", "email": ACCOUNT_MARKUP}));

    let callback = env.authorize().await;
    let (status, headers, page) = fetch_page(&env, &callback).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("Signed in to {}", escaped(NAME_MARKUP))),
        "the connection's name is shown, escaped: {page}"
    );
    assert!(
        page.contains(&format!(" as {}", escaped(ACCOUNT_MARKUP))),
        "the account from the id_token is shown, escaped: {page}"
    );
    assert_no_markup(&page);
    assert_locked_down(&headers);
    assert_eq!(
        env.row().account_label.as_deref(),
        Some(ACCOUNT_MARKUP),
        "the label is stored as the upstream said it; only the page escapes it"
    );
}

#[tokio::test]
async fn a_refusal_from_the_right_issuer_shows_its_description_escaped() {
    let env = Env::new().await;
    *env.upstream.iss_mode.lock().unwrap() = "denied";
    let callback = env.authorize().await;
    let (status, headers, page) = fetch_page(&env, &callback).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains(&format!("access_denied: {}", escaped(DENIAL_MARKUP))),
        "with a matching iss, the server's own words are shown, escaped: {page}"
    );
    assert_no_markup(&page);
    assert_locked_down(&headers);
    assert!(
        env.upstream.token_forms.lock().unwrap().is_empty(),
        "a refusal exchanges no code"
    );

    // With another issuer's iss, nothing the response carried is shown (RFC 9207), and the error
    // page is as locked down as the others.
    *env.upstream.iss_mode.lock().unwrap() = "wrong";
    let callback = env.authorize().await;
    let (status, headers, page) = fetch_page(&env, &callback).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        !page.contains("access_denied") && !page.contains("alert"),
        "{page}"
    );
    assert_no_markup(&page);
    assert_locked_down(&headers);
}
