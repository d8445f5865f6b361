//! The upstream world of the role-2 tests (fakes are real servers, not mocked traits): an upstream
//! MCP server on 127.0.0.1:0 that answers 401 with a `resource_metadata` challenge and serves its
//! PRM, and an authorization server with metadata, /register, /authorize (auto-approving), /token
//! (PKCE check, refresh rotation), /revoke and /userinfo; every request is logged and counted.
//! [`Env`] runs Gatehouse as the real gateway on a real socket beside them.
//!
//! Each test binary uses only part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::clock::{SharedClock, SystemClock};
use gatehouse_core::crypto::{KeyBackend, TokenHash, TokenKind};
use gatehouse_core::gateway::{self, RunningGateway};
use gatehouse_core::oauth::upstream::UpstreamOAuth;
use gatehouse_core::store::access_tokens::{self, NewAccessToken};
use gatehouse_core::store::clients::{ClientRegistration, RegistrationSource};
use gatehouse_core::store::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings,
    OAuthSource, Transport,
};
use gatehouse_core::store::grants::{self, NewGrant};
use gatehouse_core::store::{ClientId, ConnectionId, GrantId, upstream_credentials};
use gatehouse_core::vault::Vault;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const AT_PREFIX: &str = "UPSTREAM-AT-SECRET-";
pub const RT_PREFIX: &str = "UPSTREAM-RT-SECRET-";
pub const M2M_SECRET: &str = "M2M-CLIENT-SECRET-5d1e";
/// The `error_description` of an `iss_mode` "denied" redirect: markup the callback page must escape.
pub const DENIAL_MARKUP: &str = "<script>alert(1)</script> \"><img src=x onerror=alert(3)>";

/// Every log line of this test binary (all tests), to check that no secret is ever logged.
pub fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUF: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .try_init();
        buf
    })
    .clone()
}

pub struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------- the upstream world

#[derive(Default)]
pub struct World {
    pub mcp_base: Mutex<String>,
    pub issuer: Mutex<String>,
    /// Every path requested, in order, on both servers.
    pub log: Mutex<Vec<String>>,
    /// Challenge without resource_metadata (the well-knowns are probed instead).
    pub bare_challenge: Mutex<bool>,
    /// Overrides the PRM `resource` (a PRM naming another resource).
    pub prm_resource: Mutex<Option<String>>,
    /// Overrides the PRM's authorization server (SSRF and redirect refusals, a new AS).
    pub prm_as: Mutex<Option<String>>,
    /// Keys merged into the AS metadata (issuer mismatch, no S256, a bad authorization endpoint).
    pub metadata_patch: Mutex<serde_json::Map<String, Value>>,
    /// Omits / changes `iss` in the redirect (RFC 9207 refusals), or ("denied") refuses with the
    /// right `iss`.
    pub iss_mode: Mutex<&'static str>,
    pub expires_in: Mutex<i64>,
    /// Bytes of padding added to every registration response (the DCR size guard).
    pub register_padding: Mutex<usize>,
    /// Every registration request, refused ones included.
    pub registrations: Mutex<Vec<Value>>,
    /// The AS says nothing about who signed in: no id_token, a userinfo without a name.
    pub anonymous: Mutex<bool>,
    /// Replaces the id_token's claims (the account Gatehouse shows).
    pub id_token_claims: Mutex<Option<Value>>,
    /// DCR accepts only loopback http redirect URIs (an AS that refuses private-use schemes).
    pub loopback_redirects_only: Mutex<bool>,
    pub authorize_queries: Mutex<Vec<HashMap<String, String>>>,
    pub codes: Mutex<HashMap<String, (String, String, String, String)>>,
    /// tools/call needs a token granted with the `admin` scope (step-up).
    pub require_admin: Mutex<bool>,
    pub admin_tokens: Mutex<HashSet<String>>,
    pub token_forms: Mutex<Vec<HashMap<String, String>>>,
    pub access: Mutex<HashSet<String>>,
    pub refresh: Mutex<HashSet<String>>,
    pub refresh_calls: AtomicUsize,
    pub revoked: Mutex<Vec<String>>,
    /// The revocation endpoint answers 503 (and revokes nothing).
    pub revoke_fails: Mutex<bool>,
    /// The token endpoint answers `invalid_client` for these client ids (the AS forgot them)...
    pub refused_clients: Mutex<HashSet<String>>,
    /// ... or for every client.
    pub refuse_all_clients: Mutex<bool>,
    /// Bearer tokens the MCP server saw.
    pub mcp_bearers: Mutex<Vec<String>>,
    pub counter: AtomicUsize,
}

