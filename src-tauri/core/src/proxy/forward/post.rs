//! `POST` on `/mcp/<slug>`: a client's message, or a 2025-03-26 batch, on its way upstream (MCP
//! 2025-11-25 transports §Sending Messages to the Server; 2026-07-28 Streamable HTTP). It owns the
//! checks a message passes before it leaves: `Accept` and `Content-Type`, the body size, one parse
//! that refuses a member named twice, the 2026-07-28 `Mcp-Method` / `Mcp-Name` routing headers and
//! `Mcp-Param-*` headers, a known `MCP-Protocol-Version`, and the grant's tool allow-list; then it
//! sends the message upstream, or across the era bridge when the client's era is not the
//! upstream's.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use super::{
    Exchange, KNOWN_VERSIONS, MCP_PROTOCOL_VERSION, TOOL_NOT_ALLOWED, accepts, guard,
    is_json_content_type, outbound_headers, set_session, translate_session,
};
use crate::proxy::Proxy;
use crate::proxy::bearer::Authorized;
use crate::proxy::bridge::{Crossing, to_legacy, to_modern};
use crate::proxy::era::{self, Era};
use crate::proxy::filter::ToolAllowList;
use crate::proxy::jsonrpc::{self, BodyError, Message};
use crate::proxy::modern;
use crate::proxy::relay::send;
use crate::proxy::upstream::{bearer_for, set_bearer};

pub async fn post(
    State(proxy): State<Arc<Proxy>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let authorized = match guard(&proxy, &headers, &slug).await {
        Ok(a) => a,
        Err(status) => return status.into_response(),
    };
    if !(accepts(&headers, "application/json") && accepts(&headers, "text/event-stream")) {
        return jsonrpc::error_response(
            StatusCode::NOT_ACCEPTABLE,
            None,
            jsonrpc::INVALID_REQUEST,
            "Accept must list application/json and text/event-stream",
        );
    }
    if !is_json_content_type(&headers) {
        return jsonrpc::error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            jsonrpc::INVALID_REQUEST,
            "Content-Type must be application/json",
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body, proxy.options.max_request_body).await else {
        return jsonrpc::error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            jsonrpc::INVALID_REQUEST,
            "the request body is too large",
        );
    };
    // Parsed once; the bytes forwarded below are exactly these, so the upstream reads the method and
    // tool name the checks read (no object in them names a member twice).
    let value = match jsonrpc::parse_body(&bytes) {
        Ok(v) => v,
        Err(BodyError::NotJson) => {
            return jsonrpc::error_response(
                StatusCode::BAD_REQUEST,
                None,
                jsonrpc::PARSE_ERROR,
                "Parse error",
            );
        }
        Err(BodyError::DuplicateKey) => {
            return jsonrpc::error_response(
                StatusCode::BAD_REQUEST,
                None,
                jsonrpc::INVALID_REQUEST,
                "Invalid Request: a JSON object in the body names the same member twice",
            );
        }
    };
    let allow = ToolAllowList::from_json(authorized.token.grant_tools_json.as_deref());
    if let Value::Array(members) = &value {
        let tools_list_ids = match crate::proxy::batch::check(&headers, members, &allow) {
            crate::proxy::batch::Verdict::Forward(ids) => ids,
            crate::proxy::batch::Verdict::Answer(answer) => return answer,
        };
        let tools_list = (!tools_list_ids.is_empty()).then_some((allow, tools_list_ids));
        return forward(
            proxy,
            headers,
            authorized,
            bytes,
            value,
            Message::default(),
            tools_list,
        )
        .await;
    }
    let message = Message::read(&value);
    let routing = if message.modern {
        modern::validate(&headers, &value)
    } else {
        modern::routing_headers(&headers, &value, modern::Presence::IfSent)
    };
    if let Err(refusal) = routing {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(refusal.body(message.id.as_ref())),
        )
            .into_response();
    }
    if !message.modern
        && let Some(version) = headers.get(MCP_PROTOCOL_VERSION)
        && !version.to_str().is_ok_and(|v| KNOWN_VERSIONS.contains(&v))
    {
        return jsonrpc::error_response(
            StatusCode::BAD_REQUEST,
            message.id.as_ref(),
            jsonrpc::INVALID_REQUEST,
            "Unsupported MCP-Protocol-Version",
        );
    }

    if allow.is_restricted()
        && message.method.as_deref() == Some("tools/call")
        && !message
            .tool
            .as_deref()
            .is_some_and(|tool| allow.allows(tool))
    {
        return jsonrpc::answer_error(
            message.id.as_ref(),
            jsonrpc::INVALID_PARAMS,
            TOOL_NOT_ALLOWED,
        );
    }
    let tools_list = match (&message.method, &message.id) {
        (Some(m), Some(id)) if m == "tools/list" && allow.is_restricted() => {
            Some((allow, vec![id.clone()]))
        }
        _ => None,
    };
    forward(
        proxy, headers, authorized, bytes, value, message, tools_list,
    )
    .await
}

