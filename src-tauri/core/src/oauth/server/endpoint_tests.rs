//! The metadata, registration, token and revocation endpoints driven through the whole gateway router
//! (Host/Origin guard included) with `oneshot`, on a real store in a temporary directory and a manual
//! clock.

use crate::net::caller::{PeerConnection, PeerUser};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tower::ServiceExt as _;

use super::issue::stored_hash;
use super::policy::{ACCESS_TOKEN_TTL, REFRESH_REUSE_GRACE};
use super::register::REGISTRATIONS_PER_MINUTE;
use super::resource::ResourceUri;
use crate::clock::{MINUTE, ManualClock, SECOND};
use crate::crypto::KeyBackend;
use crate::gateway::{Runtime, router};
use crate::net::loopback::LocalAuthority;
use crate::store::authorization_codes::{self, NewAuthorizationCode};
use crate::store::connections::{
    self, AuthKind, ConnectionSettings, ConnectionStatus, NewConnection, OAuthSettings, Transport,
};
use crate::store::grants::{self, GrantStatus, NewGrant};
use crate::store::{ClientId, ConnectionId, GrantId, Store, access_tokens, refresh_tokens};
use crate::vault::Vault;

const PORT: u16 = 4849;
const ISSUER: &str = "http://127.0.0.1:4849";
const T0: i64 = 1_750_004_800_000;
const REDIRECT: &str = "http://localhost:53123/callback";

struct Gateway {
    _dir: TempDir,
    app: Router,
    store: Store,
    clock: ManualClock,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("<none>")
    }

    fn text(&self, field: &str) -> String {
        match self.json[field].as_str() {
            Some(s) => s.to_owned(),
            None => panic!("no {field} in {}", self.json),
        }
    }
}

/// An authorization code issued as `/authorize` + consent would issue it.
struct Code {
    code: String,
    verifier: String,
    client_id: ClientId,
    grant: GrantId,
}

fn gateway() -> Gateway {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let clock = ManualClock::new(T0);
    let vault = Vault::open(dir.path(), KeyBackend::File, Arc::new(clock.clone()))
        .unwrap_or_else(|e| panic!("a fresh vault opens: {e}"));
    let store = vault.store().clone();
    let app = router(Runtime::new(vault, LocalAuthority { port: PORT }));
    Gateway {
        _dir: dir,
        app,
        store,
        clock,
    }
}