impl World {
    pub fn log(&self, path: impl Into<String>) {
        self.log.lock().unwrap().push(path.into());
    }
    pub fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }
    pub fn issue(&self) -> (String, String) {
        let n = self.next();
        let at = format!("{AT_PREFIX}{n}");
        let rt = format!("{RT_PREFIX}{n}");
        self.access.lock().unwrap().insert(at.clone());
        self.refresh.lock().unwrap().insert(rt.clone());
        (at, rt)
    }
    pub fn token_body(&self, at: &str, rt: &str) -> Value {
        json!({"access_token": at, "token_type": "Bearer", "refresh_token": rt,
               "expires_in": *self.expires_in.lock().unwrap(), "scope": "mcp:tools"})
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

pub async fn mcp(State(w): State<Arc<World>>, headers: HeaderMap, body: String) -> Response {
    w.log("POST /mcp");
    let token = bearer(&headers);
    if let Some(t) = &token {
        w.mcp_bearers.lock().unwrap().push(t.clone());
    }
    if let Some(t) = token
        .as_ref()
        .filter(|t| w.access.lock().unwrap().contains(*t))
    {
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if *w.require_admin.lock().unwrap()
            && v.get("method").and_then(Value::as_str) == Some("tools/call")
            && !w.admin_tokens.lock().unwrap().contains(t)
        {
            return (
                StatusCode::FORBIDDEN,
                [(
                    "www-authenticate",
                    "Bearer error=\"insufficient_scope\", scope=\"admin\"",
                )],
            )
                .into_response();
        }
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        let result = match v.get("method").and_then(Value::as_str) {
            Some("initialize") => json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "oauth-upstream", "version": "1"}
            }),
            Some("tools/list") => {
                json!({"ok": true, "tools": [{"name": "echo", "inputSchema": {"type": "object"}}]})
            }
            _ => json!({"ok": true}),
        };
        return axum::Json(json!({"jsonrpc":"2.0","id":id,"result":result})).into_response();
    }
    let base = w.mcp_base.lock().unwrap().clone();
    let challenge = if *w.bare_challenge.lock().unwrap() {
        "Bearer error=\"invalid_token\"".to_owned()
    } else {
        format!(
            "Basic realm=\"x\", Bearer error=\"invalid_token\", resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:tools\""
        )
    };
    (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)]).into_response()
}

pub async fn prm(State(w): State<Arc<World>>, uri: axum::http::Uri) -> Response {
    w.log(uri.path().to_owned());
    let base = w.mcp_base.lock().unwrap().clone();
    let resource = w
        .prm_resource
        .lock()
        .unwrap()
        .clone()
        .unwrap_or(format!("{base}/mcp"));
    let issuer = w
        .prm_as
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| w.issuer.lock().unwrap().clone());
    axum::Json(
        json!({"resource": resource, "authorization_servers": [issuer],
                      "scopes_supported": ["mcp:tools", "mcp:read"]}),
    )
    .into_response()
}

pub async fn not_found(State(w): State<Arc<World>>, uri: axum::http::Uri) -> StatusCode {
    w.log(uri.path().to_owned());
    StatusCode::NOT_FOUND
}

pub async fn redirect_away(State(w): State<Arc<World>>) -> Response {
    w.log("/redirect");
    (StatusCode::FOUND, [("location", "http://10.0.0.1/prm")]).into_response()
}

