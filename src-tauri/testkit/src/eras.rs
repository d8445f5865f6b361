//! The protocol-era tests' world: Gatehouse in front of one of the [era
//! upstreams](crate::upstream::eras) through connection `a` (a header credential, [`SECRET`]), and
//! the two kinds of request those tests make: a legacy-era POST in a session and a 2026-07-28 POST
//! with its `_meta` envelope and routing headers.

use std::sync::Arc;

use axum::Router;
use axum::routing::MethodRouter;
use serde_json::{Value, json};

pub use crate::upstream::eras::*;
use crate::world::World;

/// The credential connection `a` sends upstream.
pub const SECRET: &str = "upstream-api-key-eras";
/// The `_meta` key of the protocol version of a 2026-07-28 request.
pub const VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key of the client's identity in a 2026-07-28 request.
pub const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";

/// Gatehouse in front of an era upstream.
pub type Env = World<Arc<EraUpstream>>;

impl World<Arc<EraUpstream>> {
    /// Gatehouse in front of a fake upstream answering POSTs with `route`.
    pub async fn new(route: MethodRouter<Arc<EraUpstream>>) -> Self {
        let fake = Arc::new(EraUpstream::default());
        let app = Router::new()
            .route("/mcp", route.get(record_other).delete(record_other))
            .with_state(fake.clone());
        let url = format!("{}/mcp", crate::upstream::serve(app).await);
        World::builder()
            .header_connection("a", &url, SECRET)
            .client_name("Eras Client")
            .start(fake)
            .await
    }

    /// A new active grant on connection `a` (all tools); an access token for it.
    pub fn new_grant_token(&self) -> String {
        self.grant(&self.connection.clone(), "a", None, "mcp:access")
            .1
    }

    /// A legacy-era POST, on `session` if given.
    pub async fn legacy(
        &self,
        token: &str,
        session: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut r = self.post("a", Some(token), body);
        if let Some(s) = session {
            r = r.header("mcp-session-id", s);
        }
        send(r).await
    }

    /// A 2026-07-28 POST: the `_meta` envelope in the body, the routing headers that match it.
    pub async fn modern(
        &self,
        t: &str,
        id: &str,
        method: &str,
        params: Value,
    ) -> reqwest::Response {
        let mut body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let envelope = json!({VERSION_KEY: MODERN, CLIENT_INFO_KEY: {"name": "modern-client",
            "version": "2"}, "io.modelcontextprotocol/clientCapabilities": {}});
        for (key, value) in envelope.as_object().into_iter().flatten() {
            body["params"]["_meta"][key] = value.clone();
        }
        let mut r = self
            .post("a", Some(t), &body)
            .header("mcp-protocol-version", MODERN)
            .header("mcp-method", method);
        if let Some(name) = body["params"]["name"].as_str() {
            r = r.header("mcp-name", name);
        }
        send(r).await
    }

    /// The POSTs of `method` made for the clients (`own`: those Gatehouse made on its own).
    pub fn posts(&self, method: &str, own: bool) -> Vec<Request> {
        let mut posts = self.upstream.posts(method);
        posts.retain(|s| s.is_gatehouse_own() == own);
        posts
    }
}

/// Sends `r`; the response, or a panic.
pub async fn send(r: reqwest::RequestBuilder) -> reqwest::Response {
    r.send().await.unwrap_or_else(|e| panic!("send: {e}"))
}
