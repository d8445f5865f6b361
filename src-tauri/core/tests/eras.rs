//! The protocol-era bridge (`proxy::era`, `proxy::bridge`) through the real gateway on a real
//! socket, in front of two fake (axum) upstreams on 127.0.0.1:0 that record every request: one that
//! speaks only MCP 2026-07-28 (`server/discover`, stateless) and one that speaks only the
//! `initialize`/session era (2025-06-18).
//!
//! MCP 2026-07-28 basic/versioning §Backward Compatibility with Initialization-Based Versions: "Legacy
//! client, Modern server" and "Modern client, Legacy server" both fail without an intermediary;
//! Gatehouse is that intermediary.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
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

const SECRET: &str = "upstream-api-key-eras";
const MODERN: &str = "2026-07-28";
const VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";

// ---------------------------------------------------------------- the fake upstreams

/// One request as an upstream got it.
#[derive(Clone, Debug)]
struct Seen {
    http_method: String,
    headers: HeaderMap,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    fn session(&self) -> Option<&str> {
        self.header("mcp-session-id")
    }

    /// A call Gatehouse makes on its own (era probe, upstream session, annotations read).
    fn is_gatehouse_own(&self) -> bool {
        self.body["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("gatehouse-"))
    }
}

#[derive(Default)]
struct Fake {
    requests: Mutex<Vec<Seen>>,
    /// The legacy sessions the fake knows, and how many it ever opened.
    live: Mutex<Vec<String>>,
    opened: Mutex<usize>,
}

/// The value, or a panic naming `what` failed.
fn ok<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Fake {
    fn record(&self, m: &Method, h: &HeaderMap, body: &Value) {
        let (http_method, headers, body) = (m.to_string(), h.clone(), body.clone());
        lock(&self.requests).push(Seen {
            http_method,
            headers,
            body,
        });
    }

    fn requests(&self) -> Vec<Seen> {
        lock(&self.requests).clone()
    }

    /// The POSTs whose JSON-RPC method is `method`.
    fn posts(&self, method: &str) -> Vec<Seen> {
        let mut all = self.requests();
        all.retain(|s| s.http_method == "POST" && s.body["method"] == method);
        all
    }
}

fn rpc_result(id: &Value, result: Value) -> Response {
    let mut body = json!({"jsonrpc": "2.0", "id": id});
    body["result"] = result;
    axum::Json(body).into_response()
}

fn rpc_error(status: StatusCode, id: &Value, code: i64, message: &str, data: Value) -> Response {
    let mut body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    body["error"]["data"] = data;
    (status, axum::Json(body)).into_response()
}

fn sse_event(message: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {message}\n\n"))
}

fn sse(body: Body) -> Response {
    ([("content-type", "text/event-stream")], body).into_response()
}

/// The legacy-only upstream's InitializeResult.
fn legacy_initialize_result() -> Value {
    json!({
        "protocolVersion": "2025-06-18",
        "capabilities": {"tools": {"listChanged": true}},
        "serverInfo": {"name": "legacy-fake", "version": "3.1"},
        "instructions": "call echo",
    })
}

/// Only `initialize` and sessions, like a 2025-06-18 TypeScript SDK server.
async fn legacy_post(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: Bytes) -> Response {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.record(&Method::POST, &headers, &value);
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let method = value["method"].as_str().unwrap_or("");
    let no_session = |why| rpc_error(StatusCode::BAD_REQUEST, &id, -32000, why, Value::Null);
    if method == "server/discover" {
        // The SDK's legacy transport, asked without a session: era.rs reads this as legacy.
        return no_session("Bad Request: Server not initialized");
    }
    if method == "initialize" {
        let mut opened = lock(&fake.opened);
        *opened += 1;
        let session = format!("legacy-{opened}");
        lock(&fake.live).push(session.clone());
        let result = rpc_result(&id, legacy_initialize_result());
        return ([("mcp-session-id", session)], result).into_response();
    }
    let Some(session) = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) else {
        return no_session("Bad Request: No valid session ID provided");
    };
    if !lock(&fake.live).iter().any(|s| s == session) {
        // 2025-06-18 transports §Session Management: an unknown session is a 404.
        return StatusCode::NOT_FOUND.into_response();
    }
    match (method, value["params"]["name"].as_str()) {
        (m, _) if m.starts_with("notifications/") => StatusCode::ACCEPTED.into_response(),
        ("tools/list", _) => rpc_result(
            &id,
            json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}),
        ),
        ("tools/call", Some("echo")) => {
            let result = json!({"jsonrpc": "2.0", "id": id, "result": {
                "content": [{"type": "text", "text": "echoed"}],
                "structuredContent": value["params"]["arguments"]}});
            sse(Body::from(sse_event(&result)))
        }
        ("tools/call", Some("slow")) => {
            // A progress event now, then only keep-alive comments: the answer never comes.
            let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                "params": {"progressToken": "slow", "progress": 1}});
            let first = futures_util::stream::once(async move { Ok(sse_event(&progress)) });
            let ticks = futures_util::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let tick: Result<_, Infallible> = Ok(Bytes::from_static(b": working\n\n"));
                Some((tick, ()))
            });
            sse(Body::from_stream(first.chain(ticks)))
        }
        _ => rpc_error(StatusCode::OK, &id, -32601, "Method not found", Value::Null),
    }
}