impl Gateway {
    async fn send(&self, mut request: Request<Body>) -> Reply {
        // The request comes from a program of the desktop user (see gateway::caller_policy).
        if request.extensions().get::<PeerConnection>().is_none() {
            request
                .extensions_mut()
                .insert(PeerConnection::known(PeerUser::Desktop, None));
        }
        let response = match self.app.clone().oneshot(request).await {
            Ok(response) => response,
            Err(e) => match e {},
        };
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("body: {e}"));
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JSON body expected: {e}"))
        };
        Reply {
            status,
            headers,
            json,
        }
    }

    fn request(method: Method, path: &str) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{PORT}"))
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(
            Self::request(Method::GET, path)
                .body(Body::empty())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await
    }

    async fn register(&self, body: &Value) -> Reply {
        self.send(
            Self::request(Method::POST, "/register")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await
    }

    async fn form(&self, path: &str, params: &[(&str, &str)]) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        self.send(
            Self::request(Method::POST, path)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await
    }

    fn connection(&self, slug: &str) -> ConnectionId {
        let id = ConnectionId::new();
        let new = NewConnection {
            id: id.clone(),
            slug: slug.to_owned(),
            name: format!("Connection {slug}"),
            settings: ConnectionSettings {
                upstream_url: format!("https://{slug}.example/mcp"),
                transport: Transport::StreamableHttp,
                auth_kind: AuthKind::None,
                header_name: None,
                header_value_sealed: None,
                oauth: OAuthSettings::default(),
                stdio: None,
            },
            enabled: true,
            status: ConnectionStatus::Connected,
        };
        let now = self.store.now();
        self.store
            .write_blocking(|tx| connections::insert(tx, &new, now))
            .unwrap_or_else(|e| panic!("insert connection: {e}"));
        id
    }

    async fn client(&self, grant_types: &[&str]) -> ClientId {
        let reply = self
            .register(&json!({
                "client_name": "Claude Code (github)",
                "redirect_uris": ["http://localhost/callback"],
                "grant_types": grant_types,
                "token_endpoint_auth_method": "none",
            }))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        ClientId::new(reply.text("client_id")).unwrap_or_else(|| panic!("empty client_id"))
    }

    /// What `/authorize` and an approved consent leave behind: an active grant and a fresh code.
    fn code(&self, client_id: &ClientId, connection: &ConnectionId, scopes: &str) -> Code {
        let grant = GrantId::new();
        let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let code = crate::crypto::token::generate(crate::crypto::TokenKind::AuthorizationCode);
        let code = secrecy::ExposeSecret::expose_secret(&code).to_owned();
        let slug = self
            .store
            .read_blocking({
                let connection = connection.clone();
                move |c| connections::get(c, &connection)
            })
            .ok()
            .flatten()
            .map(|c| c.slug)
            .unwrap_or_else(|| panic!("connection exists"));
        let resource = ResourceUri::for_connection(PORT, &slug)
            .unwrap_or_else(|| panic!("valid slug"))
            .as_str()
            .to_owned();
        let now = self.store.now();
        let new_grant = NewGrant {
            id: grant.clone(),
            client_id: client_id.clone(),
            connection_id: connection.clone(),
            redirect_uri: REDIRECT.into(),
            scopes: scopes.into(),
            tools: None,
        };
        let grant = self
            .store
            .write_blocking(|tx| {
                grants::create_pending(tx, &new_grant, now)?;
                // The same binding again reuses the active grant, as consent does.
                let grant = grants::activate(tx, &grant, now)?.grant_id;
                authorization_codes::insert(
                    tx,
                    &NewAuthorizationCode {
                        code_hash: stored_hash(&code),
                        grant_id: grant.clone(),
                        client_id: client_id.clone(),
                        redirect_uri: REDIRECT.into(),
                        code_challenge: challenge,
                        resource,
                        scopes: scopes.into(),
                        expires_at: now + 60 * SECOND,
                    },
                    now,
                )?;
                Ok(grant)
            })
            .unwrap_or_else(|e| panic!("issuing a code: {e}"));
        Code {
            code,
            verifier,
            client_id: client_id.clone(),
            grant,
        }
    }

    async fn exchange(&self, code: &Code) -> Reply {
        self.form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code.code),
                ("code_verifier", &code.verifier),
                ("redirect_uri", REDIRECT),
                ("client_id", code.client_id.as_str()),
            ],
        )
        .await
    }

    async fn refresh(&self, client_id: &ClientId, refresh_token: &str) -> Reply {
        self.form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", client_id.as_str()),
            ],
        )
        .await
    }

    fn access_usable(&self, token: &str) -> bool {
        let hash = stored_hash(token);
        let now = self.store.now();
        self.store
            .read_blocking(move |c| access_tokens::lookup(c, &hash))
            .unwrap_or_else(|e| panic!("lookup: {e}"))
            .is_some_and(|row| row.is_usable(now))
    }

    fn refresh_usable(&self, token: &str) -> bool {
        let hash = stored_hash(token);
        let now = self.store.now();
        self.store
            .read_blocking(move |c| refresh_tokens::lookup(c, &hash))
            .unwrap_or_else(|e| panic!("lookup: {e}"))
            .is_some_and(|row| row.is_usable(now))
    }

    fn grant_status(&self, grant: &GrantId) -> GrantStatus {
        let grant = grant.clone();
        self.store
            .read_blocking(move |c| grants::get(c, &grant))
            .ok()
            .flatten()
            .map(|g| g.status)
            .unwrap_or_else(|| panic!("grant exists"))
    }

    /// A client, a connection and a successful code exchange: (code, token reply).
    async fn tokens(&self) -> (Code, Reply) {
        let client = self.client(&["authorization_code", "refresh_token"]).await;
        let connection = self.connection("github");
        let code = self.code(&client, &connection, "mcp:access");
        let reply = self.exchange(&code).await;
        assert_eq!(reply.status, StatusCode::OK, "exchange: {}", reply.json);
        (code, reply)
    }
}

