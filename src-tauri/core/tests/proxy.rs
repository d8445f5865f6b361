//! The proxy on `/mcp/<slug>` through the real gateway on a real socket, in front of a real (axum)
//! MCP-like upstream on 127.0.0.1:0 that records every request it gets.
//!
//! Covers the protected resource (the 401 challenge, RFC 6750 §3.1 and RFC 9728 §5.1; tokens only
//! in the header; expired, revoked, forged and wrong-audience tokens, RFC 8707; 403
//! `insufficient_scope`; no token passthrough; a session id is not authentication) and the
//! transport of both eras (Origin, Accept and Content-Type, notifications, sessions, protocol
//! versions, batches, the GET stream, the modern header checks) as they apply to a proxy, plus
//! revocation (next request and open streams), tool filtering (JSON and SSE), tools/call refusal,
//! upstream down, and redirects not followed.

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
use gatehouse_core::proxy;
use gatehouse_core::store::access_tokens::{self, NewAccessToken};
use gatehouse_core::store::clients::{ClientRegistration, RegistrationSource};
use gatehouse_core::store::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings, Transport,
};
use gatehouse_core::store::grants::{self, NewGrant};
use gatehouse_core::store::{ClientId, ConnectionId, GrantId, RevocationReason};
use gatehouse_core::vault::Vault;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const SECRET: &str = "upstream-api-key-7f3a";
const UPSTREAM_SESSION: &str = "up-session-1";
const ACCEPT_BOTH: &str = "application/json, text/event-stream";

// ---------------------------------------------------------------- the upstream

#[derive(Default)]
struct Seen {
    requests: Mutex<Vec<(String, HeaderMap, Value)>>,
    /// The POST bodies as they arrived, byte for byte.
    raw_bodies: Mutex<Vec<Bytes>>,
    elsewhere_hits: Mutex<usize>,
    /// How many `slow/sse` answers the upstream finished sending.
    slow_finished: Mutex<usize>,
}

fn tools() -> Value {
    json!([
        {"name": "echo", "title": "Echo", "description": "says it back", "inputSchema": {"type": "object"}},
        {"name": "delete_everything", "description": "dangerous", "inputSchema": {"type": "object"}},
        {"name": "search", "inputSchema": {"type": "object"}}
    ])
}

fn sse(events: &[String]) -> Response {
    let body: String = events.concat();
    ([("content-type", "text/event-stream")], Body::from(body)).into_response()
}

/// A call Gatehouse makes on its own: the era probe (`server/discover`, a legacy `initialize` and
/// the DELETE that ends its session), the `tools/list` that reads `x-mcp-header` annotations.
fn is_gatehouse_own_call(method: &str, headers: &HeaderMap, body: &Value) -> bool {
    body.get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id.starts_with("gatehouse-"))
        || (method == "DELETE"
            && headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) == Some(PROBE_SESSION))
}

/// The session the upstream gives Gatehouse's era probe.
const PROBE_SESSION: &str = "up-session-probe";

