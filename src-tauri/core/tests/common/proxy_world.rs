//! The proxy's world, shared by the `proxy_*` tests: a dual-era MCP-like upstream (axum on
//! 127.0.0.1:0, `server/discover` for modern clients, `initialize` for legacy ones) that records
//! every request it gets, and [`Env`]: Gatehouse as the real gateway on a real socket in front of
//! it, with connection `a` carrying a header credential ([`SECRET`]), one registered client, and
//! helpers that grant tokens and make requests.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use futures_util::StreamExt;
use gatehouse_core::clock::SystemClock;
use gatehouse_core::crypto::{Aad, KeyBackend, TokenHash, TokenKind};
use gatehouse_core::gateway::{self, RunningGateway};
use gatehouse_core::store::access_tokens::{self, NewAccessToken};
use gatehouse_core::store::clients::{ClientRegistration, RegistrationSource};
use gatehouse_core::store::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings, Transport,
};
use gatehouse_core::store::grants::{self, NewGrant};
use gatehouse_core::store::{ClientId, ConnectionId, GrantId};
use gatehouse_core::vault::Vault;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

pub const SECRET: &str = "upstream-api-key-7f3a";
pub const UPSTREAM_SESSION: &str = "up-session-1";
pub const ACCEPT_BOTH: &str = "application/json, text/event-stream";

// ---------------------------------------------------------------- the upstream

#[derive(Default)]
pub struct Seen {
    pub requests: Mutex<Vec<(String, HeaderMap, Value)>>,
    /// The POST bodies as they arrived, byte for byte.
    pub raw_bodies: Mutex<Vec<Bytes>>,
    pub elsewhere_hits: Mutex<usize>,
    /// How many `slow/sse` answers the upstream finished sending.
    pub slow_finished: Mutex<usize>,
}

pub fn tools() -> Value {
    json!([
        {"name": "echo", "title": "Echo", "description": "says it back", "inputSchema": {"type": "object"}},
        {"name": "delete_everything", "description": "dangerous", "inputSchema": {"type": "object"}},
        {"name": "search", "inputSchema": {"type": "object"}}
    ])
}

pub fn sse(events: &[String]) -> Response {
    let body: String = events.concat();
    ([("content-type", "text/event-stream")], Body::from(body)).into_response()
}

/// A call Gatehouse makes on its own: the era probe (`server/discover`, a legacy `initialize` and
/// the DELETE that ends its session), the `tools/list` that reads `x-mcp-header` annotations.
pub fn is_gatehouse_own_call(method: &str, headers: &HeaderMap, body: &Value) -> bool {
    body.get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id.starts_with("gatehouse-"))
        || (method == "DELETE"
            && headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) == Some(PROBE_SESSION))
}

/// The session the upstream gives Gatehouse's era probe.
pub const PROBE_SESSION: &str = "up-session-probe";