fn assert_no_store(reply: &Reply) {
    assert_eq!(
        reply.header("cache-control"),
        Some("no-store"),
        "token endpoint answers are never cached: {}",
        reply.json
    );
    assert_eq!(reply.header("pragma"), Some("no-cache"), "HTTP/1.0 caches");
}

#[tokio::test]
async fn as_metadata_names_the_origin_and_s256_only() {
    let gw = gateway();
    for host in [format!("127.0.0.1:{PORT}"), format!("localhost:{PORT}")] {
        let reply = gw
            .send(
                Request::get("/.well-known/oauth-authorization-server")
                    .header("host", host)
                    .body(Body::empty())
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        let m = &reply.json;
        assert_eq!(m["issuer"], ISSUER, "the issuer is fixed whatever the Host");
        assert_eq!(m["authorization_endpoint"], format!("{ISSUER}/authorize"));
        assert_eq!(m["token_endpoint"], format!("{ISSUER}/token"));
        assert_eq!(m["registration_endpoint"], format!("{ISSUER}/register"));
        assert_eq!(m["revocation_endpoint"], format!("{ISSUER}/revoke"));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(
            m["grant_types_supported"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["token_endpoint_auth_methods_supported"], json!(["none"]));
        assert_eq!(
            m["revocation_endpoint_auth_methods_supported"],
            json!(["none"])
        );
        assert_eq!(
            m["scopes_supported"],
            json!(["mcp:access", "offline_access"])
        );
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["client_id_metadata_document_supported"], true);
    }
    let oidc = gw.get("/.well-known/openid-configuration").await;
    assert_eq!(oidc.status, StatusCode::NOT_FOUND, "not an OpenID Provider");
}

#[tokio::test]
async fn protected_resource_metadata_names_the_endpoint_and_404s_unknown_slugs() {
    let gw = gateway();
    let github = gw.connection("github");
    let reply = gw
        .get("/.well-known/oauth-protected-resource/mcp/github")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json,
        json!({
            "resource": format!("{ISSUER}/mcp/github"),
            "authorization_servers": [ISSUER],
            "scopes_supported": ["mcp:access"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Gatehouse – Connection github",
        }),
        "RFC 9728 §2/§3.2"
    );
    for path in [
        "/.well-known/oauth-protected-resource/mcp/unknown",
        "/.well-known/oauth-protected-resource/mcp/BAD..slug",
        "/.well-known/oauth-protected-resource",
    ] {
        let reply = gw.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.error(), "not_found", "a JSON 404 for {path}");
    }
    let now = gw.store.now();
    gw.store
        .write_blocking(|tx| connections::set_enabled(tx, &github, false, now))
        .unwrap_or_else(|e| panic!("{e}"));
    let reply = gw
        .get("/.well-known/oauth-protected-resource/mcp/github")
        .await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "a disabled connection is no resource"
    );
}

