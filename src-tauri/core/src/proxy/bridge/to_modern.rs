//! A legacy client (2025-03-26 … 2025-11-25) in front of a 2026-07-28 upstream (MCP 2026-07-28
//! basic/versioning §Backward Compatibility: "Legacy client, Modern server: fails" without an
//! intermediary; Streamable HTTP §Earlier Streamable HTTP Revisions).
//!
//! - **`initialize`** is answered by Gatehouse from the upstream's `DiscoverResult`: the client's
//!   protocol version if Gatehouse speaks it (else 2025-11-25, MCP 2025-11-25 lifecycle §Version
//!   Negotiation), the upstream's capabilities, `serverInfo` (its `_meta` server info, or the
//!   connection's name) and instructions. Gatehouse mints the session id and keeps what the client
//!   declared ([`ModernBridge`]).
//! - **Each request of the session** goes upstream as a modern one: `_meta` gets the protocol
//!   version, the client's `clientInfo` and the capabilities it may use through the bridge (only
//!   `extensions`: server-to-client requests do not cross, see [`super`]), and the headers
//!   `MCP-Protocol-Version: 2026-07-28`, `Mcp-Method`, `Mcp-Name` and the `Mcp-Param-*` of the
//!   tool's `x-mcp-header` annotations ([`crate::proxy::param_headers`],
//!   [`crate::proxy::tool_annotations`]). Those annotations come from the
//!   upstream's `tools/list`, fetched once per configuration and again when the upstream answers
//!   -32020 (§Client Behavior: "call tools/list … then retry").
//! - **What has no modern counterpart** is answered here: `ping` (`{}`), notifications and the
//!   client's responses (202; `notifications/cancelled` cannot name a stateless request upstream),
//!   GET (405: a modern server has no standalone stream, 2025-11-25 transports §Listening), DELETE
//!   (the session ends here; the upstream holds none).
//! - A modern upstream's 404 means an unknown method (2026-07-28 Streamable HTTP §Server
//!   Validation), not a lost session, so the client gets -32601 and keeps its session. An upstream
//!   that answers the way only a legacy server does (400 without a modern error) has its era
//!   forgotten, so the next `initialize` probes again.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

use super::Crossing;
use crate::proxy::era::{self, MCP_NAME, SERVER_INFO_KEY};
use crate::proxy::filter::ToolAllowList;
use crate::proxy::forward::{Exchange, MCP_PROTOCOL_VERSION, MCP_SESSION_ID};
use crate::proxy::jsonrpc;
use crate::proxy::modern::HEADER_MISMATCH;
use crate::proxy::param_headers;
use crate::proxy::relay::send;
use crate::proxy::sessions::ModernBridge;
use crate::proxy::upstream::set_bearer;