/// A dual-era upstream (MCP 2026-07-28 basic/versioning §Backward Compatibility), like the
/// TypeScript SDK v2's default: `server/discover` for modern clients, `initialize` for legacy ones.
async fn upstream_post(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: Bytes) -> Response {
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

async fn upstream_get(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> Response {
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

async fn upstream_delete(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> StatusCode {
    seen.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(("DELETE".into(), headers, Value::Null));
    StatusCode::NO_CONTENT
}

async fn elsewhere(State(seen): State<Arc<Seen>>) -> StatusCode {
    *seen
        .elsewhere_hits
        .lock()
        .unwrap_or_else(|e| e.into_inner()) += 1;
    StatusCode::OK
}

async fn start_upstream() -> (String, Arc<Seen>) {
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

struct Env {
    _dir: tempfile::TempDir,
    gateway: RunningGateway,
    vault: Vault,
    seen: Arc<Seen>,
    http: reqwest::Client,
    connection: ConnectionId,
    client: ClientId,
}

impl Env {
    async fn new() -> Self {
        let (upstream_url, seen) = start_upstream().await;
        Self::with_upstream(&upstream_url, seen).await
    }

    async fn with_upstream(upstream_url: &str, seen: Arc<Seen>) -> Self {
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

    fn url(&self, slug: &str) -> String {
        format!("{}/mcp/{slug}", self.gateway.base_url())
    }

    /// An active grant on `connection` with `tools`, and an access token for it.
    fn grant(
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

    fn token(&self, grant: &GrantId, slug: &str, scopes: &str, ttl: i64) -> String {
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

    fn all_tools_token(&self) -> (GrantId, String) {
        self.grant(&self.connection.clone(), "a", None, "mcp:access")
    }

    fn post(&self, slug: &str, token: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
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
    async fn initialize(&self, token: &str) -> String {
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
    fn upstream_requests(&self) -> Vec<(String, HeaderMap, Value)> {
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

fn add_connection(vault: &Vault, slug: &str, url: &str) -> ConnectionId {
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

fn registration(id: &ClientId) -> ClientRegistration {
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

fn init() -> Value {
    json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})
}

fn call(id: &Value, tool: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"text":"hi"}}})
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.unwrap_or_else(|e| panic!("json body: {e}"))
}

// ---------------------------------------------------------------- the protected resource

#[tokio::test]
async fn missing_or_bad_credentials_get_the_challenge() {
    let env = Env::new().await;
    let prm = format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp/a\"",
        env.gateway.base_url()
    );

    // No Authorization → 401 without an error code (RFC 6750 §3.1).
    let r = env
        .post("a", None, &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "no token");
    let challenge = header(&r, "www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains(&prm),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"mcp:access\""), "{challenge}");
    assert!(
        !challenge.contains("error="),
        "no error code without a token: {challenge}"
    );

    // Basic, empty Bearer.
    for auth in ["Basic dXNlcjpwYXNz", "Bearer ", "Bearer not-a-token"] {
        let r = env
            .http
            .post(env.url("a"))
            .header("authorization", auth)
            .header("accept", ACCEPT_BOTH)
            .header("content-type", "application/json")
            .body(init().to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 401, "{auth:?} must be refused");
        let challenge = header(&r, "www-authenticate").unwrap_or_default();
        assert!(challenge.contains(&prm), "{auth:?}: {challenge}");
        assert!(
            challenge.matches("error=").count() <= 1,
            "parameters appear once: {challenge}"
        );
    }

    // A valid token in the query is never accepted (OAuth 2.1 §5.1 dropped the query form).
    let (_, token) = env.all_tools_token();
    let r = env
        .http
        .post(format!("{}?access_token={token}", env.url("a")))
        .header("accept", ACCEPT_BOTH)
        .header("content-type", "application/json")
        .body(init().to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "query tokens are ignored");

    // A forged token with the right shape.
    let forged = gatehouse_core::crypto::token::generate(TokenKind::AccessToken)
        .expose_secret()
        .to_owned();
    let r = env
        .post("a", Some(&forged), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "unknown token");
    assert!(
        header(&r, "www-authenticate")
            .unwrap_or_default()
            .contains("error=\"invalid_token\""),
        "a sent token that fails is invalid_token"
    );

    // Unknown slug: 404, there is no PRM to point at.
    let r = env
        .post("nope", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404, "unknown slug");
    assert!(
        env.upstream_requests().is_empty(),
        "nothing refused may reach the upstream"
    );
}

#[tokio::test]
async fn expired_revoked_foreign_and_underscoped_tokens_are_refused() {
    let env = Env::new().await;
    let (grant, token) = env.all_tools_token();

    // Expired.
    let expired = env.token(&grant, "a", "mcp:access", -1);
    let r = env
        .post("a", Some(&expired), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "expired");
    assert!(
        header(&r, "www-authenticate")
            .unwrap_or_default()
            .contains("invalid_token")
    );

    // The token revoked (RFC 7009).
    let revoked = env.token(&grant, "a", "mcp:access", 3_600_000);
    let hash = *TokenHash::of(&revoked).as_bytes();
    let store = env.vault.store();
    let now = store.now();
    store
        .write_blocking(|tx| access_tokens::revoke(tx, &hash, now))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = env
        .post("a", Some(&revoked), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "a revoked token stops at once");

    // Wrong audience (RFC 8707): a token for /mcp/b on /mcp/a and the other way round.
    let b = add_connection(&env.vault, "b", "http://127.0.0.1:9/mcp");
    let (_, token_b) = env.grant(&b, "b", None, "mcp:access");
    let r = env
        .post("a", Some(&token_b), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "b's token on a");
    assert!(
        header(&r, "www-authenticate")
            .unwrap_or_default()
            .contains("invalid_token")
    );
    let r = env
        .post("b", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "a's token on b");
    assert!(
        header(&r, "www-authenticate")
            .unwrap_or_default()
            .contains("/mcp/b\""),
        "the challenge names the slug that was called"
    );

    // A valid token without mcp:access → 403 insufficient_scope (RFC 6750 §3.1).
    let (_, weak) = env.grant(&env.connection.clone(), "a", None, "offline_access");
    let r = env
        .post("a", Some(&weak), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 403, "insufficient scope");
    let challenge = header(&r, "www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"mcp:access\"")
            && challenge.contains("resource_metadata="),
        "{challenge}"
    );

    // The good token works; after the grant is revoked the very next request is 401.
    let r = env
        .post("a", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "the valid token passes");
    store
        .revoke_grants(
            std::slice::from_ref(&grant),
            RevocationReason::RefreshTokenReuse,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let r = env
        .post("a", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.status(),
        401,
        "revoked grant: the next request is refused"
    );
}

#[tokio::test]
async fn no_passthrough_credential_injected_sessions_translated() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();
    let sid = env.initialize(&token).await;
    // The session id: visible ASCII, ≥ 128 random bits, never the upstream's (MCP 2025-11-25
    // transports §Session Management).
    assert_ne!(
        sid, UPSTREAM_SESSION,
        "the upstream's session id never reaches the client"
    );
    assert!(
        sid.len() >= 32 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "{sid}"
    );

    let r = env
        .post("a", Some(&token), &call(&json!(1), "echo"))
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-06-18")
        .header("cookie", "session=local-cookie")
        .header("x-forwarded-for", "10.0.0.1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    assert_ne!(
        header(&r, "mcp-session-id").as_deref(),
        Some(UPSTREAM_SESSION),
        "the upstream's id never reaches the client"
    );
    let body = json_of(r).await;
    assert_eq!(body["result"]["content"][0]["text"], "hi", "{body}");

    // No token passthrough: what reached the upstream.
    let seen = env.upstream_requests();
    assert_eq!(seen.len(), 2, "initialize and the call");
    for (_, headers, _) in &seen {
        assert_eq!(
            headers.get("x-api-key").and_then(|v| v.to_str().ok()),
            Some(SECRET),
            "the connection's credential is injected"
        );
        assert!(
            headers.get("authorization").is_none(),
            "no token passthrough"
        );
        assert!(headers.get("cookie").is_none(), "no cookies");
        assert!(
            headers.get("x-forwarded-for").is_none(),
            "only allow-listed headers"
        );
        assert!(
            headers
                .values()
                .all(|v| !v.to_str().unwrap_or("").contains(&token)),
            "the Gatehouse token appears nowhere upstream"
        );
    }
    assert!(
        seen[0].1.get("mcp-session-id").is_none(),
        "initialize has no session"
    );
    assert_eq!(
        seen[1]
            .1
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok()),
        Some(UPSTREAM_SESSION),
        "the local id is translated to the upstream's"
    );
    assert_eq!(
        seen[1]
            .1
            .get("mcp-protocol-version")
            .and_then(|v| v.to_str().ok()),
        Some("2025-06-18"),
        "MCP headers pass"
    );
}

#[tokio::test]
async fn sessions_are_bound_to_their_grant() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();
    let (_, other) = env.all_tools_token();
    let sid = env.initialize(&token).await;

    // A session id is not authentication: without a token → 401; with another grant's token → 404.
    let r = env
        .post("a", None, &call(&json!(1), "echo"))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "a session id is not authentication");
    let r = env
        .post("a", Some(&other), &call(&json!(1), "echo"))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404, "another client cannot ride the session");

    // Unknown id → 404.
    let r = env
        .post("a", Some(&token), &call(&json!(1), "echo"))
        .header("mcp-session-id", "gh_sid_made-up")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404, "unknown session");

    // DELETE → upstream DELETE, 204; then 404.
    let r = env
        .http
        .delete(env.url("a"))
        .bearer_auth(&token)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 204, "the session is ended");
    let deletes: Vec<_> = env
        .upstream_requests()
        .into_iter()
        .filter(|(m, _, _)| m == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "DELETE is forwarded");
    assert_eq!(
        deletes[0]
            .1
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok()),
        Some(UPSTREAM_SESSION)
    );
    let r = env
        .post("a", Some(&token), &call(&json!(1), "echo"))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404, "a deleted session is gone");
}