pub async fn as_metadata(State(w): State<Arc<World>>) -> Response {
    w.log("/.well-known/oauth-authorization-server");
    let issuer = w.issuer.lock().unwrap().clone();
    let mut m = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["mcp:tools", "offline_access"]
    });
    let map = m.as_object_mut().unwrap();
    for (k, v) in w.metadata_patch.lock().unwrap().iter() {
        if v.is_null() {
            map.remove(k);
        } else {
            map.insert(k.clone(), v.clone());
        }
    }
    axum::Json(m).into_response()
}

pub async fn register(
    State(w): State<Arc<World>>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    w.log("/register");
    w.registrations.lock().unwrap().push(body.clone());
    let all_loopback = body["redirect_uris"].as_array().is_some_and(|uris| {
        uris.iter().all(|u| {
            u.as_str()
                .is_some_and(|u| u.starts_with("http://127.0.0.1:"))
        })
    });
    if *w.loopback_redirects_only.lock().unwrap() && !all_loopback {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_redirect_uri"})),
        )
            .into_response();
    }
    let id = format!("dcr-client-{}", w.next());
    let mut answer = json!({"client_id": id, "client_id_issued_at": 0,
                            "redirect_uris": body["redirect_uris"], "token_endpoint_auth_method": "none"});
    let padding = *w.register_padding.lock().unwrap();
    if padding > 0 {
        answer["client_uri"] = json!(format!("https://example.com/{}", "x".repeat(padding)));
    }
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

pub async fn authorize(
    State(w): State<Arc<World>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    w.log("/authorize");
    w.authorize_queries.lock().unwrap().push(q.clone());
    let code = format!("code-{}", w.next());
    w.codes.lock().unwrap().insert(
        code.clone(),
        (
            q["code_challenge"].clone(),
            q["redirect_uri"].clone(),
            q["client_id"].clone(),
            q.get("scope").cloned().unwrap_or_default(),
        ),
    );
    let issuer = w.issuer.lock().unwrap().clone();
    let mut location = url::Url::parse(&q["redirect_uri"]).unwrap();
    {
        let mut pairs = location.query_pairs_mut();
        pairs.append_pair("code", &code);
        pairs.append_pair("state", &q["state"]);
        match *w.iss_mode.lock().unwrap() {
            "missing" => {}
            "wrong" => {
                pairs.append_pair("iss", "https://evil.example");
                pairs.append_pair("error", "access_denied");
                pairs.append_pair("error_description", "<script>alert(1)</script>");
            }
            "denied" => {
                pairs.append_pair("iss", &issuer);
                pairs.append_pair("error", "access_denied");
                pairs.append_pair("error_description", DENIAL_MARKUP);
            }
            _ => {
                pairs.append_pair("iss", &issuer);
            }
        }
    }
    (StatusCode::FOUND, [("location", location.to_string())]).into_response()
}

