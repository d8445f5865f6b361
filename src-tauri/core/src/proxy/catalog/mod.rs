//! The upstream's tools, for the consent page's allow-list checkboxes.
//!
//! The conversation is rmcp's (the official Rust MCP SDK): its client runs the legacy-era lifecycle
//! over its streamable HTTP transport, `initialize` (protocol 2025-06-18, client `gatehouse`), then
//! `notifications/initialized`, keeps the session id and the negotiated `mcp-protocol-version`,
//! reads each answer as JSON or as an SSE stream of JSON-RPC messages, matches responses to
//! requests, and at [`close`](rmcp::service::RunningService::close) ends the session with a
//! `DELETE`. The catalog pages `tools/list` itself, following `nextCursor` for at most
//! [`MAX_PAGES`] pages (rmcp's `list_all_tools` has no such bound), under one [`DEADLINE`] for the
//! whole exchange.
//!
//! What stays hand-written is the HTTP under the transport, [`wire`]: rmcp's own reqwest client is
//! built on reqwest 0.13 (a second reqwest and TLS stack next to the workspace's 0.12), and it would
//! not carry Gatehouse's rules: the caller's client that never follows a redirect
//! ([`super::upstream_client`]; a redirect is an error, so the credential goes nowhere else), the
//! connection's credential, a sealed header of any name or the upstream OAuth bearer, injected by
//! [`Upstream::request`](super::upstream::Upstream::request) as for every proxied request, a cap of
//! [`MAX_RESPONSE`] bytes on each answer, SSE included, and the sentences the consent page shows
//! when the upstream cannot be listed.

mod wire;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::HeaderValue;
use rmcp::ServiceExt;
use rmcp::model::{
    ClientCapabilities, ClientConfig, ErrorData, Implementation, PaginatedRequestParams,
    ProtocolVersion,
};
use rmcp::service::{ClientInitializeError, Peer, RoleClient, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::common::client_side_sse::NeverRetry;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use secrecy::{ExposeSecret, SecretString};

use self::wire::CatalogHttp;
use super::upstream::upstream_of;
use crate::stdio::StdioHost;
use crate::store::connections::ConnectionRow;
use crate::vault::Vault;

/// Most `tools/list` pages followed.
pub const MAX_PAGES: usize = 20;
/// Largest response body read.
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;
/// Deadline for the whole exchange.
pub const DEADLINE: Duration = Duration::from_secs(20);

type Tools = Vec<(String, Option<String>, Option<String>)>;

/// `(name, title, description)` of every tool the upstream lists, in its order.
pub async fn list_upstream_tools(
    vault: &Vault,
    http: &reqwest::Client,
    connection: &ConnectionRow,
) -> Result<Tools, String> {
    list_upstream_tools_with(vault, http, connection, None).await
}

/// [`list_upstream_tools_with`] that can also reach a stdio connection's local server.
pub async fn list_upstream_tools_via(
    vault: &Vault,
    stdio: &Arc<StdioHost>,
    http: &reqwest::Client,
    connection: &ConnectionRow,
    bearer: Option<&SecretString>,
) -> Result<Tools, String> {
    match tokio::time::timeout(DEADLINE, list(vault, Some(stdio), http, connection, bearer)).await {
        Ok(result) => result,
        Err(_) => Err("the upstream MCP server did not answer in time".into()),
    }
}

/// [`list_upstream_tools`] for an OAuth connection: `bearer` is its upstream access token.
pub async fn list_upstream_tools_with(
    vault: &Vault,
    http: &reqwest::Client,
    connection: &ConnectionRow,
    bearer: Option<&SecretString>,
) -> Result<Tools, String> {
    match tokio::time::timeout(DEADLINE, list(vault, None, http, connection, bearer)).await {
        Ok(result) => result,
        Err(_) => Err("the upstream MCP server did not answer in time".into()),
    }
}

async fn list(
    vault: &Vault,
    stdio: Option<&Arc<StdioHost>>,
    http: &reqwest::Client,
    connection: &ConnectionRow,
    bearer: Option<&SecretString>,
) -> Result<Tools, String> {
    let upstream = upstream_of(vault, stdio, connection)?;
    let bearer = bearer.and_then(|token| {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).ok()?;
        v.set_sensitive(true);
        Some(v)
    });
    let mut config = StreamableHttpClientTransportConfig::with_uri(upstream.url.as_str())
        // An expired session is the upstream's failure here, not a reason to start again.
        .reinit_on_expired_session(false);
    // A broken SSE answer is an error, not a stream to resume with GET.
    config.retry_config = Arc::new(NeverRetry::default());
    let failure: wire::FirstFailure = Arc::new(OnceLock::new());
    let client = CatalogHttp::new(http.clone(), upstream, bearer, failure.clone());
    let transport = StreamableHttpClientTransport::with_client(client, config);

    let mut info = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("gatehouse", env!("CARGO_PKG_VERSION")),
    );
    info.protocol_version = ProtocolVersion::V_2025_06_18;
    let mut running = info.serve(transport).await.map_err(|e| {
        failure
            .get()
            .cloned()
            .unwrap_or_else(|| initialize_failure(&e))
    })?;
    let listed = pages(running.peer()).await;
    // Ends the transport, which deletes the session (best effort) before it returns.
    let _ = running.close().await;
    listed.map_err(|e| {
        failure
            .get()
            .cloned()
            .unwrap_or_else(|| request_failure(&e))
    })
}

/// `tools/list`, following `nextCursor` for at most [`MAX_PAGES`] pages.
async fn pages(peer: &Peer<RoleClient>) -> Result<Tools, ServiceError> {
    let mut tools = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let params = PaginatedRequestParams::default().with_cursor(cursor);
        let page = peer.list_tools(Some(params)).await?;
        tools.extend(page.tools.into_iter().map(|tool| {
            (
                tool.name.into_owned(),
                tool.title,
                tool.description.map(|d| d.into_owned()),
            )
        }));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(tools)
}

const NOT_MCP: &str = "the upstream's answer is not an MCP response Gatehouse can read";
const ENDED: &str = "the upstream's stream ended without a response";

/// Why `initialize` failed, when it was not on the wire (see [`wire::FirstFailure`]).
fn initialize_failure(error: &ClientInitializeError) -> String {
    match error {
        ClientInitializeError::JsonRpcError(error) => refused(error),
        ClientInitializeError::ConnectionClosed(_) => ENDED.to_owned(),
        _ => NOT_MCP.to_owned(),
    }
}

/// Why `tools/list` failed, when it was not on the wire (see [`wire::FirstFailure`]).
fn request_failure(error: &ServiceError) -> String {
    match error {
        ServiceError::McpError(error) => refused(error),
        ServiceError::TransportClosed => ENDED.to_owned(),
        _ => NOT_MCP.to_owned(),
    }
}

/// A JSON-RPC error: the upstream's own, or the one rmcp answers a request with when its SSE
/// stream closed before the response (marked in `data`).
fn refused(error: &ErrorData) -> String {
    let rmcp_closed = error
        .data
        .as_ref()
        .and_then(|data| data.get("io.modelcontextprotocol/transportClosed"))
        .is_some();
    if rmcp_closed {
        ENDED.to_owned()
    } else {
        format!("the upstream MCP server refused: {}", error.message)
    }
}
