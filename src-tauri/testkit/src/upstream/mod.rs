//! Fake upstreams: axum servers on `127.0.0.1:0` that answer as MCP servers and authorization
//! servers do and record what reaches them, so a test sees what Gatehouse sent on the client's
//! behalf (and on its own).
//!
//! - [`recording`]: a dual-era MCP server that records every request (the proxy tests).
//! - [`eras`]: one MCP server for each protocol era, modern-only and legacy-only.
//! - [`oauth`]: an MCP server behind OAuth and its authorization server (the sign-in tests).

pub mod eras;
pub mod oauth;
pub mod recording;

use axum::Router;

/// Serves `app` on `127.0.0.1:0` for the rest of the test; its base URL, `http://127.0.0.1:PORT`.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind an upstream: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("upstream address: {e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}
