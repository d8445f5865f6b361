//! The metadata, registration, token and revocation endpoints driven through the whole gateway router
//! (Host/Origin guard included) with `oneshot`, on a real store in a temporary directory and a manual
//! clock.
//!
//! This module is the gateway the tests share (`Gateway`: the router on a vault, the requests a
//! client makes, codes and tokens issued as consent issues them); the tests are in its children, by
//! endpoint.

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

mod code_exchange;
mod discovery;
mod refresh;
mod registration;
mod revocation;

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