/// Only 2026-07-28: stateless, `server/discover`, routing headers.
async fn modern_post(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: Bytes) -> Response {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.record(&Method::POST, &headers, &value);
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match value["method"].as_str().unwrap_or("") {
        "server/discover" => rpc_result(
            &id,
            json!({
                "resultType": "complete",
                "supportedVersions": [MODERN],
                "capabilities": {"tools": {"listChanged": false}},
                "instructions": "ask where",
                "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "modern-fake", "version": "7"}},
            }),
        ),
        // Streamable HTTP §Backward Compatibility: a modern-only server refuses the legacy version.
        "initialize" => rpc_error(
            StatusCode::BAD_REQUEST,
            &id,
            -32022,
            "Unsupported protocol version",
            json!({"supported": [MODERN], "requested": value["params"]["protocolVersion"]}),
        ),
        "tools/list" => rpc_result(
            &id,
            json!({"resultType": "complete", "ttlMs": 60000, "cacheScope": "private",
                "tools": [{"name": "where", "inputSchema": {"type": "object", "properties": {
                    "region": {"type": "string", "x-mcp-header": "Region"}}}}]}),
        ),
        "tools/call" => {
            let echoed = json!({"resultType": "complete", "content": [], "structuredContent": {
                "method": header("mcp-method"),
                "name": header("mcp-name"),
                "region": header("mcp-param-region"),
                "version": header("mcp-protocol-version"),
                "session": header("mcp-session-id"),
                "meta": value["params"]["_meta"],
            }});
            ([("mcp-protocol-version", MODERN)], rpc_result(&id, echoed)).into_response()
        }
        // 2026-07-28 Streamable HTTP §Server Validation: an unknown method is a 404.
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn record_other(State(fake): State<Arc<Fake>>, m: Method, h: HeaderMap) -> StatusCode {
    fake.record(&m, &h, &Value::Null);
    StatusCode::METHOD_NOT_ALLOWED
}

// ---------------------------------------------------------------- Gatehouse

struct Env {
    _dir: tempfile::TempDir,
    gateway: RunningGateway,
    vault: Vault,
    fake: Arc<Fake>,
    http: reqwest::Client,
    connection: ConnectionId,
    client: ClientId,
}

impl Env {
    /// Gatehouse in front of a fake upstream answering POSTs with `route`.
    async fn new(route: MethodRouter<Arc<Fake>>) -> Self {
        let fake = Arc::new(Fake::default());
        let app = Router::new()
            .route("/mcp", route.get(record_other).delete(record_other))
            .with_state(fake.clone());
        let listener = ok(tokio::net::TcpListener::bind("127.0.0.1:0").await, "bind");
        let addr = ok(listener.local_addr(), "upstream address");
        tokio::spawn(async move { axum::serve(listener, app).await });

        let dir = ok(tempfile::tempdir(), "tempdir");
        let vault = Vault::open(dir.path(), KeyBackend::File, Arc::new(SystemClock));
        let vault = ok(vault, "vault");
        let listener = ok(gateway::bind_loopback(0).await, "bind");
        let connection = add_connection(&vault, &format!("http://{addr}/mcp"));
        let client = ClientId::generate();
        let upserted = vault.store().upsert_client(&registration(&client));
        ok(upserted, "client");
        let gateway = gateway::start(vault.clone(), listener, 30, std::future::pending()).await;
        let gateway = ok(gateway, "start");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        let http = ok(http.build(), "http client");
        let _dir = dir;
        Self {
            _dir,
            gateway,
            vault,
            fake,
            http,
            connection,
            client,
        }
    }

    fn url(&self) -> String {
        format!("{}/mcp/a", self.gateway.base_url())
    }

    /// A new active grant on the connection (all tools) and an access token for it.
    fn grant(&self) -> String {
        let store = self.vault.store();
        let id = GrantId::new();
        let new = NewGrant {
            id: id.clone(),
            client_id: self.client.clone(),
            connection_id: self.connection.clone(),
            redirect_uri: format!("http://127.0.0.1/callback/{}", id.as_str()),
            scopes: "mcp:access".into(),
            tools: None,
        };
        let now = store.now();
        let created = store.write_blocking(|tx| grants::create_pending(tx, &new, now));
        ok(created, "grant");
        ok(store.activate_grant(&id), "activate");
        let token = gatehouse_core::crypto::token::generate(TokenKind::AccessToken);
        let token = token.expose_secret().to_owned();
        let new = NewAccessToken {
            token_hash: *TokenHash::of(&token).as_bytes(),
            grant_id: id,
            client_id: self.client.clone(),
            resource: self.url(),
            scopes: "mcp:access".into(),
            expires_at: now + 3_600_000,
        };
        let inserted = store.write_blocking(|tx| access_tokens::insert(tx, &new, now));
        ok(inserted, "token");
        token
    }

    fn post(&self, token: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url())
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// A legacy-era POST, on `session` if given.
    async fn legacy(&self, token: &str, session: Option<&str>, body: &Value) -> reqwest::Response {
        let mut r = self.post(token, body);
        if let Some(s) = session {
            r = r.header("mcp-session-id", s);
        }
        send(r).await
    }

    /// A 2026-07-28 POST: the `_meta` envelope in the body, the routing headers that match it.
    async fn modern(&self, t: &str, id: &str, method: &str, params: Value) -> reqwest::Response {
        let mut body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let envelope = json!({VERSION_KEY: MODERN, CLIENT_INFO_KEY: {"name": "modern-client",
            "version": "2"}, "io.modelcontextprotocol/clientCapabilities": {}});
        for (key, value) in envelope.as_object().into_iter().flatten() {
            body["params"]["_meta"][key] = value.clone();
        }
        let mut r = self
            .post(t, &body)
            .header("mcp-protocol-version", MODERN)
            .header("mcp-method", method);
        if let Some(name) = body["params"]["name"].as_str() {
            r = r.header("mcp-name", name);
        }
        send(r).await
    }

    /// The POSTs of `method` made for the clients (`own`: those Gatehouse made on its own).
    fn posts(&self, method: &str, own: bool) -> Vec<Seen> {
        let mut posts = self.fake.posts(method);
        posts.retain(|s| s.is_gatehouse_own() == own);
        posts
    }
}

fn add_connection(vault: &Vault, url: &str) -> ConnectionId {
    let id = ConnectionId::new();
    let aad = Aad {
        table: "connections",
        column: "header_value_sealed",
        row_id: id.as_str(),
    };
    let sealed = vault.cipher().seal_str(SECRET, &aad);
    let new = NewConnection {
        id: id.clone(),
        slug: "a".into(),
        name: "Connection a".into(),
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
    let inserted = store.write_blocking(|tx| connections::insert(tx, &new, now));
    ok(inserted, "connection");
    id
}

fn registration(id: &ClientId) -> ClientRegistration {
    ClientRegistration {
        client_id: id.clone(),
        client_name: Some("Eras Client".into()),
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
        metadata: json!({"client_name": "Eras Client"}),
    }
}

fn legacy_initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "legacy-client", "version": "1"}}})
}