pub async fn token(
    State(w): State<Arc<World>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    w.log("/token");
    w.token_forms.lock().unwrap().push(f.clone());
    let error =
        |e: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({"error": e}))).into_response();
    let grant = f.get("grant_type").map(String::as_str);
    {
        let client = client_of(&headers, &f);
        if *w.refuse_all_clients.lock().unwrap()
            || w.refused_clients.lock().unwrap().contains(&client)
        {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "invalid_client"})),
            )
                .into_response();
        }
    }
    match grant {
        Some("authorization_code") => {
            let Some((challenge, redirect, client, scope)) = w
                .codes
                .lock()
                .unwrap()
                .remove(f.get("code").map_or("", String::as_str))
            else {
                return error("invalid_grant");
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge
                || f.get("redirect_uri") != Some(&redirect)
                || client_of(&headers, &f) != client
            {
                return error("invalid_grant");
            }
            let (at, rt) = w.issue();
            if scope.split_whitespace().any(|s| s == "admin") {
                w.admin_tokens.lock().unwrap().insert(at.clone());
            }
            let mut body = w.token_body(&at, &rt);
            if !*w.anonymous.lock().unwrap() {
                let claims = w
                    .id_token_claims
                    .lock()
                    .unwrap()
                    .clone()
                    .unwrap_or_else(|| json!({"sub": "1", "email": "ada@example.com"}));
                let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
                body["id_token"] = json!(format!("e30.{claims}.sig"));
            }
            axum::Json(body).into_response()
        }
        Some("refresh_token") => {
            w.refresh_calls.fetch_add(1, Ordering::SeqCst);
            // Widen the race window: concurrent refreshes would all be in flight here.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            if !w.refresh.lock().unwrap().remove(&rt) {
                return error("invalid_grant");
            }
            *w.expires_in.lock().unwrap() = 3600;
            let (at, new_rt) = w.issue();
            axum::Json(w.token_body(&at, &new_rt)).into_response()
        }
        Some("client_credentials") => {
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("m2m:{M2M_SECRET}"))
            );
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "invalid_client"})),
                )
                    .into_response();
            }
            w.refresh_calls.fetch_add(1, Ordering::SeqCst);
            let (at, _) = w.issue();
            axum::Json(json!({"access_token": at, "token_type": "Bearer", "expires_in": 3600}))
                .into_response()
        }
        _ => error("unsupported_grant_type"),
    }
}

/// The client of a token request: HTTP Basic (a confidential client), else the form's client_id.
pub fn client_of(headers: &HeaderMap, form: &HashMap<String, String>) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| pair.split(':').next().map(str::to_owned))
        .or_else(|| form.get("client_id").cloned())
        .unwrap_or_default()
}

pub async fn revoke(
    State(w): State<Arc<World>>,
    Form(f): Form<HashMap<String, String>>,
) -> StatusCode {
    w.log("/revoke");
    let t = f.get("token").cloned().unwrap_or_default();
    if *w.revoke_fails.lock().unwrap() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    w.access.lock().unwrap().remove(&t);
    w.refresh.lock().unwrap().remove(&t);
    w.revoked.lock().unwrap().push(t);
    StatusCode::OK
}