/// A dual-era upstream (MCP 2026-07-28 basic/versioning §Backward Compatibility), like the
/// TypeScript SDK v2's default: `server/discover` for modern clients, `initialize` for legacy ones.
pub async fn upstream_post(
    State(seen): State<Arc<Seen>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.raw_bodies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(body);
    seen.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(("POST".into(), headers.clone(), value.clone()));
    let session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok());
    if session.is_some_and(|s| s != UPSTREAM_SESSION && s != PROBE_SESSION) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Value::Array(batch) = &value {
        // A 2025-03-26 batch: one response per request, in a JSON array.
        let answers: Vec<Value> = batch
            .iter()
            .filter(|m| m.get("id").is_some())
            .map(|m| {
                let result = match m["method"].as_str() {
                    Some("tools/list") => json!({"tools": tools()}),
                    _ => json!({"content": [{"type": "text", "text": m["params"]["arguments"]["text"]}]}),
                };
                json!({"jsonrpc": "2.0", "id": m["id"], "result": result})
            })
            .collect();
        return axum::Json(Value::Array(answers)).into_response();
    }
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let method = value.get("method").and_then(Value::as_str).unwrap_or("");
    let sse_wanted = id.as_str().is_some_and(|s| s.starts_with("sse"));
    let reply = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result});
    let probe = id
        .as_str()
        .is_some_and(|s| s.starts_with("gatehouse-era-probe"));
    match method {
        "server/discover" => axum::Json(reply(json!({
            "resultType": "complete",
            "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}},
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "fake-upstream", "version": "1"}}
        })))
        .into_response(),
        "initialize" => (
            [
                ("mcp-session-id", if probe { PROBE_SESSION } else { UPSTREAM_SESSION }),
                ("content-type", "application/json"),
                ("set-cookie", "upstream=1"),
            ],
            reply(json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "fake-upstream", "version": "1"}
            }))
            .to_string(),
        )
            .into_response(),
        m if m.starts_with("notifications/") => StatusCode::ACCEPTED.into_response(),
        "tools/list" if sse_wanted => sse(&[
            ": priming\n\n".into(),
            format!(
                "event: message\ndata: {}\n\n",
                json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"listing"}})
            ),
            format!(
                "id: 1\nevent: message\ndata: {}\n\n",
                reply(json!({"tools": tools()}))
            ),
        ]),
        "tools/list" => axum::Json(reply(json!({"tools": tools()}))).into_response(),
        "tools/call" => {
            let text = value["params"]["arguments"]["text"].clone();
            let result = reply(json!({"content": [{"type": "text", "text": text}]}));
            if sse_wanted {
                sse(&[format!("event: message\ndata: {result}\n\n")])
            } else {
                axum::Json(result).into_response()
            }
        }
        "fail/401-oauth" => (
            StatusCode::UNAUTHORIZED,
            [(
                "www-authenticate",
                "Bearer resource_metadata=\"https://up.example/.well-known/oauth-protected-resource/mcp\"",
            )],
        )
            .into_response(),
        "fail/401" => (
            StatusCode::UNAUTHORIZED,
            [
                ("www-authenticate", "Bearer error=\"invalid_token\""),
                ("set-cookie", "x=y"),
            ],
        )
            .into_response(),
        "slow/sse" => {
            // One event now, the final response 300 ms later; counts the answers sent to the end.
            let first = format!(
                "event: message\ndata: {}\n\n",
                json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}})
            );
            let last = format!("event: message\ndata: {}\n\n", reply(json!({"done": true})));
            let chunks = futures_util::stream::unfold(0u8, move |step| {
                let (first, last, seen) = (first.clone(), last.clone(), seen.clone());
                async move {
                    match step {
                        0 => Some((Ok::<_, Infallible>(Bytes::from(first)), 1)),
                        1 => {
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            *seen.slow_finished.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                            Some((Ok(Bytes::from(last)), 2))
                        }
                        _ => None,
                    }
                }
            });
            (
                [("content-type", "text/event-stream")],
                Body::from_stream(chunks),
            )
                .into_response()
        }
        "fail/403" => StatusCode::FORBIDDEN.into_response(),
        "fail/500" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "fail/redirect" => {
            (StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")]).into_response()
        }
        _ => axum::Json(
            json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"Method not found"}}),
        )
        .into_response(),
    }
}