fn rpc(id: i64, method: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {}})
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    let value = r.headers().get(name)?.to_str().ok()?;
    Some(value.to_owned())
}

async fn send(r: reqwest::RequestBuilder) -> reqwest::Response {
    ok(r.send().await, "send")
}

/// The JSON-RPC response in a JSON body or an SSE stream.
async fn answer(r: reqwest::Response) -> Value {
    let sse = header(&r, "content-type").is_some_and(|c| c.starts_with("text/event-stream"));
    let text = ok(r.text().await, "body");
    if !sse {
        return ok(serde_json::from_str(&text), &text);
    }
    let messages = text.replace("\r\n", "\n");
    let messages = messages.split("\n\n").filter_map(|event| {
        let data = event.lines().filter_map(|line| line.strip_prefix("data:"));
        serde_json::from_str::<Value>(&data.collect::<Vec<_>>().join("\n")).ok()
    });
    let response = messages.filter(|m| m.get("id").is_some()).last();
    response.unwrap_or_else(|| panic!("no response in the stream: {text}"))
}

/// Polls `probe` until it has a value (10 s at most).
async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------- legacy client, modern upstream

#[tokio::test]
async fn a_legacy_client_gets_a_session_held_by_gatehouse_in_front_of_a_modern_only_upstream() {
    // MCP 2026-07-28 basic/versioning §Backward Compatibility ("Legacy client, Modern server").
    let env = Env::new(post(modern_post)).await;
    let token = env.grant();

    // 2025-06-18 lifecycle §Initialization, answered from the upstream's DiscoverResult.
    let r = env.legacy(&token, None, &legacy_initialize()).await;
    assert_eq!(r.status(), 200, "initialize is answered");
    let session = header(&r, "mcp-session-id").unwrap_or_else(|| panic!("no Mcp-Session-Id"));
    let expected = json!({"jsonrpc": "2.0", "id": 0, "result": {
        "protocolVersion": "2025-06-18",
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": "modern-fake", "version": "7"},
        "instructions": "ask where"}});
    // The client's version; the rest from the upstream's discover.
    assert_eq!(answer(r).await, expected);
    // The client's initialize never reaches a modern-only upstream.
    assert_eq!(env.posts("initialize", false).len(), 0);

    // Notifications and ping have no modern counterpart: answered here, nothing goes upstream.
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let r = env.legacy(&token, Some(&session), &note).await;
    assert_eq!(r.status(), 202);
    let pong = answer(env.legacy(&token, Some(&session), &rpc(1, "ping")).await).await;
    assert_eq!(pong, json!({"jsonrpc": "2.0", "id": 1, "result": {}}));

    // 2026-07-28 Streamable HTTP §Standard Request Headers, §Custom Headers; basic/index §_meta.
    let mut call = rpc(2, "tools/call");
    call["params"] = json!({"name": "where", "arguments": {"region": "eu-west"},
        "_meta": {"progressToken": "p1"}});
    let r = env.legacy(&token, Some(&session), &call).await;
    assert_eq!(r.status(), 200);
    // The upstream's 2026-07-28 is not the session's version.
    assert_eq!(header(&r, "mcp-protocol-version"), None);
    let echoed = answer(r).await["result"]["structuredContent"].clone();
    let expected = json!({
        "method": "tools/call", "name": "where", "region": "eu-west", "version": MODERN,
        "session": null,
        "meta": {
            VERSION_KEY: MODERN,
            CLIENT_INFO_KEY: {"name": "legacy-client", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
            "progressToken": "p1"}});
    assert_eq!(echoed, expected, "routing headers and _meta envelope");

    // A modern 404 is an unknown method, not a lost session: -32601, and the session lives on.
    let r = env.legacy(&token, Some(&session), &rpc(3, "nope/x")).await;
    assert_eq!(r.status(), 200);
    let refused = answer(r).await;
    let expected = (&json!(3), &json!(-32601));
    assert_eq!((&refused["id"], &refused["error"]["code"]), expected);
    assert_eq!(env.posts("nope/x", false).len(), 1, "it did go upstream");
    let r = env
        .legacy(&token, Some(&session), &rpc(4, "tools/list"))
        .await;
    let listed = answer(r).await;
    assert_eq!(listed["result"]["tools"][0]["name"], "where", "{listed}");

    // 2025-06-18 transports §Listening for Messages from the Server: no stream to offer.
    let get = env.http.get(env.url()).bearer_auth(&token);
    let get = get.header("accept", "text/event-stream");
    let r = send(get.header("mcp-session-id", &session)).await;
    assert_eq!(r.status(), 405);

    // A second client session: the era is remembered, not probed again.
    let r = env.legacy(&token, None, &legacy_initialize()).await;
    let second = header(&r, "mcp-session-id").unwrap_or_else(|| panic!("no second session"));
    assert_ne!(second, session, "each initialize gets its own session");
    assert_eq!(env.posts("server/discover", true).len(), 1, "one era probe");
    assert_eq!(env.posts("initialize", true).len(), 1, "one legacy probe");
    assert_eq!(env.fake.posts("ping").len(), 0, "ping stays at Gatehouse");
    assert_eq!(env.fake.posts("notifications/initialized").len(), 0);

    // 2025-06-18 transports §Session Management: DELETE ends it here; the upstream holds none.
    let delete = env.http.delete(env.url()).bearer_auth(&token);
    let r = send(delete.header("mcp-session-id", &session)).await;
    assert!(r.status().is_success(), "DELETE: {}", r.status());
    let r = env
        .legacy(&token, Some(&session), &rpc(5, "tools/list"))
        .await;
    assert_eq!(r.status(), 404, "the ended session is unknown");
    let r = env.legacy(&token, Some(&second), &rpc(6, "ping")).await;
    assert_eq!(r.status(), 200, "the other session is untouched");
    // GET and DELETE never reach the upstream; every request, Gatehouse's own included, carries
    // the connection's credential.
    for seen in env.fake.requests() {
        assert_eq!(seen.http_method, "POST", "{seen:?}");
        assert_eq!(seen.header("x-api-key"), Some(SECRET), "{seen:?}");
    }
}

// ---------------------------------------------------------------- modern client, legacy upstream

#[tokio::test]
async fn a_modern_client_is_served_on_an_upstream_session_per_grant_by_a_legacy_only_upstream() {
    // MCP 2026-07-28 basic/versioning §Backward Compatibility ("Modern client, Legacy server").
    let env = Env::new(post(legacy_post)).await;
    let (alice, bob) = (env.grant(), env.grant());

    // 2026-07-28 server/discover §Response, made of the upstream's InitializeResult.
    let r = env.modern(&alice, "d1", "server/discover", json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "mcp-session-id"), None, "stateless");
    let expected = json!({"jsonrpc": "2.0", "id": "d1", "result": {
        "resultType": "complete", "ttlMs": 0, "cacheScope": "private",
        "supportedVersions": [MODERN],
        "capabilities": {"tools": {"listChanged": true}},
        "instructions": "call echo",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "legacy-fake", "version": "3.1"}}}});
    assert_eq!(answer(r).await, expected);
    assert_eq!(
        env.posts("server/discover", false).len(),
        0,
        "answered here"
    );

    // 2025-11-25 lifecycle §Initialization: once for the grant, with the client's clientInfo.
    let initializes = env.fake.posts("initialize");
    assert_eq!(initializes.len(), 1, "one upstream session so far");
    let expected = json!({"protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "modern-client", "version": "2"}});
    assert_eq!(initializes[0].body["params"], expected);
    let initialized = env.fake.posts("notifications/initialized");
    let sessions: Vec<_> = initialized.iter().map(Seen::session).collect();
    assert_eq!(sessions, [Some("legacy-1")]);

    let echo = |progress: &str| {
        json!({"name": "echo", "arguments": {"text": "hi"},
        "_meta": {"progressToken": progress}})
    };
    let r = env.modern(&alice, "c1", "tools/call", echo("p-a")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "mcp-session-id"), None, "no session id");
    // resultType stamped in the SSE event; a tools/call result is not cacheable.
    let expected = json!({"jsonrpc": "2.0", "id": "c1", "result": {"resultType": "complete",
        "content": [{"type": "text", "text": "echoed"}], "structuredContent": {"text": "hi"}}});
    assert_eq!(answer(r).await, expected);
    let calls = env.posts("tools/call", false);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].session(), Some("legacy-1"));
    // The version the upstream chose; the io.modelcontextprotocol/ keys out, the rest stays.
    assert_eq!(calls[0].header("mcp-protocol-version"), Some("2025-06-18"));
    let meta = &calls[0].body["params"]["_meta"];
    assert_eq!(meta, &json!({"progressToken": "p-a"}));

    // 2026-07-28 schema CacheableResult: a legacy list is private and stale at once.
    let listed = answer(env.modern(&alice, "l1", "tools/list", json!({})).await).await;
    let expected = json!({"resultType": "complete", "ttlMs": 0, "cacheScope": "private",
        "tools": [{"name": "echo", "inputSchema": {"type": "object"}}]});
    assert_eq!(listed["result"], expected);
    // An emptied _meta goes; the grant's session is reused.
    assert_eq!(env.posts("tools/list", false)[0].body["params"], json!({}));
    assert_eq!(env.fake.posts("initialize").len(), 1, "session reused");

    // Another grant, another upstream session.
    let r = env.modern(&bob, "c2", "tools/call", echo("p-b")).await;
    assert_eq!(answer(r).await["result"]["structuredContent"]["text"], "hi");
    assert_eq!(env.fake.posts("initialize").len(), 2);
    let calls = env.posts("tools/call", false);
    assert_eq!(calls[1].session(), Some("legacy-2"));

    // 2025-11-25 transports §Session Management: on a 404 Gatehouse opens a new session and
    // retries; the client sees nothing of it.
    lock(&env.fake.live).clear();
    let r = env.modern(&alice, "c3", "tools/call", echo("p-c")).await;
    assert_eq!(r.status(), 200);
    let renewed = answer(r).await;
    let result = &renewed["result"];
    assert_eq!(result["structuredContent"]["text"], "hi", "{renewed}");
    assert_eq!(result["resultType"], "complete");
    assert_eq!(env.fake.posts("initialize").len(), 3, "a new session");
    let mut c3 = env.posts("tools/call", false);
    c3.retain(|s| s.body["id"] == "c3");
    let sessions: Vec<_> = c3.iter().map(Seen::session).collect();
    // A 404 on the old session, then the retry on the new one.
    assert_eq!(sessions, [Some("legacy-1"), Some("legacy-3")]);
    assert_eq!(env.posts("server/discover", true).len(), 1, "one era probe");
    assert_eq!(env.fake.posts("notifications/cancelled").len(), 0);
}