#[tokio::test]
async fn transport_rules() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();

    // Origin: a foreign one is refused, none passes.
    let r = env
        .post("a", Some(&token), &init())
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 403, "foreign Origin");
    let r = env
        .post("a", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "no Origin is fine");

    // Accept and Content-Type.
    let r = env
        .http
        .post(env.url("a"))
        .bearer_auth(&token)
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .body(init().to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 406, "Accept without SSE");
    let r = env
        .http
        .post(env.url("a"))
        .bearer_auth(&token)
        .header("accept", ACCEPT_BOTH)
        .header("content-type", "text/plain")
        .body(init().to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 415, "text/plain body");

    // A notification → 202, empty.
    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 202, "notification");
    assert!(
        r.bytes().await.unwrap_or_default().is_empty(),
        "202 has no body"
    );

    // Unknown protocol version → 400.
    let r = env
        .post("a", Some(&token), &call(&json!(1), "echo"))
        .header("mcp-protocol-version", "1999-01-01")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400, "unsupported MCP-Protocol-Version");

    // A batch → 400 (JSON-RPC batching was removed in 2025-06-18).
    let r = env
        .post(
            "a",
            Some(&token),
            &json!([call(&json!(1), "echo"), call(&json!(2), "echo")]),
        )
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400, "batches are refused");

    // GET without text/event-stream.
    let r = env
        .http
        .get(env.url("a"))
        .bearer_auth(&token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 406, "GET must accept SSE");

    // Oversized body → 413.
    let big = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x".repeat(5 * 1024 * 1024)}}});
    let r = env
        .post("a", Some(&token), &big)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 413, "body cap");

    // A modern request with a stale session id and Last-Event-ID: both ignored, no session.
    let modern = json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{
        "name":"echo","arguments":{"text":"hi"},
        "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}});
    let before = env.upstream_requests().len();
    let r = env
        .post("a", Some(&token), &modern)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .header("mcp-session-id", "gh_sid_stale")
        .header("last-event-id", "41")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "modern requests ignore stale session ids");
    assert!(
        header(&r, "mcp-session-id").is_none(),
        "never minted for modern requests"
    );
    let seen = env.upstream_requests();
    let last = &seen[before].1;
    assert!(last.get("mcp-session-id").is_none() && last.get("last-event-id").is_none());
    assert_eq!(
        last.get("mcp-name").and_then(|v| v.to_str().ok()),
        Some("echo"),
        "2026-07-28 headers pass"
    );
}

