//! `GET /authorize` and `POST /authorize/decision` against a real store in a temporary directory,
//! driven with `tower::ServiceExt::oneshot`: PKCE, redirect URI matching, CIMD clients, the consent
//! page and its CSRF and framing defences, the decision's redirect and the `resource` parameter.

use crate::net::caller::{PeerConnection, PeerUser};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use tower::ServiceExt;
use url::Url;

use super::authorize::{AuthorizeState, router_with};
use super::cimd::CimdResolver;
use super::tool_catalog::{FixedToolCatalog, ToolSummary};
use crate::clock::{MINUTE, ManualClock};
use crate::crypto::KeyBackend;
use crate::crypto::token::TokenHash;
use crate::gateway::Runtime;
use crate::net::loopback::LocalAuthority;
use crate::store::authorization_codes;
use crate::store::clients::{ClientRegistration, RegistrationSource};
use crate::store::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings, Transport,
};
use crate::store::grants::{self, GrantFilter, GrantStatus};
use crate::store::{ClientId, ConnectionId, Store};
use crate::vault::Vault;

const PORT: u16 = 4849;
const ISSUER: &str = "http://127.0.0.1:4849";
const RESOURCE: &str = "http://127.0.0.1:4849/mcp/docs";
/// A valid S256 challenge (RFC 7636 Appendix B).
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Env {
    _dir: tempfile::TempDir,
    vault: Vault,
    clock: ManualClock,
    app: Router,
    /// The browser's cookie jar: `name=value` pairs set by the gateway.
    cookies: std::sync::Mutex<Vec<String>>,
}

fn store_of(env: &Env) -> &Store {
    env.vault.store()
}

fn tools() -> Vec<ToolSummary> {
    ["search", "fetch", "delete"]
        .into_iter()
        .map(|name| ToolSummary {
            name: name.into(),
            title: None,
            description: Some(format!("{name} things")),
        })
        .collect()
}

fn env_with(catalog: FixedToolCatalog, cimd: CimdResolver) -> Env {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let clock = ManualClock::new(1_750_004_800_000);
    let vault = Vault::open(dir.path(), KeyBackend::File, Arc::new(clock.clone()))
        .unwrap_or_else(|e| panic!("vault: {e}"));
    let app = router_with(AuthorizeState {
        store: vault.store().clone(),
        local: LocalAuthority { port: PORT },
        tools: Arc::new(catalog),
        cimd: Arc::new(cimd),
        tool_lists: Default::default(),
        notices: Default::default(),
    });
    let env = Env {
        _dir: dir,
        vault,
        clock,
        app,
        cookies: std::sync::Mutex::new(Vec::new()),
    };
    add_connection(&env, "docs", true);
    add_connection(&env, "off", false);
    env
}

fn env() -> Env {
    env_with(FixedToolCatalog(Ok(tools())), CimdResolver::new())
}

fn add_connection(env: &Env, slug: &str, enabled: bool) -> ConnectionId {
    let id = ConnectionId::new();
    let new = NewConnection {
        id: id.clone(),
        slug: slug.into(),
        name: format!("Docs {slug}"),
        settings: ConnectionSettings {
            upstream_url: format!("https://{slug}.example/mcp"),
            transport: Transport::StreamableHttp,
            auth_kind: AuthKind::None,
            header_name: None,
            header_value_sealed: None,
            oauth: OAuthSettings::default(),
            stdio: None,
        },
        enabled,
        status: ConnectionStatus::Connected,
    };
    let now = env.clock_now();
    store_of(env)
        .write_blocking(|tx| connections::insert(tx, &new, now))
        .unwrap_or_else(|e| panic!("connection: {e}"));
    id
}

impl Env {
    fn clock_now(&self) -> i64 {
        self.vault.store().now()
    }