/// Sends a checked POST (one message, or a 2025-03-26 batch with `message` empty) upstream, or
/// across the era bridge when the client's era is not the upstream's.
async fn forward(
    proxy: Arc<Proxy>,
    headers: HeaderMap,
    authorized: Authorized,
    mut bytes: axum::body::Bytes,
    mut body: Value,
    message: Message,
    tools_list: Option<(ToolAllowList, Vec<Value>)>,
) -> Response {
    // A 2026-07-28 retry carrying the answer to Gatehouse's own sign-in question (elicitation.rs):
    // the answer is Gatehouse's, the rest goes on.
    let mut declined = false;
    if message.modern
        && let Some(answer) = crate::proxy::elicitation::take_answer(&mut body)
    {
        declined = answer;
        bytes = serde_json::to_vec(&body).unwrap_or_default().into();
    }
    let mut out = outbound_headers(&headers, message.modern);
    let mut session = None;
    // Whether a "sign in first" answer may be a URL-mode elicitation (super::elicitation).
    let mut url_elicitation = message.url_elicitation;
    if !message.modern {
        match translate_session(&proxy, &headers, &authorized) {
            Ok(Some(found)) => {
                url_elicitation |= found.url_elicitation;
                session = Some(found);
            }
            Ok(None) => {}
            Err(status) => return status.into_response(),
        }
    }

    let upstream = match proxy.upstream(&authorized.token).await {
        Ok(u) => u,
        Err(why) => {
            return jsonrpc::answer_error(message.id.as_ref(), jsonrpc::UPSTREAM_ERROR, &why);
        }
    };
    let asker = crate::proxy::elicitation::Asker {
        id: message.id.as_ref(),
        url_elicitation,
        modern_method: message.method.as_deref().filter(|_| message.modern),
        declined,
    };
    let bearer = match bearer_for(&proxy, &upstream, &authorized.token, asker).await {
        Ok(b) => b,
        Err(response) => return response,
    };

    let bridged = session.as_ref().and_then(|s| s.bridge.clone());
    let opens =
        !message.modern && session.is_none() && message.method.as_deref() == Some("initialize");
    let era = if message.modern || opens {
        era::era_of(&proxy, &upstream, bearer.as_ref()).await
    } else {
        None
    };
    if bridged.is_some()
        || matches!(
            (&era, message.modern),
            (Some(Era::Legacy), true) | (Some(Era::Modern(_)), false)
        )
    {
        if body.is_array() {
            return jsonrpc::error_response(
                StatusCode::BAD_REQUEST,
                None,
                jsonrpc::INVALID_REQUEST,
                "JSON-RPC batches are not accepted for this connection (its server speaks MCP 2026-07-28)",
            );
        }
        let crossing = Crossing {
            proxy,
            headers,
            authorized,
            body,
            message,
            tools_list,
            upstream,
            bearer,
        };
        return match (bridged, era) {
            (Some(bridge), _) => to_modern::on_session(crossing, bridge).await,
            (None, Some(Era::Modern(discovered))) => to_modern::initialize(&crossing, &discovered),
            _ => to_legacy::handle(crossing).await,
        };
    }

    if message.modern
        && message.method.as_deref() == Some("tools/call")
        && matches!(era, Some(Era::Modern(_) | Era::Dual))
        && let Some(tool) = message.tool.as_deref()
        && let Err(refusal) =
            check_param_headers(&proxy, &upstream, bearer.as_ref(), &headers, &body, tool).await
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(refusal.body(message.id.as_ref())),
        )
            .into_response();
    }

    let mut local_session = None;
    if let Some(session) = session {
        if let Err(status) = set_session(&mut out, &session.upstream) {
            return status.into_response();
        }
        local_session = Some(session.local);
    }
    if let Some(token) = &bearer {
        set_bearer(&mut out, token);
    }
    let request = upstream.request(&proxy.http, Method::POST, out).body(bytes);
    let exchange = Exchange {
        authorized,
        id: message.id,
        local_session,
        sessions_allowed: !message.modern,
        tools_list,
        outlive_client: !message.modern,
        url_elicitation: message.url_elicitation,
    };
    send(&proxy, &upstream, request, bearer, exchange).await
}

/// A 2026-07-28 `tools/call`'s recognised `Mcp-Param-*` headers against its arguments
/// ([`modern::param_headers`]). A refusal is checked once more against a fresh `tools/list`, so a
/// tool whose annotations changed upstream is judged by what the upstream says now.
async fn check_param_headers(
    proxy: &Proxy,
    upstream: &crate::proxy::upstream::Upstream,
    bearer: Option<&secrecy::SecretString>,
    headers: &HeaderMap,
    body: &Value,
    tool: &str,
) -> Result<(), modern::Refusal> {
    let mut fresh = false;
    loop {
        let Some(annotations) = proxy
            .tool_annotations
            .of(proxy, upstream, bearer, tool, fresh)
            .await
        else {
            return Ok(());
        };
        match modern::param_headers(headers, body, &annotations) {
            Err(_) if !fresh => fresh = true,
            verdict => return verdict,
        }
    }
}