#[tokio::test]
async fn modern_requests_whose_headers_disagree_are_refused_before_the_upstream() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();
    let modern = |version: &str| {
        json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{
            "name":"echo","arguments":{"text":"hi"},
            "_meta":{"io.modelcontextprotocol/protocolVersion": version}}})
    };
    let before = env.upstream_requests().len();

    // MCP-Protocol-Version differs from _meta.
    let r = env
        .post("a", Some(&token), &modern("2026-07-28"))
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400, "a version mismatch is a bad request");
    assert_eq!(json_of(r).await["error"]["code"], -32020, "HeaderMismatch");

    // Mcp-Name differs from params.name.
    let r = env
        .post("a", Some(&token), &modern("2026-07-28"))
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "get-env")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400, "a name mismatch is a bad request");
    let body = json_of(r).await;
    assert_eq!(body["error"]["code"], -32020, "HeaderMismatch: {body}");
    assert_eq!(body["id"], 9, "the error answers the request's id: {body}");

    // A version Gatehouse does not speak.
    let r = env
        .post("a", Some(&token), &modern("2099-01-01"))
        .header("mcp-protocol-version", "2099-01-01")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400, "an unsupported version is a bad request");
    let body = json_of(r).await;
    assert_eq!(
        body["error"]["code"], -32022,
        "UnsupportedProtocolVersion: {body}"
    );
    assert_eq!(
        body["error"]["data"]["supported"],
        json!(["2026-07-28"]),
        "the versions Gatehouse speaks: {body}"
    );

    assert_eq!(
        env.upstream_requests().len(),
        before,
        "refused modern requests never reach the upstream (a mismatched Mcp-Name could smuggle a disallowed tool)"
    );
}