pub async fn userinfo(State(w): State<Arc<World>>, headers: HeaderMap) -> Response {
    w.log("/userinfo");
    if bearer(&headers).is_some_and(|t| w.access.lock().unwrap().contains(&t)) {
        if *w.anonymous.lock().unwrap() {
            return axum::Json(json!({"sub": "1"})).into_response();
        }
        axum::Json(json!({"sub": "1", "email": "ada@example.com"})).into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A 2025-03-26 upstream: the MCP endpoint and its authorization server on one origin, no
/// protected resource metadata, a bare challenge, and (unless `with_metadata`) no RFC 8414 document
/// either, so only the default `/authorize`, `/token` and `/register` are there to find.
pub async fn start_legacy_world(with_metadata: bool) -> Arc<World> {
    let w = Arc::new(World::default());
    *w.iss_mode.lock().unwrap() = "ok";
    *w.expires_in.lock().unwrap() = 3600;
    *w.bare_challenge.lock().unwrap() = true;
    let mut app = Router::new()
        .route("/mcp", post(mcp))
        .route("/register", post(register))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/revoke", post(revoke))
        .route("/userinfo", get(userinfo));
    if with_metadata {
        app = app.route("/.well-known/oauth-authorization-server", get(as_metadata));
    }
    let base = serve(app.fallback(not_found).with_state(w.clone())).await;
    *w.mcp_base.lock().unwrap() = base.clone();
    *w.issuer.lock().unwrap() = base;
    w
}

pub async fn start_world() -> Arc<World> {
    let w = Arc::new(World::default());
    *w.iss_mode.lock().unwrap() = "ok";
    *w.expires_in.lock().unwrap() = 3600;
    let mcp_app = Router::new()
        .route("/mcp", post(mcp))
        .route("/.well-known/oauth-protected-resource/mcp", get(prm))
        .route(
            "/.well-known/oauth-authorization-server/redirect-issuer",
            get(redirect_away),
        )
        .fallback(not_found)
        .with_state(w.clone());
    let as_app = Router::new()
        .route("/.well-known/oauth-authorization-server", get(as_metadata))
        .route("/register", post(register))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/revoke", post(revoke))
        .route("/userinfo", get(userinfo))
        .fallback(not_found)
        .with_state(w.clone());
    *w.mcp_base.lock().unwrap() = serve(mcp_app).await;
    *w.issuer.lock().unwrap() = serve(as_app).await;
    w
}

// ---------------------------------------------------------------- Gatehouse

pub struct Env {
    pub dir: tempfile::TempDir,
    pub gateway: RunningGateway,
    pub vault: Vault,
    pub world: Arc<World>,
    /// The same role-2 state a second process (the CLI) would have.
    pub cli: Arc<UpstreamOAuth>,
    pub http: reqwest::Client,
    pub connection: ConnectionId,
}

impl Env {
    pub async fn new() -> Self {
        Self::in_world(start_world().await).await
    }

    pub async fn in_world(world: Arc<World>) -> Self {
        Self::in_world_with_clock(world, Arc::new(SystemClock)).await
    }

    /// Gatehouse on `clock` (a `ManualClock` moves time without sleeping).
    pub async fn in_world_with_clock(world: Arc<World>, clock: SharedClock) -> Self {
        log_buffer();
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path(), KeyBackend::File, clock).unwrap();
        let url = format!("{}/mcp", world.mcp_base.lock().unwrap());
        let connection = add_oauth_connection(&vault, "up", &url);
        let listener = gateway::bind_loopback(0).await.unwrap();
        let gateway = gateway::start(vault.clone(), listener, 30, std::future::pending())
            .await
            .unwrap();
        Self {
            cli: UpstreamOAuth::new(&vault),
            dir,
            gateway,
            vault,
            world,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            connection,
        }
    }

    pub fn redirect_uri(&self) -> String {
        format!("{}/oauth/callback", self.gateway.base_url())
    }

    /// Starts a sign-in (as the CLI would) and follows the AS's redirect to the authorization
    /// endpoint; returns the callback URL the browser would be sent to.
    pub async fn authorize(&self) -> String {
        self.authorize_connection(&self.connection).await
    }

    /// [`Env::authorize`] for any connection.
    pub async fn authorize_connection(&self, id: &ConnectionId) -> String {
        self.authorize_via(&self.cli, id).await
    }

    /// [`Env::authorize`] for any connection, started by `oauth` (the gateway's own, say).
    pub async fn authorize_via(&self, oauth: &UpstreamOAuth, id: &ConnectionId) -> String {
        let start = oauth
            .start_signin(id, &self.redirect_uri())
            .await
            .unwrap_or_else(|e| panic!("start_signin: {e}"));
        let r = self
            .http
            .get(&start.authorization_url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "the AS auto-approves");
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    /// The browser reaching the gateway's loopback callback.
    pub async fn deliver(&self, callback: &str) -> (StatusCode, String) {
        let r = self.http.get(callback).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }

    pub async fn sign_in(&self) {
        let callback = self.authorize().await;
        let (status, page) = self.deliver(&callback).await;
        assert_eq!(status, 200, "the callback completes the sign-in: {page}");
        assert!(page.contains("Signed in to Upstream up"), "{page}");
    }

    pub fn row(&self) -> connections::ConnectionRow {
        let id = self.connection.clone();
        self.vault
            .store()
            .read_blocking(move |c| connections::get(c, &id))
            .unwrap()
            .unwrap()
    }

    pub fn local_token(&self) -> String {
        let store = self.vault.store();
        let client = ClientId::generate();
        store.upsert_client(&registration(&client)).unwrap();
        let id = GrantId::new();
        let new = NewGrant {
            id: id.clone(),
            client_id: client.clone(),
            connection_id: self.connection.clone(),
            redirect_uri: "http://127.0.0.1/callback".into(),
            scopes: "mcp:access".into(),
            tools: None,
        };
        let now = store.now();
        store
            .write_blocking(|tx| grants::create_pending(tx, &new, now))
            .unwrap();
        store.activate_grant(&id).unwrap();
        let token = gatehouse_core::crypto::token::generate(TokenKind::AccessToken)
            .expose_secret()
            .to_owned();
        let new = NewAccessToken {
            token_hash: *TokenHash::of(&token).as_bytes(),
            grant_id: id,
            client_id: client,
            resource: format!("{}/mcp/up", self.gateway.base_url()),
            scopes: "mcp:access".into(),
            expires_at: store.now() + 3_600_000,
        };
        store
            .write_blocking(|tx| access_tokens::insert(tx, &new, now))
            .unwrap();
        token
    }

    pub async fn call(&self, local: &str) -> Value {
        self.http
            .post(format!("{}/mcp/up", self.gateway.base_url()))
            .bearer_auth(local)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(json!({"jsonrpc":"2.0","id":7,"method":"tools/list"}).to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn expire_access_token(&self) {
        let id = self.connection.clone();
        let now = self.vault.store().now();
        self.vault
            .store()
            .write_blocking(move |tx| {
                let mut c = upstream_credentials::get(tx, &id)?.unwrap();
                c.expires_at = Some(now - 1000);
                upstream_credentials::put(tx, &c, now)
            })
            .unwrap();
    }
}

pub fn add_oauth_connection(vault: &Vault, slug: &str, url: &str) -> ConnectionId {
    let id = ConnectionId::new();
    let new = NewConnection {
        id: id.clone(),
        slug: slug.into(),
        name: format!("Upstream {slug}"),
        settings: ConnectionSettings {
            upstream_url: url.into(),
            transport: Transport::StreamableHttp,
            auth_kind: AuthKind::OAuth,
            header_name: None,
            header_value_sealed: None,
            oauth: OAuthSettings {
                source: Some(OAuthSource::Discovered),
                ..OAuthSettings::default()
            },
            stdio: None,
        },
        enabled: true,
        status: ConnectionStatus::NeedsAuth,
    };
    let now = vault.store().now();
    vault
        .store()
        .write_blocking(|tx| connections::insert(tx, &new, now))
        .unwrap();
    id
}

pub fn registration(id: &ClientId) -> ClientRegistration {
    ClientRegistration {
        client_id: id.clone(),
        client_name: Some("Test Client".into()),
        client_uri: None,
        software_id: None,
        software_version: None,
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        scope: Some("mcp:access".into()),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: "none".into(),
        application_type: Some("native".into()),
        registration_source: RegistrationSource::Dcr,
        metadata: json!({"client_name": "Test Client"}),
    }
}

// ---------------------------------------------------------------- the CLI's browser

/// A `$BROWSER` that writes the URL it is given to `seen` and opens nothing.
pub fn recording_browser(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let seen = dir.join("browser-saw");
    let script = dir.join("browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", seen.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (script, seen)
}

pub async fn opened(seen: &std::path::Path) -> String {
    for _ in 0..100 {
        if let Ok(s) = std::fs::read_to_string(seen)
            && !s.is_empty()
        {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser was never given the authorization URL");
}

// ---------------------------------------------------------------- the person's browser

/// What a browser does with Gatehouse's `GET /authorize`: loads it, keeps the consent cookie, and
/// follows the refresh to the review (the consent page). Returns the review's status and page and
/// the `Cookie` header value the decision must carry.
pub async fn open_consent(
    http: &reqwest::Client,
    base: &str,
    query: &[(&str, &str)],
) -> (u16, String, String) {
    let r = http
        .get(format!("{base}/authorize"))
        .query(query)
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ");
    let loading = r.text().await.unwrap();
    let marker = "http-equiv=\"refresh\" content=\"0; url=";
    let Some(start) = loading.find(marker).map(|i| i + marker.len()) else {
        return (200, loading, cookie);
    };
    let path = loading[start..].split('"').next().unwrap_or_default();
    let r = http
        .get(format!("{base}{path}"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap(), cookie)
}