#[tokio::test]
async fn dcr_accepts_real_client_payloads() {
    let gw = gateway();
    let payloads = [
        json!({"client_name": "Claude Code (github)", "redirect_uris": ["http://localhost:53123/callback"],
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
               "token_endpoint_auth_method": "none"}),
        json!({"client_name": "Visual Studio Code", "application_type": "native",
               "redirect_uris": ["https://insiders.vscode.dev/redirect", "https://vscode.dev/redirect",
                                 "http://127.0.0.1/", "http://127.0.0.1:33418/"],
               "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}),
        json!({"client_name": "Cursor", "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback",
               "https://www.cursor.com/agents/mcp/oauth/callback", "http://localhost:8787/callback"],
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
               "token_endpoint_auth_method": "none"}),
        json!({"client_name": "MCP CLI Proxy", "client_uri": "https://github.com/modelcontextprotocol/mcp-cli",
               "software_id": "2e6dc280-f3c3-4e01-99a7-8181dbd1d23d", "software_version": "0.1.16",
               "redirect_uris": ["http://localhost:3335/oauth/callback"],
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
               "token_endpoint_auth_method": "none", "scope": "openid email profile"}),
        json!({"redirect_uris": ["http://localhost:6274/oauth/callback"], "token_endpoint_auth_method": "none",
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
               "client_name": "MCP Inspector", "client_uri": "https://github.com/modelcontextprotocol/inspector"}),
    ];
    let mut ids = Vec::new();
    for payload in &payloads {
        let reply = gw.register(payload).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{payload} → {}",
            reply.json
        );
        assert_eq!(
            reply.json["client_name"], payload["client_name"],
            "name kept"
        );
        assert_eq!(reply.json["token_endpoint_auth_method"], "none");
        assert_eq!(
            reply.json["redirect_uris"], payload["redirect_uris"],
            "as registered"
        );
        assert!(
            reply.json.get("client_secret").is_none(),
            "public clients get no secret"
        );
        assert!(
            reply.json["client_id_issued_at"].as_i64() == Some(T0 / 1000),
            "issued at, in seconds"
        );
        let id = reply.text("client_id");
        let stored = gw
            .store
            .read_blocking({
                let id = ClientId::new(id.clone()).unwrap_or_else(|| panic!("id"));
                move |c| crate::store::clients::get(c, &id)
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("client {id} is stored"));
        assert_eq!(
            stored.registration.registration_source,
            crate::store::clients::RegistrationSource::Dcr
        );
        ids.push(id);
    }
    let mcp_remote = gw.register(&payloads[3]).await;
    assert_eq!(
        mcp_remote.json["scope"], "mcp:access offline_access",
        "openid email profile is down-scoped, not refused"
    );
    assert!(
        !ids.contains(&mcp_remote.text("client_id")),
        "each POST /register creates a new client"
    );
    let secret_basic = gw
        .register(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    assert_eq!(
        secret_basic.status,
        StatusCode::CREATED,
        "client_secret_basic is replaced by none, not refused (RFC 7591 §2)"
    );
    assert_eq!(
        secret_basic.json["token_endpoint_auth_method"], "none",
        "the response shows the effective value"
    );
}

#[tokio::test]
async fn dcr_refuses_bad_redirect_uris_and_malformed_metadata() {
    let gw = gateway();
    for uris in [
        json!(["http://evil.example/cb"]),
        json!(["javascript:alert(1)"]),
    ] {
        let reply = gw.register(&json!({"redirect_uris": uris})).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "a non-loopback http or script redirect is refused: {uris}"
        );
        assert_eq!(
            reply.error(),
            "invalid_redirect_uri",
            "a non-loopback http or script redirect is refused: {uris}"
        );
    }
    let reply = gw.register(&json!({"client_name": "x"})).await;
    assert_eq!(
        reply.error(),
        "invalid_redirect_uri",
        "redirect_uris missing"
    );
    let reply = gw
        .register(&json!({"redirect_uris": "http://localhost/cb"}))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "redirect_uris not an array"
    );
    let not_json = gw
        .send(
            Gateway::request(Method::POST, "/register")
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
    assert_eq!(
        not_json.status,
        StatusCode::BAD_REQUEST,
        "a body that is not JSON"
    );
    assert_eq!(
        not_json.error(),
        "invalid_client_metadata",
        "a body that is not JSON"
    );

    let huge = format!(
        "{{\"redirect_uris\":[\"{REDIRECT}\"],\"client_name\":\"{}\"}}",
        "a".repeat(1 << 20)
    );
    let reply = gw
        .send(
            Gateway::request(Method::POST, "/register")
                .header("content-type", "application/json")
                .body(Body::from(huge))
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "a 1 MiB body is refused before parsing"
    );
    assert_eq!(reply.error(), "invalid_client_metadata", "JSON error body");
}

#[tokio::test]
async fn dcr_flood_is_throttled() {
    let gw = gateway();
    let body = json!({"redirect_uris": [REDIRECT]});
    for i in 0..REGISTRATIONS_PER_MINUTE {
        let reply = gw.register(&body).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "registration {i} is within the limit"
        );
    }
    let reply = gw.register(&body).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "over the per-minute limit"
    );
    assert!(reply.header("retry-after").is_some(), "says when to retry");
    assert_eq!(reply.error(), "too_many_requests", "JSON error body");
    gw.clock.advance(MINUTE);
    assert_eq!(
        gw.register(&body).await.status,
        StatusCode::CREATED,
        "refilled"
    );
}