/// `Mcp-Method` and `Mcp-Name` pass upstream in every era, so a legacy request that sends them is held to
/// the 2026-07-28 rule (MCP 2026-07-28 Streamable HTTP §Server Validation): they must name the body's method
/// and tool, or a header-routing upstream would run a tool the allow-list never checked.
#[tokio::test]
async fn legacy_requests_that_send_routing_headers_must_match_the_body() {
    let env = Env::new().await;
    let (_, token) = env.grant(&env.connection.clone(), "a", Some(&["echo"]), "mcp:access");
    let before = env.upstream_requests().len();
    for (name, value) in [
        ("mcp-name", "delete_everything"),
        ("mcp-method", "tools/list"),
    ] {
        let r = env
            .post("a", Some(&token), &call(&json!(4), "echo"))
            .header("mcp-protocol-version", "2025-06-18")
            .header(name, value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 400, "{name}: {value} disagrees with the body");
        let body = json_of(r).await;
        assert_eq!(body["error"]["code"], -32020, "HeaderMismatch: {body}");
        assert_eq!(body["id"], 4, "the error answers the request's id: {body}");
    }
    assert_eq!(
        env.upstream_requests().len(),
        before,
        "a mismatched legacy request never reaches the upstream"
    );

    let r = env
        .post("a", Some(&token), &call(&json!(5), "echo"))
        .header("mcp-protocol-version", "2025-06-18")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "matching headers pass");
    let r = env
        .post("a", Some(&token), &call(&json!(6), "echo"))
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "and are optional before 2026-07-28");
    assert_eq!(
        env.upstream_requests().len(),
        before + 2,
        "both reached the upstream"
    );
}

// ---------------------------------------------------------------- tool allow-list

#[tokio::test]
async fn tool_allow_list_filters_lists_and_refuses_calls() {
    let env = Env::new().await;
    let (_, token) = env.grant(
        &env.connection.clone(),
        "a",
        Some(&["echo", "search"]),
        "mcp:access",
    );
    let sid = env.initialize(&token).await;

    // JSON tools/list.
    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","id":"j1","method":"tools/list"}),
        )
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let body = json_of(r).await;
    let names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["echo", "search"], "JSON list filtered: {body}");

    // SSE tools/list.
    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","id":"sse-1","method":"tools/list"}),
        )
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/event-stream")
    );
    assert_eq!(header(&r, "x-accel-buffering").as_deref(), Some("no"));
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-cache"));
    let text = r.text().await.unwrap_or_default();
    assert!(
        text.contains("notifications/message"),
        "other events pass: {text}"
    );
    assert!(
        text.contains("\"echo\"") && text.contains("\"search\""),
        "{text}"
    );
    assert!(
        !text.contains("delete_everything"),
        "SSE list filtered: {text}"
    );

    // tools/call of a tool outside the list: answered by Gatehouse, never forwarded.
    let before = env.upstream_requests().len();
    let r = env
        .post("a", Some(&token), &call(&json!(9), "delete_everything"))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let body = json_of(r).await;
    assert_eq!(body["id"], 9, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("open Gatehouse"),
        "{body}"
    );
    assert_eq!(
        env.upstream_requests().len(),
        before,
        "a refused call is not forwarded"
    );

    // An allowed call, as SSE, streams through.
    let r = env
        .post("a", Some(&token), &call(&json!("sse-call"), "echo"))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = r.text().await.unwrap_or_default();
    assert!(text.contains("\"text\":\"hi\""), "{text}");
}