/// The legacy versions Gatehouse negotiates with a client, newest first.
pub const LEGACY_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];
/// Largest error body read to look for -32020.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The `initialize` answer for a legacy client of a modern upstream.
pub(crate) fn initialize(crossing: &Crossing, discovered: &Value) -> Response {
    let Some(id) = crossing.message.id.as_ref() else {
        return StatusCode::ACCEPTED.into_response();
    };
    let params = crossing.body.get("params");
    let requested = params
        .and_then(|p| p.get("protocolVersion"))
        .and_then(Value::as_str);
    let version = requested
        .filter(|v| LEGACY_VERSIONS.contains(v))
        .unwrap_or(LEGACY_VERSIONS[0]);
    let client_info = params
        .and_then(|p| p.get("clientInfo"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut client_capabilities = Map::new();
    if let Some(extensions) = params.and_then(|p| p.pointer("/capabilities/extensions")) {
        client_capabilities.insert("extensions".into(), extensions.clone());
    }
    let server_info = discovered
        .pointer(&format!("/_meta/{}", SERVER_INFO_KEY.replace('/', "~1")))
        .filter(|v| v.get("name").is_some_and(Value::is_string))
        .cloned()
        .unwrap_or_else(|| json!({ "name": crossing.upstream.connection_name, "version": "" }));
    let mut result = json!({
        "protocolVersion": version,
        "capabilities": discovered.get("capabilities").cloned().unwrap_or_else(|| json!({})),
        "serverInfo": server_info,
    });
    if let (Some(instructions), Some(map)) = (
        discovered.get("instructions").filter(|v| v.is_string()),
        result.as_object_mut(),
    ) {
        map.insert("instructions".into(), instructions.clone());
    }
    let local = crossing.proxy.sessions.open_bridged(
        &crossing.authorized.token.grant_id,
        &crossing.authorized.token.connection_id,
        ModernBridge {
            version: version.to_owned(),
            client_info,
            client_capabilities: Value::Object(client_capabilities),
        },
        crossing.message.url_elicitation,
    );
    let mut response = jsonrpc::answer_result(id, &result);
    if let Ok(value) = HeaderValue::from_str(&local) {
        response.headers_mut().insert(MCP_SESSION_ID, value);
    }
    response
}

/// GET on a bridged session: a modern upstream has no standalone stream.
pub(crate) fn get() -> Response {
    StatusCode::METHOD_NOT_ALLOWED.into_response()
}

/// A request (or notification, or response) on a bridged session.
pub(crate) async fn on_session(mut crossing: Crossing, bridge: Arc<ModernBridge>) -> Response {
    let method = crossing.message.method.clone();
    let method = method.as_deref();
    let Some(id) = crossing.message.id.clone() else {
        // Notifications (initialized, cancelled, roots/list_changed) and the client's responses.
        return StatusCode::ACCEPTED.into_response();
    };
    match method {
        Some("ping") => return jsonrpc::answer_result(&id, &json!({})),
        Some("initialize") => {
            return jsonrpc::error_response(
                StatusCode::BAD_REQUEST,
                Some(&id),
                jsonrpc::INVALID_REQUEST,
                "the session is already initialized",
            );
        }
        _ => {}
    }
    if method == Some("tools/list") {
        // Gatehouse is this upstream's HTTP client: a tool whose x-mcp-header annotations are
        // invalid is not offered (Streamable HTTP §Schema Extension).
        let invalid = crossing
            .proxy
            .tool_annotations
            .invalid(
                &crossing.proxy,
                &crossing.upstream,
                crossing.bearer.as_ref(),
            )
            .await;
        if !invalid.is_empty() {
            let allow =
                ToolAllowList::from_json(crossing.authorized.token.grant_tools_json.as_deref())
                    .without(invalid);
            crossing.tools_list = Some((allow, vec![id.clone()]));
        }
    }
    let mut body = crossing.body.clone();
    add_envelope(&mut body, &bridge);
    let first = forward(&crossing, &body, false).await;
    if first.status() != StatusCode::BAD_REQUEST {
        return first;
    }
    // A 400: a stale `Mcp-Param-*` (retry after a fresh tools/list), or an upstream that is not
    // modern after all.
    let (parts, bytes) = match read_small(first).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let code = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.pointer("/error/code").and_then(Value::as_i64));
    if code == Some(HEADER_MISMATCH) && crossing.message.method.as_deref() == Some("tools/call") {
        crossing
            .proxy
            .tool_annotations
            .forget(&crossing.upstream.connection_id);
        return forward(&crossing, &body, true).await;
    }
    if era::classify(
        StatusCode::BAD_REQUEST,
        serde_json::from_slice(&bytes).ok().as_ref(),
    ) == Some(era::Era::Legacy)
    {
        crossing.proxy.eras.forget(&crossing.upstream.connection_id);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Puts the modern envelope into `params._meta`, keeping the client's own `_meta` keys.
fn add_envelope(body: &mut Value, bridge: &ModernBridge) {
    let Some(message) = body.as_object_mut() else {
        return;
    };
    let params = message
        .entry("params")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(params) = params.as_object_mut() else {
        return;
    };
    let meta = params
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let (Some(meta), Value::Object(envelope)) = (
        meta.as_object_mut(),
        era::modern_envelope(&bridge.client_info, &bridge.client_capabilities),
    ) {
        meta.extend(envelope);
    }
}

/// Sends the translated request and relays the answer (a 404 becomes -32601).
async fn forward(crossing: &Crossing, body: &Value, fresh_annotations: bool) -> Response {
    let method = crossing.message.method.as_deref().unwrap_or("");
    let mut out = era::modern_headers(method);
    if let Some(accept) = crossing.headers.get(header::ACCEPT) {
        out.insert(header::ACCEPT, accept.clone());
    }
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let params = body.get("params");
    let name = match method {
        "tools/call" | "prompts/get" => params.and_then(|p| p.get("name")),
        "resources/read" => params.and_then(|p| p.get("uri")),
        _ => None,
    };
    if let Some(name) = name.and_then(Value::as_str) {
        out.insert(MCP_NAME, param_headers::encode(name));
    }
    if method == "tools/call"
        && let Some(tool) = name.and_then(Value::as_str)
    {
        let annotations = crossing
            .proxy
            .tool_annotations
            .of(
                &crossing.proxy,
                &crossing.upstream,
                crossing.bearer.as_ref(),
                tool,
                fresh_annotations,
            )
            .await
            .unwrap_or_default();
        let arguments = params
            .and_then(|p| p.get("arguments"))
            .cloned()
            .unwrap_or(Value::Null);
        for (header, value) in param_headers::param_headers(&annotations, &arguments) {
            out.insert(header, value);
        }
    }
    if let Some(token) = &crossing.bearer {
        set_bearer(&mut out, token);
    }
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let request = crossing
        .upstream
        .request(&crossing.proxy.http, Method::POST, out)
        .body(bytes);
    let exchange = Exchange {
        authorized: crossing.authorized.clone(),
        id: crossing.message.id.clone(),
        local_session: None,
        sessions_allowed: false,
        tools_list: crossing.tools_list.clone(),
        // A legacy client's disconnect is not a cancellation (2025-11-25 transports).
        outlive_client: true,
        url_elicitation: false,
    };
    let mut response = send(
        &crossing.proxy,
        &crossing.upstream,
        request,
        crossing.bearer.clone(),
        exchange,
    )
    .await;
    if response.status() == StatusCode::NOT_FOUND {
        return jsonrpc::answer_error(
            crossing.message.id.as_ref(),
            -32601,
            &format!("Method not found: {method}"),
        );
    }
    // The upstream's version is not the session's.
    response.headers_mut().remove(MCP_PROTOCOL_VERSION);
    response
}

async fn read_small(response: Response) -> Result<(http::response::Parts, Vec<u8>), Response> {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => Ok((parts, bytes.to_vec())),
        Err(_) => Err(jsonrpc::error_response(
            StatusCode::BAD_GATEWAY,
            None,
            jsonrpc::UPSTREAM_ERROR,
            "the upstream MCP server's error answer was too large",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_joins_the_clients_own_meta() {
        let bridge = ModernBridge {
            version: "2025-11-25".into(),
            client_info: json!({"name": "c", "version": "1"}),
            client_capabilities: json!({}),
        };
        let mut body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "echo", "_meta": {"progressToken": 5}}});
        add_envelope(&mut body, &bridge);
        let meta = &body["params"]["_meta"];
        assert_eq!(meta["progressToken"], 5, "the client's key stays");
        assert_eq!(
            meta["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        assert_eq!(meta["io.modelcontextprotocol/clientInfo"]["name"], "c");
        let mut bare = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
        add_envelope(&mut bare, &bridge);
        assert_eq!(
            bare["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"], "2026-07-28",
            "params are created when the request had none"
        );
    }
}