    fn client(&self, name: Option<&str>, redirects: &[&str]) -> String {
        let id = ClientId::generate();
        let reg = ClientRegistration {
            client_id: id.clone(),
            client_name: name.map(str::to_owned),
            client_uri: None,
            software_id: None,
            software_version: None,
            redirect_uris: redirects.iter().map(|s| (*s).to_owned()).collect(),
            scope: Some("mcp:access offline_access".into()),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            token_endpoint_auth_method: "none".into(),
            application_type: Some("native".into()),
            registration_source: RegistrationSource::Dcr,
            metadata: serde_json::json!({}),
        };
        store_of(self)
            .upsert_client(&reg)
            .unwrap_or_else(|e| panic!("client: {e}"));
        id.to_string()
    }

    async fn send(&self, mut request: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
        let jar = self
            .cookies
            .lock()
            .map(|c| c.join("; "))
            .unwrap_or_default();
        if !jar.is_empty() && !request.headers().contains_key(header::COOKIE) {
            request.headers_mut().insert(
                header::COOKIE,
                jar.parse().unwrap_or_else(|e| panic!("cookie header: {e}")),
            );
        }
        let response = self
            .app
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status();
        let headers = response.headers().clone();
        if let Ok(mut jar) = self.cookies.lock() {
            for set in headers.get_all(header::SET_COOKIE) {
                let pair = set
                    .to_str()
                    .unwrap_or_default()
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                jar.push(pair);
            }
        }
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("body: {e}"));
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    /// `GET /authorize` only (the loading page, or an error).
    async fn authorize(&self, params: &[(&str, &str)]) -> (StatusCode, http::HeaderMap, String) {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let request = Request::get(format!("/authorize?{query}"))
            .header(header::HOST, format!("127.0.0.1:{PORT}"))
            .body(Body::empty())
            .unwrap_or_else(|e| panic!("request: {e}"));
        self.send(request).await
    }

    /// What a browser shows: `GET /authorize`, then the review its refresh opens (with the cookie).
    async fn get(&self, params: &[(&str, &str)]) -> (StatusCode, http::HeaderMap, String) {
        let answer = self.authorize(params).await;
        match review_path(&answer.2) {
            Some(path) if answer.0 == StatusCode::OK => self.review(&path).await,
            _ => answer,
        }
    }

    async fn review(&self, path: &str) -> (StatusCode, http::HeaderMap, String) {
        let request = Request::get(path)
            .header(header::HOST, format!("127.0.0.1:{PORT}"))
            .header("sec-fetch-site", "same-origin")
            .body(Body::empty())
            .unwrap_or_else(|e| panic!("request: {e}"));
        self.send(request).await
    }

    async fn post(&self, form: &[(&str, &str)]) -> (StatusCode, http::HeaderMap, String) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = Request::post("/authorize/decision")
            .header(header::HOST, format!("127.0.0.1:{PORT}"))
            .header(header::ORIGIN, ISSUER)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap_or_else(|e| panic!("request: {e}"));
        self.send(request).await
    }

    fn count(&self, sql: &str) -> i64 {
        store_of(self)
            .read_blocking(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

fn params<'a>(client_id: &'a str, redirect: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("resource", RESOURCE),
        ("state", "st8"),
        ("scope", "mcp:access"),
    ]
}

fn with<'a>(
    mut p: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    p.retain(|(k, _)| *k != name);
    if let Some(value) = value {
        p.push((name, value));
    }
    p
}

