//! The upstream sign-in tests' world: Gatehouse, with OAuth connection `up`, beside an [OAuth
//! upstream](crate::upstream::oauth) (an MCP server and its authorization server). Its steps are
//! those of a person signing in: start a sign-in as the CLI or the app does, follow the
//! authorization server's redirect, deliver the callback to the gateway, then use the connection
//! with a local access token. No client is registered up front: each local token comes with a
//! client of its own, and the audit log holds only what the test did.
//!
//! Importing `signin::*` brings the upstream, the browser and the log buffer the tests use along.

use std::sync::Arc;

use axum::http::StatusCode;
use gatehouse_core::clock::{SharedClock, SystemClock};
use gatehouse_core::oauth::upstream::UpstreamOAuth;
use gatehouse_core::store::{ConnectionId, GrantId, upstream_credentials};
use serde_json::{Value, json};

pub use crate::browser::{open_consent, opened, recording_browser};
pub use crate::clients::{REDIRECT_URI, register_client, registration};
pub use crate::connections::add_oauth_connection;
pub use crate::logs::log_buffer;
use crate::tokens::{self, NewActiveGrant};
pub use crate::upstream::oauth::*;
pub use crate::upstream::serve;
use crate::world::World;

/// Gatehouse beside the OAuth upstream.
pub type Env = World<Arc<OAuthUpstream>>;

impl World<Arc<OAuthUpstream>> {
    /// A new OAuth upstream and Gatehouse beside it.
    pub async fn new() -> Self {
        Self::in_front_of(start_oauth_upstream().await).await
    }

    /// Gatehouse with connection `up` to `upstream`'s MCP endpoint.
    pub async fn in_front_of(upstream: Arc<OAuthUpstream>) -> Self {
        Self::in_front_of_with_clock(upstream, Arc::new(SystemClock)).await
    }

    /// [`Env::in_front_of`] on `clock` (a `ManualClock` moves time without sleeping).
    pub async fn in_front_of_with_clock(upstream: Arc<OAuthUpstream>, clock: SharedClock) -> Self {
        log_buffer();
        let url = format!(
            "{}/mcp",
            upstream.mcp_base.lock().unwrap_or_else(|e| e.into_inner())
        );
        World::builder()
            .clock(clock)
            .without_client()
            .oauth_connection("up", &url)
            .start(upstream)
            .await
    }

    /// The gateway's loopback callback for upstream sign-ins.
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
            .unwrap_or_else(|e| panic!("GET the authorization URL: {e}"));
        assert_eq!(r.status(), 302, "the AS auto-approves");
        let location = r.headers()["location"].to_str();
        location
            .unwrap_or_else(|e| panic!("the AS's Location: {e}"))
            .to_owned()
    }

    /// The browser reaching the gateway's loopback callback.
    pub async fn deliver(&self, callback: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(callback)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET the callback: {e}"));
        let status = r.status();
        let page = r
            .text()
            .await
            .unwrap_or_else(|e| panic!("the callback page: {e}"));
        (status, page)
    }

    /// A whole sign-in to connection `up`, its callback page checked.
    pub async fn sign_in(&self) {
        let callback = self.authorize().await;
        let (status, page) = self.deliver(&callback).await;
        assert_eq!(status, 200, "the callback completes the sign-in: {page}");
        assert!(page.contains("Signed in to Upstream up"), "{page}");
    }

    /// A new client with an active grant on connection `up`; a local access token of it for `up`.
    pub fn local_token(&self) -> String {
        let client = register_client(&self.vault, "Test Client");
        let grant = NewActiveGrant {
            id: GrantId::new(),
            client: &client,
            connection: &self.connection,
            redirect_uri: REDIRECT_URI.into(),
            scopes: "mcp:access",
            tools: None,
        };
        let grant = tokens::active_grant(&self.vault, &grant);
        let resource = self.url("up");
        let scopes = "mcp:access";
        tokens::access_token(
            &self.vault,
            &grant,
            &client,
            &resource,
            scopes,
            tokens::HOUR_MS,
        )
    }

    /// `tools/list` on connection `up` with the local token `local`; the JSON answer.
    pub async fn call(&self, local: &str) -> Value {
        self.http
            .post(self.url("up"))
            .bearer_auth(local)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(json!({"jsonrpc":"2.0","id":7,"method":"tools/list"}).to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /mcp/up: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("the JSON answer of /mcp/up: {e}"))
    }

    /// Makes the stored upstream access token of connection `up` expired a second ago.
    pub fn expire_access_token(&self) {
        let id = self.connection.clone();
        let now = self.vault.store().now();
        self.vault
            .store()
            .write_blocking(move |tx| {
                let mut c = upstream_credentials::get(tx, &id)?
                    .unwrap_or_else(|| panic!("connection up has upstream credentials"));
                c.expires_at = Some(now - 1000);
                upstream_credentials::put(tx, &c, now)
            })
            .unwrap_or_else(|e| panic!("expiring the upstream token: {e}"));
    }
}