/// MCP 2025-03-26 Base Protocol "Batching" (JSON-RPC 2.0 §6): a batch on a 2025-03-26 session is
/// forwarded byte for byte, every listed response filtered; one call outside the allow-list stops
/// the whole batch; later versions refuse batches (2025-06-18 removed them).
#[tokio::test]
async fn batches_of_a_2025_03_26_session_are_checked_member_by_member_and_filtered() {
    let env = Env::new().await;
    let (_, token) = env.grant(
        &env.connection.clone(),
        "a",
        Some(&["echo", "search"]),
        "mcp:access",
    );
    let sid = env.initialize(&token).await;
    let batch = json!([
        {"jsonrpc":"2.0","id":"b1","method":"tools/list"},
        {"jsonrpc":"2.0","id":"b2","method":"tools/call","params":{"name":"echo","arguments":{"text":"batched"}}},
        {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}
    ]);
    let r = env
        .post("a", Some(&token), &batch)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let answers = json_of(r).await;
    let names: Vec<&str> = answers[0]["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["echo", "search"],
        "the batched list is filtered: {answers}"
    );
    assert_eq!(answers[1]["result"]["content"][0]["text"], "batched");
    let raw = env
        .seen
        .raw_bodies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .last()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        serde_json::from_slice::<Value>(&raw).unwrap_or_default(),
        batch,
        "the client's batch went upstream as it was"
    );

    // One member calls a tool outside the grant: nothing is sent, every request is answered.
    let before = env.upstream_requests().len();
    let r = env
        .post(
            "a",
            Some(&token),
            &json!([
                call(&json!(1), "echo"),
                call(&json!(2), "delete_everything")
            ]),
        )
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let answers = json_of(r).await;
    assert_eq!(
        answers[1]["error"]["message"],
        proxy::forward::TOOL_NOT_ALLOWED,
        "{answers}"
    );
    assert_eq!(answers[0]["id"], 1, "{answers}");
    assert!(answers[0]["error"].is_object(), "{answers}");
    assert_eq!(env.upstream_requests().len(), before, "nothing forwarded");

    // A session of a later version: batches are gone since 2025-06-18.
    let r = env
        .post("a", Some(&token), &json!([call(&json!(3), "echo")]))
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 400);
    assert_eq!(env.upstream_requests().len(), before, "nothing forwarded");
}

// ---------------------------------------------------------------- upstream failures, in band

#[tokio::test]
async fn upstream_failures_become_json_rpc_errors_never_401() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();

    for (method, needle) in [
        ("fail/401", "rejected Gatehouse's credentials"),
        ("fail/403", "rejected Gatehouse's credentials"),
        ("fail/500", "HTTP 500"),
        ("fail/redirect", "redirect"),
    ] {
        let r = env
            .post(
                "a",
                Some(&token),
                &json!({"jsonrpc":"2.0","id":method,"method":method}),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.status(),
            200,
            "{method}: in band, never HTTP 401/403 (that would restart the client's OAuth)"
        );
        assert!(
            r.headers().get("www-authenticate").is_none(),
            "{method}: no upstream challenge"
        );
        assert!(
            r.headers().get("set-cookie").is_none(),
            "{method}: no upstream cookie"
        );
        let body = json_of(r).await;
        assert_eq!(body["id"], method, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(needle),
            "{method}: {body}"
        );
    }
    assert_eq!(
        *env.seen
            .elsewhere_hits
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
        0,
        "redirects are never followed"
    );

    // The 401 marked the connection.
    let store = env.vault.store().clone();
    let id = env.connection.clone();
    let mut status = None;
    for _ in 0..50 {
        let id = id.clone();
        let row = store
            .read(move |c| connections::get(c, &id))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("connection"));
        if row.status == ConnectionStatus::Error {
            status = Some(row);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let row = status.unwrap_or_else(|| panic!("an upstream 401 marks the connection as error"));
    assert!(row.status_detail.unwrap_or_default().contains("401"));
}

#[tokio::test]
async fn upstream_down_is_a_json_rpc_error() {
    // A port that was just free: nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = free.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    drop(free);
    let env = Env::with_upstream(&format!("http://127.0.0.1:{port}/mcp"), Arc::default()).await;
    let (_, token) = env.all_tools_token();
    let r = env
        .post("a", Some(&token), &call(&json!(3), "echo"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "never a 401 or a 5xx for a request");
    let body = json_of(r).await;
    assert_eq!(body["id"], 3);
    assert_eq!(body["error"]["code"], -32001, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("could not reach"),
        "{body}"
    );

    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 502, "a notification has no id to answer: 502");
}