#[tokio::test]
async fn cors_for_loopback_origins_only() {
    let gw = gateway();
    for path in [
        "/register",
        "/token",
        "/revoke",
        "/.well-known/oauth-authorization-server",
    ] {
        let reply = gw
            .send(
                Gateway::request(Method::OPTIONS, path)
                    .header("origin", "http://localhost:6274")
                    .header("access-control-request-method", "POST")
                    .header("access-control-request-headers", "content-type")
                    .body(Body::empty())
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .await;
        assert!(
            reply.status.is_success(),
            "preflight on {path}: an ok status (Fetch, CORS-preflight fetch): {}",
            reply.status
        );
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("http://localhost:6274"),
            "the loopback origin is echoed, never *"
        );
        assert!(
            reply
                .header("access-control-allow-headers")
                .is_some_and(|h| h.contains("content-type")),
            "JSON and form bodies need content-type"
        );
    }
    let reply = gw
        .send(
            Gateway::request(Method::POST, "/register")
                .header("origin", "http://localhost:6274")
                .header("content-type", "application/json")
                .body(Body::from(json!({"redirect_uris": [REDIRECT]}).to_string()))
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "the Inspector registers from JS"
    );
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:6274")
    );

    let evil = gw
        .send(
            Gateway::request(Method::OPTIONS, "/register")
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await;
    assert_eq!(
        evil.status,
        StatusCode::FORBIDDEN,
        "the guard refuses foreign origins"
    );
    assert_eq!(evil.header("access-control-allow-origin"), None);
    let native = gw.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(
        native.header("access-control-allow-origin"),
        None,
        "no Origin, no CORS"
    );
}

#[tokio::test]
async fn code_exchange_issues_bearer_tokens_with_no_store() {
    let gw = gateway();
    let (code, reply) = gw.tokens().await;
    assert_no_store(&reply);
    assert_eq!(reply.json["token_type"], "Bearer");
    assert_eq!(reply.json["expires_in"], ACCESS_TOKEN_TTL / 1000);
    assert_eq!(reply.json["scope"], "mcp:access");
    let access = reply.text("access_token");
    assert!(
        access.starts_with("gh_at_"),
        "an opaque Gatehouse access token"
    );
    assert!(
        reply.text("refresh_token").starts_with("gh_rt_"),
        "refresh_token grant registered"
    );
    let row = {
        let hash = stored_hash(&access);
        gw.store
            .read_blocking(move |c| access_tokens::lookup(c, &hash))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("access token stored by hash"))
    };
    assert_eq!(
        row.resource,
        format!("{ISSUER}/mcp/github"),
        "audience = the code's resource"
    );
    assert_eq!(row.grant_id, code.grant);
    assert!(gw.access_usable(&access));

    // No refresh_token grant type and no offline_access: no refresh token.
    let client = gw.client(&["authorization_code"]).await;
    let connection = gw.connection("other");
    let reply = gw
        .exchange(&gw.code(&client, &connection, "mcp:access"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.json.get("refresh_token").is_none(), "{}", reply.json);
    let reply = gw
        .exchange(&gw.code(&client, &connection, "mcp:access offline_access"))
        .await;
    assert!(
        reply.json["refresh_token"].is_string(),
        "offline_access asks for one"
    );
}