pub async fn upstream_get(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> Response {
    seen.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(("GET".into(), headers, Value::Null));
    let first = futures_util::stream::once(async {
        Ok::<_, Infallible>(Bytes::from_static(b"id: 0\ndata: \n\n"))
    });
    // Then nothing, forever: a stream only the proxy can end.
    let stream = first.chain(futures_util::stream::pending());
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

pub async fn upstream_delete(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> StatusCode {
    seen.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(("DELETE".into(), headers, Value::Null));
    StatusCode::NO_CONTENT
}

pub async fn elsewhere(State(seen): State<Arc<Seen>>) -> StatusCode {
    *seen
        .elsewhere_hits
        .lock()
        .unwrap_or_else(|e| e.into_inner()) += 1;
    StatusCode::OK
}

pub async fn start_upstream() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route(
            "/mcp",
            post(upstream_post)
                .get(upstream_get)
                .delete(upstream_delete),
        )
        .route("/elsewhere", any(elsewhere))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind upstream: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("upstream addr: {e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/mcp"), seen)
}

// ---------------------------------------------------------------- Gatehouse

pub struct Env {
    pub _dir: tempfile::TempDir,
    pub gateway: RunningGateway,
    pub vault: Vault,
    pub seen: Arc<Seen>,
    pub http: reqwest::Client,
    pub connection: ConnectionId,
    pub client: ClientId,
}

impl Env {
    pub async fn new() -> Self {
        let (upstream_url, seen) = start_upstream().await;
        Self::with_upstream(&upstream_url, seen).await
    }

    pub async fn with_upstream(upstream_url: &str, seen: Arc<Seen>) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let vault = Vault::open(dir.path(), KeyBackend::File, Arc::new(SystemClock))
            .unwrap_or_else(|e| panic!("vault: {e}"));
        let listener = gateway::bind_loopback(0)
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let connection = add_connection(&vault, "a", upstream_url);
        let client = ClientId::generate();
        vault
            .store()
            .upsert_client(&registration(&client))
            .unwrap_or_else(|e| panic!("client: {e}"));
        let gateway = gateway::start(vault.clone(), listener, 30, std::future::pending())
            .await
            .unwrap_or_else(|e| panic!("start: {e}"));
        Self {
            _dir: dir,
            gateway,
            vault,
            seen,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|e| panic!("client: {e}")),
            connection,
            client,
        }
    }

    pub fn url(&self, slug: &str) -> String {
        format!("{}/mcp/{slug}", self.gateway.base_url())
    }

    /// An active grant on `connection` with `tools`, and an access token for it.
    pub fn grant(
        &self,
        connection: &ConnectionId,
        slug: &str,
        tools: Option<&[&str]>,
        scopes: &str,
    ) -> (GrantId, String) {
        let store = self.vault.store();
        let id = GrantId::new();
        let new = NewGrant {
            id: id.clone(),
            client_id: self.client.clone(),
            connection_id: connection.clone(),
            redirect_uri: format!("http://127.0.0.1/callback/{}", id.as_str()),
            scopes: scopes.into(),
            tools: tools.map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
        };
        let now = store.now();
        store
            .write_blocking(|tx| grants::create_pending(tx, &new, now))
            .unwrap_or_else(|e| panic!("grant: {e}"));
        store
            .activate_grant(&id)
            .unwrap_or_else(|e| panic!("activate: {e}"));
        let token = self.token(&id, slug, scopes, 3_600_000);
        (id, token)
    }

    pub fn token(&self, grant: &GrantId, slug: &str, scopes: &str, ttl: i64) -> String {
        let store = self.vault.store();
        let token = gatehouse_core::crypto::token::generate(TokenKind::AccessToken)
            .expose_secret()
            .to_owned();
        let new = NewAccessToken {
            token_hash: *TokenHash::of(&token).as_bytes(),
            grant_id: grant.clone(),
            client_id: self.client.clone(),
            resource: self.url(slug),
            scopes: scopes.into(),
            expires_at: store.now() + ttl,
        };
        let now = store.now();
        store
            .write_blocking(|tx| access_tokens::insert(tx, &new, now))
            .unwrap_or_else(|e| panic!("token: {e}"));
        token
    }

    pub fn all_tools_token(&self) -> (GrantId, String) {
        self.grant(&self.connection.clone(), "a", None, "mcp:access")
    }

    pub fn post(&self, slug: &str, token: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .post(self.url(slug))
            .header("accept", ACCEPT_BOTH)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    }

    /// initialize; returns the local session id.
    pub async fn initialize(&self, token: &str) -> String {
        let r = self
            .post("a", Some(token), &init())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 200, "initialize goes through");
        let sid = header(&r, "mcp-session-id").unwrap_or_else(|| panic!("no session id"));
        assert!(
            r.headers().get("set-cookie").is_none(),
            "upstream cookies never reach the client"
        );
        sid
    }

    /// What the upstream got for the clients: Gatehouse's own calls (the era probe's
    /// `server/discover` and legacy `initialize`, the `tools/list` that reads `x-mcp-header`
    /// annotations; once per connection, ids `gatehouse-…`) left out.
    pub fn upstream_requests(&self) -> Vec<(String, HeaderMap, Value)> {
        self.seen
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(method, headers, body)| !is_gatehouse_own_call(method, headers, body))
            .cloned()
            .collect()
    }
}

pub fn add_connection(vault: &Vault, slug: &str, url: &str) -> ConnectionId {
    let id = ConnectionId::new();
    let sealed = vault.cipher().seal_str(
        SECRET,
        &Aad {
            table: "connections",
            column: "header_value_sealed",
            row_id: id.as_str(),
        },
    );
    let new = NewConnection {
        id: id.clone(),
        slug: slug.into(),
        name: format!("Connection {slug}"),
        settings: ConnectionSettings {
            upstream_url: url.into(),
            transport: Transport::StreamableHttp,
            auth_kind: AuthKind::Header,
            header_name: Some("X-Api-Key".into()),
            header_value_sealed: Some(sealed),
            oauth: OAuthSettings::default(),
            stdio: None,
        },
        enabled: true,
        status: ConnectionStatus::Connected,
    };
    let store = vault.store();
    let now = store.now();
    store
        .write_blocking(|tx| connections::insert(tx, &new, now))
        .unwrap_or_else(|e| panic!("connection: {e}"));
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

pub fn init() -> Value {
    json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})
}

pub fn call(id: &Value, tool: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"text":"hi"}}})
}

pub fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.unwrap_or_else(|e| panic!("json body: {e}"))
}