// ---------------------------------------------------------------- streams and revocation

#[tokio::test]
async fn revocation_closes_an_open_get_stream() {
    let env = Env::new().await;
    let (grant, token) = env.all_tools_token();
    let sid = env.initialize(&token).await;
    let r = env
        .http
        .get(env.url("a"))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/event-stream")
    );
    let get = env
        .upstream_requests()
        .into_iter()
        .find(|(m, _, _)| m == "GET")
        .unwrap_or_else(|| panic!("the GET reached the upstream"));
    assert_eq!(
        get.1.get("last-event-id").and_then(|v| v.to_str().ok()),
        Some("0")
    );
    assert!(get.1.get("authorization").is_none());

    let mut stream = r.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap_or_else(|_| panic!("the priming event arrives without buffering"));
    assert!(first.is_some(), "the stream is open");

    env.vault
        .store()
        .revoke_grants_async(vec![grant], RevocationReason::UserRevoked)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "a revoke ends the grant's open streams");
    let r = env
        .post("a", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401, "and the next request is refused");
}

// ---------------------------------------------------------------- usage and catalog

#[tokio::test]
async fn shutdown_ends_open_streams_instead_of_waiting_for_them() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();
    let sid = env.initialize(&token).await;
    let r = env
        .http
        .get(env.url("a"))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "the GET stream opens");
    let mut stream = r.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(
        first.is_ok_and(|c| c.is_some()),
        "the stream is open before the shutdown"
    );

    let Env { gateway, _dir, .. } = env;
    let stopped = tokio::time::timeout(Duration::from_secs(10), gateway.shutdown()).await;
    assert!(
        stopped.is_ok_and(|r| r.is_ok()),
        "a graceful shutdown must end open SSE streams, not wait for clients to close them"
    );
}

#[tokio::test]
async fn a_legacy_client_disconnecting_does_not_cancel_the_upstream_call() {
    let env = Env::new().await;
    let (_, token) = env.all_tools_token();
    let sid = env.initialize(&token).await;
    let slow = json!({"jsonrpc":"2.0","id":"slow-1","method":"slow/sse","params":{}});
    let r = env
        .post("a", Some(&token), &slow)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "the slow call starts");
    let mut stream = r.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(
        first.is_ok_and(|c| c.is_some()),
        "the first event arrives before the disconnect"
    );
    drop(stream); // the client goes away mid-call

    let mut finished = 0;
    for _ in 0..50 {
        finished = *env
            .seen
            .slow_finished
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if finished > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        finished, 1,
        "legacy era: a disconnect is not a cancellation, so the upstream answer is read to its end"
    );
}

#[tokio::test]
async fn last_used_is_recorded_off_the_request_path() {
    let env = Env::new().await;
    let (grant, token) = env.all_tools_token();
    let r = env
        .post("a", Some(&token), &init())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let store = env.vault.store().clone();
    let read = |store: gatehouse_core::store::Store, grant: GrantId| async move {
        store
            .read(move |c| grants::get(c, &grant))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("grant"))
            .last_used_at
    };
    assert_eq!(
        read(store.clone(), grant.clone()).await,
        None,
        "the request path does not write last_used_at"
    );

    // The debouncer itself: many uses, one write with the latest time.
    let usage = proxy::usage::Usage::default();
    usage.record(&grant, 1_000);
    usage.record(&grant, 3_000);
    usage.record(&grant, 2_000);
    assert_eq!(usage.pending(), 1, "one entry per grant");
    let moved = usage.flush(&store).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moved, 1);
    assert_eq!(
        read(store.clone(), grant.clone()).await,
        Some(3_000),
        "the latest use wins"
    );
    assert_eq!(
        usage.flush(&store).await.unwrap_or_else(|e| panic!("{e}")),
        0,
        "nothing pending"
    );
}

