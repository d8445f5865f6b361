//! The MCP server of the OAuth upstream: `POST /mcp` serves a valid access token (and asks for the
//! `admin` scope to call a tool when [`OAuthUpstream::require_admin`] is set, RFC 6750 §3.1
//! `insufficient_scope`) and answers anything else 401 with a challenge; its protected resource
//! metadata (RFC 9728 §3); and the odd answers a discovery must refuse.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{OAuthUpstream, bearer};

/// `POST /mcp`.
pub async fn mcp(
    State(w): State<Arc<OAuthUpstream>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    w.log("POST /mcp");
    let token = bearer(&headers);
    if let Some(t) = &token {
        w.mcp_bearers.lock().unwrap().push(t.clone());
    }
    if let Some(t) = token
        .as_ref()
        .filter(|t| w.access.lock().unwrap().contains(*t))
    {
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if *w.require_admin.lock().unwrap()
            && v.get("method").and_then(Value::as_str) == Some("tools/call")
            && !w.admin_tokens.lock().unwrap().contains(t)
        {
            return (
                StatusCode::FORBIDDEN,
                [(
                    "www-authenticate",
                    "Bearer error=\"insufficient_scope\", scope=\"admin\"",
                )],
            )
                .into_response();
        }
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        let result = match v.get("method").and_then(Value::as_str) {
            Some("initialize") => json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "oauth-upstream", "version": "1"}
            }),
            Some("tools/list") => {
                json!({"ok": true, "tools": [{"name": "echo", "inputSchema": {"type": "object"}}]})
            }
            _ => json!({"ok": true}),
        };
        return axum::Json(json!({"jsonrpc":"2.0","id":id,"result":result})).into_response();
    }
    let base = w.mcp_base.lock().unwrap().clone();
    let challenge = if *w.bare_challenge.lock().unwrap() {
        "Bearer error=\"invalid_token\"".to_owned()
    } else {
        format!(
            "Basic realm=\"x\", Bearer error=\"invalid_token\", resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:tools\""
        )
    };
    (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)]).into_response()
}

/// The protected resource metadata.
pub async fn prm(State(w): State<Arc<OAuthUpstream>>, uri: axum::http::Uri) -> Response {
    w.log(uri.path().to_owned());
    let base = w.mcp_base.lock().unwrap().clone();
    let resource = w
        .prm_resource
        .lock()
        .unwrap()
        .clone()
        .unwrap_or(format!("{base}/mcp"));
    let issuer = w
        .prm_as
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| w.issuer.lock().unwrap().clone());
    axum::Json(
        json!({"resource": resource, "authorization_servers": [issuer],
                      "scopes_supported": ["mcp:tools", "mcp:read"]}),
    )
    .into_response()
}

/// A 404, logged.
pub async fn not_found(State(w): State<Arc<OAuthUpstream>>, uri: axum::http::Uri) -> StatusCode {
    w.log(uri.path().to_owned());
    StatusCode::NOT_FOUND
}

/// A redirect to a private address, which discovery must not follow.
pub async fn redirect_away(State(w): State<Arc<OAuthUpstream>>) -> Response {
    w.log("/redirect");
    (StatusCode::FOUND, [("location", "http://10.0.0.1/prm")]).into_response()
}