#[tokio::test]
async fn code_exchange_refusals() {
    let gw = gateway();
    let client = gw.client(&["authorization_code", "refresh_token"]).await;
    let other = gw.client(&["authorization_code", "refresh_token"]).await;
    let connection = gw.connection("github");
    let code = gw.code(&client, &connection, "mcp:access");
    type Params = Vec<(&'static str, String)>;
    let base = |overrides: &[(&'static str, &str)]| -> Params {
        let mut params: Params = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.code.clone()),
            ("code_verifier", code.verifier.clone()),
            ("redirect_uri", REDIRECT.into()),
            ("client_id", client.to_string()),
        ];
        for (name, value) in overrides {
            params.retain(|(n, _)| n != name);
            if !value.is_empty() {
                params.push((name, (*value).to_owned()));
            }
        }
        params
    };
    let wrong_verifier = "x".repeat(43);
    let cases: Vec<(Params, &str, &str)> = vec![
        (
            base(&[("code_verifier", &wrong_verifier)]),
            "invalid_grant",
            "wrong verifier",
        ),
        (
            base(&[("code_verifier", "")]),
            "invalid_request",
            "missing verifier",
        ),
        (
            base(&[("client_id", other.as_str())]),
            "invalid_grant",
            "another client",
        ),
        (
            base(&[("redirect_uri", "http://localhost:53124/callback")]),
            "invalid_grant",
            "another redirect_uri",
        ),
        (
            base(&[("redirect_uri", "")]),
            "invalid_request",
            "redirect_uri is required",
        ),
        (
            base(&[("resource", "https://other.example/mcp")]),
            "invalid_target",
            "resource outside the grant",
        ),
        (
            base(&[("resource", &format!("{ISSUER}/mcp/other"))]),
            "invalid_target",
            "another connection's resource",
        ),
        (
            base(&[("code", "gh_ac_unknown")]),
            "invalid_grant",
            "unknown code",
        ),
    ];
    for (params, error, why) in cases {
        let pairs: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = gw.form("/token", &pairs).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{why}");
        assert_eq!(reply.error(), error, "{why}");
        assert_no_store(&reply);
    }
    let via_localhost = format!("http://localhost:{PORT}/mcp/github");
    let pairs = base(&[("resource", &via_localhost)]);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let reply = gw.form("/token", &pairs).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "failed attempts did not burn the code, and a loopback alias names the same resource: {}",
        reply.json
    );

    let late = gw.code(&client, &connection, "mcp:access");
    gw.clock.advance(11 * MINUTE);
    let reply = gw.exchange(&late).await;
    assert_eq!(
        reply.error(),
        "invalid_grant",
        "a code older than 10 minutes has expired"
    );
}

