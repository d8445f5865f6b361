//! `GET /authorize` and `POST /authorize/decision` against a real store in a temporary directory,
//! driven with `tower::ServiceExt::oneshot`: PKCE, redirect URI matching, CIMD clients, the consent
//! page and its CSRF and framing defences, the decision's redirect and the `resource` parameter.
//!
//! This module is the browser and store the tests share (`Env`: the authorize router on a vault,
//! a cookie jar, the requests a browser makes); the tests are in its children, by what they test.

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

mod clients;
mod decision;
mod in_the_gateway;
mod request_errors;

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
