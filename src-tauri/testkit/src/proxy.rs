//! The proxy tests' world: Gatehouse in front of the [recording upstream](crate::upstream::recording)
//! through connection `a`, which carries a header credential ([`SECRET`]); the world's client holds
//! the grants the tests make. Also the JSON-RPC messages and response readers those tests share.

use std::sync::Arc;

use serde_json::{Value, json};

pub use crate::connections::add_header_connection;
pub use crate::upstream::recording::*;
pub use crate::world::ACCEPT_BOTH;
use crate::world::World;

/// The credential connection `a` sends upstream.
pub const SECRET: &str = "upstream-api-key-7f3a";

/// Gatehouse in front of the recording upstream.
pub type Env = World<Arc<Seen>>;

impl World<Arc<Seen>> {
    /// A new recording upstream and Gatehouse in front of it.
    pub async fn new() -> Self {
        let (upstream_url, seen) = start_upstream().await;
        Self::with_upstream(&upstream_url, seen).await
    }

    /// Gatehouse with connection `a` to `upstream_url`, whose requests `seen` records.
    pub async fn with_upstream(upstream_url: &str, seen: Arc<Seen>) -> Self {
        World::builder()
            .header_connection("a", upstream_url, SECRET)
            .start(seen)
            .await
    }

    /// An active grant on connection `a` with every tool, and an access token for it.
    pub fn all_tools_token(&self) -> (gatehouse_core::store::GrantId, String) {
        self.grant(&self.connection.clone(), "a", None, "mcp:access")
    }

    /// initialize on connection `a`; returns the local session id.
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

    /// [`Seen::client_requests`]: what the upstream got for the clients.
    pub fn upstream_requests(&self) -> Vec<(String, axum::http::HeaderMap, Value)> {
        self.upstream.client_requests()
    }
}

/// A 2025-06-18 `initialize`.
pub fn init() -> Value {
    json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})
}

/// `tools/call` of `tool` with the text "hi".
pub fn call(id: &Value, tool: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"text":"hi"}}})
}

/// A response header as text.
pub fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The JSON body of a response.
pub async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.unwrap_or_else(|e| panic!("json body: {e}"))
}