#[tokio::test]
async fn code_reuse_revokes_the_grant_but_a_bad_replay_does_not() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let (access, refresh) = (first.text("access_token"), first.text("refresh_token"));

    let mut replay = vec![
        ("grant_type", "authorization_code"),
        ("code", code.code.as_str()),
        (
            "code_verifier",
            "wrong-verifier-wrong-verifier-wrong-verifier-1",
        ),
        ("redirect_uri", REDIRECT),
        ("client_id", code.client_id.as_str()),
    ];
    let reply = gw.form("/token", &replay).await;
    assert_eq!(
        reply.error(),
        "invalid_grant",
        "replay with a wrong verifier"
    );
    assert!(
        gw.access_usable(&access),
        "a bad replay revokes nothing (no denial of service)"
    );
    assert!(gw.refresh_usable(&refresh), "nor the refresh token");

    replay[2].1 = &code.verifier;
    let reply = gw.form("/token", &replay).await;
    assert_eq!(reply.error(), "invalid_grant", "second valid redemption");
    assert_no_store(&reply);
    assert!(
        !gw.access_usable(&access),
        "the first access token stops working"
    );
    assert!(!gw.refresh_usable(&refresh), "and the refresh token");
    assert_eq!(
        gw.grant_status(&code.grant),
        GrantStatus::Revoked,
        "code reuse revokes the grant"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_grant() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let (at1, rt1) = (first.text("access_token"), first.text("refresh_token"));
    let second = gw.refresh(&code.client_id, &rt1).await;
    assert_eq!(second.status, StatusCode::OK, "refresh: {}", second.json);
    assert_no_store(&second);
    let (at2, rt2) = (second.text("access_token"), second.text("refresh_token"));
    assert_ne!(rt1, rt2, "the refresh token rotates");
    assert_ne!(at1, at2, "a new access token");
    assert_eq!(second.json["scope"], "mcp:access", "same scope");

    // A racing client presents RT1 again right away: the same pair, nothing revoked.
    gw.clock.advance(REFRESH_REUSE_GRACE / 2);
    let race = gw.refresh(&code.client_id, &rt1).await;
    assert_eq!(race.status, StatusCode::OK, "grace window: {}", race.json);
    assert_eq!(race.text("access_token"), at2, "the same access token");
    assert_eq!(race.text("refresh_token"), rt2, "the same refresh token");
    assert_eq!(gw.grant_status(&code.grant), GrantStatus::Active);

    // After the window, RT1 again is theft.
    gw.clock.advance(REFRESH_REUSE_GRACE);
    let reuse = gw.refresh(&code.client_id, &rt1).await;
    assert_eq!(
        reuse.error(),
        "invalid_grant",
        "reuse of a rotated refresh token"
    );
    assert_eq!(
        gw.grant_status(&code.grant),
        GrantStatus::Revoked,
        "refresh-token reuse revokes the grant"
    );
    assert!(!gw.refresh_usable(&rt2), "RT2 revoked");
    assert!(
        !gw.access_usable(&at1) && !gw.access_usable(&at2),
        "every access token of the grant"
    );
    let after = gw.refresh(&code.client_id, &rt2).await;
    assert_eq!(after.error(), "invalid_grant", "refresh after revocation");
}

#[tokio::test]
async fn old_refresh_token_fails_once_rotated() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let rt1 = first.text("refresh_token");
    assert_eq!(
        gw.refresh(&code.client_id, &rt1).await.status,
        StatusCode::OK
    );
    let other = gw.client(&["authorization_code", "refresh_token"]).await;
    let reply = gw.refresh(&other, &rt1).await;
    assert_eq!(
        reply.error(),
        "invalid_grant",
        "another client never gets the grace pair"
    );
    assert_eq!(
        gw.grant_status(&code.grant),
        GrantStatus::Active,
        "and revokes nothing"
    );
}

#[tokio::test]
async fn refresh_refusals() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let rt = first.text("refresh_token");
    let client = code.client_id.as_str();
    let wider = gw
        .form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", client),
                ("scope", "mcp:access offline_access"),
            ],
        )
        .await;
    assert_eq!(
        wider.error(),
        "invalid_scope",
        "a scope wider than the grant's"
    );
    let other = gw.client(&["authorization_code", "refresh_token"]).await;
    assert_eq!(
        gw.refresh(&other, &rt).await.error(),
        "invalid_grant",
        "another client's refresh token"
    );
    assert!(gw.refresh_usable(&rt), "refusals change nothing");
    let bad_resource = gw
        .form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", client),
                ("resource", "https://other.example/mcp"),
            ],
        )
        .await;
    assert_eq!(bad_resource.error(), "invalid_target");
    gw.clock.advance(31 * 24 * 60 * MINUTE);
    assert_eq!(
        gw.refresh(&code.client_id, &rt).await.error(),
        "invalid_grant",
        "an expired refresh token"
    );
}