// ---------------------------------------------------------------- cancellation

#[tokio::test]
async fn a_modern_client_closing_its_stream_cancels_the_call_in_the_upstream_session() {
    // 2026-07-28 Streamable HTTP §Cancellation (a closed stream cancels) carried to a legacy server
    // as 2025-11-25 basic/utilities/cancellation (`notifications/cancelled` in its session).
    let env = Env::new(post(legacy_post)).await;
    let token = env.grant();

    let done = json!({"name": "echo", "arguments": {}});
    let r = env.modern(&token, "done-1", "tools/call", done).await;
    assert_eq!(answer(r).await["id"], "done-1", "a call read to its end");

    let slow = json!({"name": "slow", "arguments": {}});
    let r = env.modern(&token, "slow-7", "tools/call", slow).await;
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let first = ok(stream.next().await.ok_or("ended"), "the answer's start");
    let first = String::from_utf8_lossy(&ok(first, "stream")).into_owned();
    assert!(first.contains("notifications/progress"), "{first}");
    drop(stream);

    let cancelled = eventually("notifications/cancelled upstream", || {
        env.fake.posts("notifications/cancelled").into_iter().next()
    })
    .await;
    let mut calls = env.posts("tools/call", false);
    calls.retain(|s| s.body["params"]["name"] == "slow");
    let [slow] = calls.as_slice() else {
        panic!("the slow call reached the upstream once: {calls:?}");
    };
    // The id the upstream got, in the call's session, with the connection's credential.
    let params = &cancelled.body["params"];
    assert_eq!(params["requestId"], slow.body["id"], "{params}");
    assert_eq!(cancelled.body.get("id"), None, "a notification");
    assert_eq!(cancelled.session(), slow.session());
    assert_eq!(cancelled.session(), Some("legacy-1"));
    assert_eq!(cancelled.header("x-api-key"), Some(SECRET));
    // Only the dropped call is cancelled, not the one read to its end.
    assert_eq!(env.fake.posts("notifications/cancelled").len(), 1);
}
