//! `/authorize` and the consent decision over a real socket against `gatehoused serve`: what the
//! consent page shows, that it cannot be framed, the 303 to the exact callback and `state` echoed
//! byte for byte. The connection and client are written straight into the data dir's store while
//! the gateway runs, as the admin CLI would.

use gatehouse_e2e::Gatehoused;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn seed(dir: &std::path::Path) {
    let db = rusqlite::Connection::open(dir.join("gatehouse.sqlite3"))
        .unwrap_or_else(|e| panic!("open store: {e}"));
    db.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    db.execute_batch(
        "INSERT INTO connections (id, slug, name, upstream_url, transport, auth_kind, status, created_at, updated_at)
         VALUES ('6f0c1b1e-0000-4000-8000-000000000001', 'docs', 'Docs', 'https://docs.example/mcp',
                 'streamable_http', 'none', 'connected', 0, 0);
         INSERT INTO clients (client_id, client_name, grant_types, response_types, token_endpoint_auth_method,
                              registration_source, created_at, updated_at)
         VALUES ('e2e-client', 'E2E <Client>', 'authorization_code refresh_token', 'code', 'none', 'dcr', 0, 0);
         INSERT INTO client_redirect_uris (client_id, position, redirect_uri)
         VALUES ('e2e-client', 0, 'http://127.0.0.1/callback');",
    )
    .unwrap_or_else(|e| panic!("seed: {e}"));
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn consent_round_trip_over_a_socket() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let gateway = Gatehoused::serve(dir.path());
    seed(dir.path());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let resource = format!("{}/mcp/docs", gateway.base_url);
    let state = "s t&a=te";
    let request = client
        .get(format!("{}/authorize", gateway.base_url))
        .query(&[
            ("response_type", "code"),
            ("client_id", "e2e-client"),
            ("redirect_uri", "http://127.0.0.1:53999/callback"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("resource", resource.as_str()),
            ("state", state),
        ]);
    let (status, html, cookie) =
        gatehouse_testkit::browser::open_consent(&client, &gateway.base_url, request).await;
    assert_eq!(status, 200, "the consent page is shown");
    let headers = client
        .get(format!("{}/authorize/review", gateway.base_url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET review: {e}"))
        .headers()
        .clone();
    assert_eq!(
        headers.get("x-frame-options").map(|v| v.as_bytes()),
        Some(&b"DENY"[..]),
        "the consent page cannot be framed (clickjacking)"
    );
    assert!(
        headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("frame-ancestors 'none'")),
        "the consent page cannot be framed (clickjacking)"
    );
    assert!(
        html.contains("&quot;E2E &#60;Client&#62;&quot;"),
        "the escaped name in quotes"
    );
    assert!(
        html.contains("The tool list could not be loaded"),
        "the upstream cannot be reached"
    );

    let response = client
        .post(format!("{}/authorize/decision", gateway.base_url))
        .header("Origin", &gateway.base_url)
        .header("cookie", &cookie)
        .form(&[
            ("request_id", hidden(&html, "request_id")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("decision", "approve".to_owned()),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST decision: {e}"));
    assert_eq!(response.status(), 303, "303, never 307 (OAuth 2.1 §7.5.4)");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:53999/callback?code=gh_ac_"),
        "code sent to the exact callback: {location}"
    );
    assert!(
        location.contains("state=s%20t%26a%3Dte"),
        "state echoed byte for byte (OAuth 2.1 §4.1.2): {location}"
    );
}