#[tokio::test]
async fn catalog_lists_upstream_tools_with_the_credential() {
    let env = Env::new().await;
    let id = env.connection.clone();
    let row = env
        .vault
        .store()
        .read(move |c| connections::get(c, &id))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("connection"));
    let http = proxy::upstream_client(&proxy::ProxyOptions::default());
    let tools = proxy::catalog::list_upstream_tools(&env.vault, &http, &row)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = tools.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["echo", "delete_everything", "search"]);
    assert_eq!(tools[0].1.as_deref(), Some("Echo"), "title");
    assert_eq!(tools[0].2.as_deref(), Some("says it back"), "description");
    let seen = env.upstream_requests();
    let methods: Vec<String> = seen
        .iter()
        .map(|(m, _, b)| format!("{m} {}", b["method"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        methods,
        [
            "POST initialize",
            "POST notifications/initialized",
            "POST tools/list",
            "DELETE "
        ],
        "the conversation"
    );
    assert!(
        seen.iter()
            .all(|(_, h, _)| h.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(SECRET)),
        "every catalog request carries the credential"
    );
}

/// A body whose objects name a member twice is refused before the tool filter and the upstream: serde_json
/// keeps the last `"method"`/`"name"`, a first-wins parser upstream the first, so the filter would check one
/// message and the upstream run another (I-JSON, RFC 7493 §2.3; JSON-RPC 2.0 §5.1: -32600).
#[tokio::test]
async fn repeated_members_are_refused_so_the_filter_and_the_upstream_read_one_message() {
    let env = Env::new().await;
    let (_, token) = env.grant(&env.connection.clone(), "a", Some(&["echo"]), "mcp:access");
    let before = env.upstream_requests().len();
    for raw in [
        // Seen by serde_json as tools/list (not filtered), by a first-wins upstream as tools/call.
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"delete_everything"}}"#,
        // Seen by serde_json as the allowed echo, by a first-wins upstream as delete_everything.
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_everything","name":"echo","arguments":{"text":"hi"}}}"#,
    ] {
        let r = env
            .http
            .post(env.url("a"))
            .bearer_auth(&token)
            .header("accept", ACCEPT_BOTH)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 400, "a repeated member is a bad request: {raw}");
        let body = json_of(r).await;
        assert_eq!(
            body["error"]["code"], -32600,
            "Invalid Request, not a parse error or a 500: {body}"
        );
    }
    assert_eq!(
        env.upstream_requests().len(),
        before,
        "an ambiguous body never reaches the upstream"
    );

    // An unambiguous body passes, byte for byte.
    let raw = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#;
    let r = env
        .http
        .post(env.url("a"))
        .bearer_auth(&token)
        .header("accept", ACCEPT_BOTH)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200, "an allowed call is forwarded");
    let raw_seen = env
        .seen
        .raw_bodies
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .last()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        raw_seen,
        raw.as_bytes(),
        "the upstream gets the bytes that were checked, not a re-serialization"
    );

    // A tools/call without a usable name under an allow-list is refused, not forwarded.
    let r = env
        .post(
            "a",
            Some(&token),
            &json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":5}}),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = json_of(r).await;
    assert!(body["error"].is_object(), "{body}");
}

#[tokio::test]
async fn a_revoke_from_another_process_closes_open_streams_by_poll() {
    let env = Env::new().await;
    let (grant, token) = env.all_tools_token();
    let sid = env.initialize(&token).await;
    let r = env
        .http
        .get(env.url("a"))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    assert!(stream.next().await.is_some(), "the stream is open");

    // `gatehoused grants revoke` in another process: another Store on the same file, whose events
    // the gateway never hears.
    let other = Vault::open(
        env.vault.data_dir(),
        KeyBackend::File,
        Arc::new(SystemClock),
    )
    .unwrap_or_else(|e| panic!("second vault: {e}"));
    other
        .store()
        .revoke_grants(&[grant], RevocationReason::UserRevoked)
        .unwrap_or_else(|e| panic!("{e}"));
    let ended = tokio::time::timeout(
        proxy::ProxyOptions::default().stream_recheck_every + Duration::from_secs(5),
        async { while let Some(Ok(_)) = stream.next().await {} },
    )
    .await;
    assert!(
        ended.is_ok(),
        "the poll of open streams' grants ends the stream"
    );
}

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
