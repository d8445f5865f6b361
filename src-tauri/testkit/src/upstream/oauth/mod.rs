//! An MCP server behind OAuth and its authorization server, both fakes on `127.0.0.1:0` that log
//! and count every request in one [`OAuthUpstream`]: the MCP endpoint answers 401 with a
//! `resource_metadata` challenge (RFC 9728 §5.1) and serves its protected resource metadata
//! ([`resource`]); the authorization server has RFC 8414 metadata, RFC 7591 registration, an
//! auto-approving `/authorize`, a `/token` that checks PKCE (RFC 7636) and rotates refresh tokens,
//! RFC 7009 `/revoke` and `/userinfo` ([`authorization_server`]). Each switch on
//! [`OAuthUpstream`] makes one of them misbehave the way a test needs.

pub mod authorization_server;
pub mod resource;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};

pub use authorization_server::*;
pub use resource::*;

pub const AT_PREFIX: &str = "UPSTREAM-AT-SECRET-";
pub const RT_PREFIX: &str = "UPSTREAM-RT-SECRET-";
pub const M2M_SECRET: &str = "M2M-CLIENT-SECRET-5d1e";
/// The `error_description` of an `iss_mode` "denied" redirect: markup the callback page must escape.
pub const DENIAL_MARKUP: &str = "<script>alert(1)</script> \"><img src=x onerror=alert(3)>";

/// The state of both servers: what they were asked, what they issued, how they misbehave.
#[derive(Default)]
pub struct OAuthUpstream {
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

impl OAuthUpstream {
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

/// The bearer token of a request.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
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

/// A 2025-03-26 upstream: the MCP endpoint and its authorization server on one origin, no
/// protected resource metadata, a bare challenge, and (unless `with_metadata`) no RFC 8414 document
/// either, so only the default `/authorize`, `/token` and `/register` are there to find.
pub async fn start_legacy_oauth_upstream(with_metadata: bool) -> Arc<OAuthUpstream> {
    let w = Arc::new(OAuthUpstream::default());
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
    let base = super::serve(app.fallback(not_found).with_state(w.clone())).await;
    *w.mcp_base.lock().unwrap() = base.clone();
    *w.issuer.lock().unwrap() = base;
    w
}

/// An MCP server behind OAuth (a challenge naming its protected resource metadata) and its
/// authorization server, each on its own socket.
pub async fn start_oauth_upstream() -> Arc<OAuthUpstream> {
    let w = Arc::new(OAuthUpstream::default());
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
    *w.mcp_base.lock().unwrap() = super::serve(mcp_app).await;
    *w.issuer.lock().unwrap() = super::serve(as_app).await;
    w
}