/// The review path the loading page refreshes to.
fn review_path(html: &str) -> Option<String> {
    let marker = "http-equiv=\"refresh\" content=\"0; url=";
    let start = html.find(marker)? + marker.len();
    Some(
        html[start..]
            .split('"')
            .next()?
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

/// The value of a hidden input in the consent page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in the page"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn location(headers: &http::HeaderMap) -> Url {
    let raw = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("a redirect has a Location"));
    Url::parse(raw).unwrap_or_else(|e| panic!("Location {raw}: {e}"))
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn assert_error_redirect(
    (status, headers, _): &(StatusCode, http::HeaderMap, String),
    error: &str,
    why: &str,
) {
    assert_eq!(*status, StatusCode::SEE_OTHER, "{why}: redirected with 303");
    let url = location(headers);
    assert_eq!(query(&url, "error").as_deref(), Some(error), "{why}");
    assert_eq!(
        query(&url, "state").as_deref(),
        Some("st8"),
        "{why}: state echoed"
    );
    assert_eq!(
        query(&url, "iss").as_deref(),
        Some(ISSUER),
        "{why}: RFC 9207 iss"
    );
}

fn assert_error_page((status, headers, body): &(StatusCode, http::HeaderMap, String), why: &str) {
    assert_eq!(*status, StatusCode::BAD_REQUEST, "{why}: error page, 400");
    assert!(
        headers.get(header::LOCATION).is_none(),
        "{why}: never redirected"
    );
    assert!(body.contains("<h1>"), "{why}: an HTML page");
}

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
async fn client_and_redirect_errors_are_pages_never_redirects() {
    let env = env();
    let client = env.client(Some("C"), &["http://127.0.0.1/cb"]);
    let ok = env.get(&params(&client, "http://127.0.0.1:53122/cb")).await;
    assert_eq!(ok.0, StatusCode::OK, "loopback redirects match any port");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            params("no-such-client", "http://127.0.0.1:5000/cb"),
            "unknown client_id",
        ),
        (
            with(params(&client, "x"), "client_id", None),
            "missing client_id",
        ),
        (
            params(&client, "http://127.0.0.1:5000/other"),
            "different path",
        ),
        (
            params(&client, "http://localhost:53122/cb"),
            "localhost does not stand in for 127.0.0.1",
        ),
        (
            params(&client, "http://127.0.0.1:1@evil.com/cb"),
            "userinfo",
        ),
        (params(&client, "http://127.0.0.1:5000/cb#frag"), "fragment"),
        (
            params(&client, "http://127.0.0.1:5000/cb?extra=1"),
            "extra query",
        ),
        (
            params("http://evil.example/client", "http://127.0.0.1:5000/cb"),
            "http CIMD client_id, no fetch",
        ),
        (
            params(
                "https://evil.example/a/../client",
                "http://127.0.0.1:5000/cb",
            ),
            "dot segment CIMD client_id, no fetch",
        ),
    ];
    for (p, why) in cases {
        let response = env.get(&p).await;
        assert_error_page(&response, why);
    }
    let p = params(&client, "http://127.0.0.1:5000/cb");
    let mut doubled = p.clone();
    doubled.push(("redirect_uri", "http://127.0.0.1:5001/cb"));
    assert_error_page(&env.get(&doubled).await, "two redirect_uri values");
}

#[tokio::test]
async fn errors_after_a_trusted_redirect_are_redirected() {
    let env = env();
    let client = env.client(Some("C"), &["http://127.0.0.1/cb"]);
    let base = params(&client, "http://127.0.0.1:5000/cb");
    let too_short = &CHALLENGE[..42];
    let with_plus = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM";
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            with(base.clone(), "code_challenge", None),
            "invalid_request",
            "no code_challenge",
        ),
        (
            with(base.clone(), "code_challenge_method", Some("plain")),
            "invalid_request",
            "code_challenge_method plain",
        ),
        (
            with(base.clone(), "code_challenge_method", None),
            "invalid_request",
            "no method means plain",
        ),
        (
            with(base.clone(), "code_challenge", Some(too_short)),
            "invalid_request",
            "a 42-character challenge",
        ),
        (
            with(base.clone(), "code_challenge", Some(with_plus)),
            "invalid_request",
            "a challenge outside base64url",
        ),
        (
            with(base.clone(), "response_type", Some("token")),
            "unsupported_response_type",
            "response_type token",
        ),
        (
            with(base.clone(), "resource", Some("https://other.example/mcp")),
            "invalid_target",
            "not a Gatehouse connection",
        ),
        (
            with(
                base.clone(),
                "resource",
                Some("http://127.0.0.1:4849/mcp/docs#x"),
            ),
            "invalid_target",
            "resource with a fragment",
        ),
        (
            with(base.clone(), "resource", None),
            "invalid_target",
            "missing resource → invalid_target (Gatehouse's policy)",
        ),
        (
            with(
                base.clone(),
                "resource",
                Some("http://127.0.0.1:4849/mcp/nope"),
            ),
            "invalid_target",
            "unknown connection",
        ),
        (
            with(
                base.clone(),
                "resource",
                Some("http://127.0.0.1:4849/mcp/off"),
            ),
            "invalid_target",
            "disabled connection",
        ),
    ];
    for (p, error, why) in cases {
        let response = env.get(&p).await;
        assert_error_redirect(&response, error, why);
    }
    let mut two = base.clone();
    two.push(("resource", "http://127.0.0.1:4849/mcp/off"));
    assert_error_redirect(
        &env.get(&two).await,
        "invalid_target",
        "two resource parameters",
    );
    assert_eq!(
        env.count("SELECT count(*) FROM authorization_requests"),
        0,
        "no consent recorded for a bad request"
    );
}