#[tokio::test]
async fn unsupported_grants_and_malformed_token_requests() {
    let gw = gateway();
    for grant_type in [
        "password",
        "client_credentials",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let reply = gw
            .form("/token", &[("grant_type", grant_type), ("client_id", "c")])
            .await;
        assert_eq!(
            reply.error(),
            "unsupported_grant_type",
            "only authorization_code and refresh_token: {grant_type}"
        );
        assert_no_store(&reply);
    }
    let missing = gw.form("/token", &[("client_id", "c")]).await;
    assert_eq!(missing.error(), "invalid_request", "grant_type missing");
    let twice = gw
        .form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("grant_type", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(twice.error(), "invalid_request", "parameters are sent once");
    let no_client = gw
        .form(
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(
        no_client.error(),
        "invalid_request",
        "client_id is required"
    );
    for (content_type, body) in [
        (
            "application/json",
            "{\"grant_type\":\"authorization_code\"}".to_owned(),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("grant_type=x&pad={}", "a".repeat(1 << 20)),
        ),
        ("application/x-www-form-urlencoded", "%%%=&&=%zz".to_owned()),
    ] {
        let reply = gw
            .send(
                Gateway::request(Method::POST, "/token")
                    .header("content-type", content_type)
                    .body(Body::from(body))
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{content_type}: never a 500"
        );
        assert!(
            ["invalid_request", "unsupported_grant_type"].contains(&reply.error()),
            "{}",
            reply.json
        );
    }
}

#[tokio::test]
async fn revocation_of_own_unknown_and_foreign_tokens() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let (access, refresh) = (first.text("access_token"), first.text("refresh_token"));
    let client = code.client_id.as_str();

    let unknown = gw
        .form(
            "/revoke",
            &[("token", "gh_rt_nothing"), ("client_id", client)],
        )
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::OK,
        "an unknown token still gets 200"
    );

    let other = gw.client(&["authorization_code", "refresh_token"]).await;
    for hint in ["access_token", "refresh_token"] {
        for token in [&access, &refresh] {
            let reply = gw
                .form(
                    "/revoke",
                    &[
                        ("token", token),
                        ("token_type_hint", hint),
                        ("client_id", other.as_str()),
                    ],
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "another client's token is refused"
            );
            assert_eq!(reply.error(), "invalid_client", "another client's token");
        }
    }
    assert!(
        gw.access_usable(&access) && gw.refresh_usable(&refresh),
        "a refused revocation leaves the tokens working"
    );

    let reply = gw
        .form(
            "/revoke",
            &[
                ("token", &refresh),
                ("token_type_hint", "access_token"),
                ("client_id", client),
            ],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "a wrong hint still finds the token"
    );
    assert!(!gw.refresh_usable(&refresh), "refresh token revoked");
    assert!(!gw.access_usable(&access), "the grant's access tokens too");
    assert_eq!(
        gw.refresh(&code.client_id, &refresh).await.error(),
        "invalid_grant",
        "a revoked refresh token no longer refreshes"
    );
    assert_eq!(gw.grant_status(&code.grant), GrantStatus::Revoked);
}

#[tokio::test]
async fn revoking_an_access_token_revokes_only_it() {
    let gw = gateway();
    let (code, first) = gw.tokens().await;
    let (access, refresh) = (first.text("access_token"), first.text("refresh_token"));
    let reply = gw
        .form(
            "/revoke",
            &[("token", &access), ("client_id", code.client_id.as_str())],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!gw.access_usable(&access), "revoked");
    assert!(gw.refresh_usable(&refresh), "the refresh token lives on");
    assert_eq!(
        gw.refresh(&code.client_id, &refresh).await.status,
        StatusCode::OK
    );
    let no_client = gw.form("/revoke", &[("token", &refresh)]).await;
    assert_eq!(
        no_client.error(),
        "invalid_client",
        "client_id identifies a public client"
    );
}