#[tokio::test]
async fn oidc_scopes_are_down_scoped_and_names_escaped() {
    let env = env_with(
        FixedToolCatalog(Err("upstream <down>".into())),
        CimdResolver::new(),
    );
    let client = env.client(
        Some("<script>alert(1)</script>"),
        &["http://127.0.0.1/cb", "https://app.example/cb"],
    );
    let p = with(
        params(&client, "http://127.0.0.1:5000/cb"),
        "scope",
        Some("openid email profile offline_access"),
    );
    let (status, _, html) = env.get(&p).await;
    assert_eq!(status, StatusCode::OK, "down-scoped, not refused");
    assert!(!html.contains("<script"), "the client name is escaped");
    assert!(
        html.contains("&quot;&#60;script&#62;alert(1)&#60;/script&#62;&quot;"),
        "and shown in quotes"
    );
    assert!(
        html.contains(
            "The tool list could not be loaded: upstream &#60;down&#62;; approving allows all tools"
        ),
        "catalog failure explained"
    );
    assert!(!html.contains("type=\"checkbox\""), "no checkboxes");
    assert!(
        !html.contains("Every callback this client registered is on this computer"),
        "no localhost warning when an https callback is registered"
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM authorization_requests WHERE scopes = 'mcp:access offline_access'"
        ),
        1,
        "openid/email/profile dropped, mcp:access added"
    );
}

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

/// A catalog that counts how often the upstream is asked for its tools.
#[derive(Clone, Default)]
struct CountingCatalog(Arc<std::sync::atomic::AtomicUsize>);

impl super::tool_catalog::ToolCatalog for CountingCatalog {
    fn list_tools<'a>(
        &'a self,
        _connection: &'a crate::store::connections::ConnectionRow,
    ) -> super::tool_catalog::ToolListFuture<'a> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async { Ok(tools()) })
    }
}

fn counting_env() -> (Env, CountingCatalog) {
    let catalog = CountingCatalog::default();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let clock = ManualClock::new(1_750_004_800_000);
    let vault = Vault::open(dir.path(), KeyBackend::File, Arc::new(clock.clone()))
        .unwrap_or_else(|e| panic!("vault: {e}"));
    let app = router_with(AuthorizeState {
        store: vault.store().clone(),
        local: LocalAuthority { port: PORT },
        tools: Arc::new(catalog.clone()),
        cimd: Arc::new(CimdResolver::new()),
        tool_lists: Default::default(),
        notices: Default::default(),
    });
    let env = Env {
        _dir: dir,
        vault,
        clock,
        app,
        cookies: std::sync::Mutex::new(Vec::new()),
    };
    add_connection(&env, "docs", true);
    (env, catalog)
}

fn calls(catalog: &CountingCatalog) -> usize {
    catalog.0.load(std::sync::atomic::Ordering::SeqCst)
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
    for i in 0..(super::authorize::MAX_PENDING_REQUESTS + 5) {
        let client = env.client(Some(&format!("c{i}")), &["http://localhost/callback"]);
        let (status, _, _) = env
            .authorize(&params(&client, "http://localhost:53122/callback"))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(
        env.count("SELECT COUNT(*) FROM authorization_requests WHERE status = 'pending'"),
        i64::from(super::authorize::MAX_PENDING_REQUESTS),
        "the oldest pending requests beyond the cap are dropped"
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
