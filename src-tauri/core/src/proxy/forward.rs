//! Forwarding on `/mcp/<slug>`: Streamable HTTP, both eras (MCP 2025-11-25 and 2026-07-28
//! transports). This module takes the client's request apart and builds the upstream one;
//! [`super::upstream`] knows where it goes and which credential it carries, and [`super::relay`]
//! sends it and streams the answer back.
//!
//! * **Outbound headers come from an allow-list**: `Content-Type`, `Accept`, `MCP-Protocol-Version`,
//!   `Last-Event-ID`, and the 2026-07-28 `Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`. The session id is
//!   translated ([`super::sessions`]). Nothing else passes: not the client's `Authorization` (no token
//!   passthrough), not `Cookie`, not hop-by-hop headers. The connection's own credential is injected.
//! * **Responses stream** as they arrive (`Body::from_stream` over reqwest's byte stream); only a JSON
//!   `tools/list` response under a tool allow-list is buffered, with a bound, to be filtered. Status,
//!   `Content-Type`, `MCP-Protocol-Version` and the translated session id pass back; upstream
//!   `WWW-Authenticate` and `Set-Cookie` never do. SSE responses get `X-Accel-Buffering: no` and
//!   `Cache-Control: no-cache`, and end when the grant is revoked.
//! * **Upstream trouble is a JSON-RPC error**, never an HTTP 401/403 (that would restart the client's
//!   OAuth with Gatehouse): unreachable, no response start within the timeout,
//!   a redirect (never followed: it would carry the credential elsewhere), 401/403 (the connection is
//!   marked `error` so the app shows it), 5xx.
//! * **One parse, the same bytes**: the body is parsed once ([`jsonrpc::parse_body`]), an object that
//!   names a member twice is refused with 400 / -32600 (a repeated `"method"` or `"name"` would let the
//!   tool filter and the upstream read different messages), and the client's bytes are forwarded
//!   unchanged.
//! * **Eras**: a POST whose body has `params._meta["io.modelcontextprotocol/protocolVersion"]` is
//!   2026-07-28 and stateless: its `Mcp-Session-Id` and `Last-Event-ID` are ignored and no session id
//!   is minted or echoed for it (Streamable HTTP §Earlier Streamable HTTP Revisions). `Mcp-Method`
//!   and `Mcp-Name` are required only there, but
//!   when a request of any era sends them they must agree with the body ([`modern::routing_headers`]):
//!   they go upstream, so they must not name another method or tool. JSON-RPC batches pass on
//!   2025-03-26 sessions only, each member checked and each listed response filtered
//!   ([`super::batch`]).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use serde_json::Value;

use super::Proxy;
use super::bearer::{self, Authorized};
use super::bridge::{Crossing, to_legacy, to_modern};
use super::elicitation::Asker;
use super::era::{self, Era};
use super::filter::ToolAllowList;
use super::jsonrpc::{self, BodyError, Message};
use super::modern;
use super::relay::{send, timed_out, unreachable_upstream, upstream_failure};
use super::sessions::Session;
use super::upstream::{bearer_for, set_bearer};
use crate::store::ConnectionId;

pub const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
pub const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
pub(super) const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// Protocol versions a legacy request may name (MCP-Protocol-Version; any other is a 400, 2025-11-25
/// transports).
pub const KNOWN_VERSIONS: &[&str] = &[
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// What to tell a client whose upstream rejected Gatehouse's credentials.
pub const UPSTREAM_REJECTED: &str =
    "the upstream rejected Gatehouse's credentials: open Gatehouse and check the connection";
/// What to tell a client calling a tool its grant does not include.
pub const TOOL_NOT_ALLOWED: &str =
    "tool not allowed for this client; open Gatehouse to change its access";

/// Whether `Accept` admits `media` (`type/sub`, `type/*` or `*/*`).
fn accepts(headers: &HeaderMap, media: &str) -> bool {
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value.split(',').any(|range| {
                let range = range.split(';').next().unwrap_or("").trim();
                range.eq_ignore_ascii_case(media)
                    || range == "*/*"
                    || range
                        .strip_suffix("/*")
                        .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
        })
    })
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The allow-listed request headers (no token passthrough, MCP security best practices §Token
/// Passthrough).
fn outbound_headers(inbound: &HeaderMap, modern: bool) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in inbound {
        let n = name.as_str();
        let pass = match n {
            "content-type" | "accept" | "mcp-protocol-version" => true,
            "last-event-id" => !modern,
            "mcp-method" | "mcp-name" => true,
            _ => n.starts_with("mcp-param-"),
        };
        if pass {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

fn session_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(MCP_SESSION_ID).and_then(|v| v.to_str().ok())
}

/// Runs the bearer guard, or answers with its challenge.
async fn guard(proxy: &Proxy, headers: &HeaderMap, slug: &str) -> Result<Authorized, Response> {
    match bearer::authorize(&proxy.vault, headers, slug).await {
        Ok(ok) => {
            proxy
                .usage
                .record(&ok.token.grant_id, proxy.vault.store().now());
            Ok(ok)
        }
        Err(denial) => Err(denial.into_response(&proxy.local.addressed_base_url(headers))),
    }
}

/// Everything the response side needs to know about the request.
pub(super) struct Exchange {
    pub(super) authorized: Authorized,
    /// The JSON-RPC id to answer errors for (POST requests only).
    pub(super) id: Option<Value>,
    /// The local session id the client sent (legacy, known).
    pub(super) local_session: Option<String>,
    /// Whether a session id from the upstream may be handed to the client (legacy only).
    pub(super) sessions_allowed: bool,
    /// Filter the `tools/list` responses with these ids.
    pub(super) tools_list: Option<(ToolAllowList, Vec<Value>)>,
    /// The request is an `initialize` declaring URL-mode elicitation: the session it opens
    /// remembers that.
    pub(super) url_elicitation: bool,
    /// Keep reading the upstream's answer when the client goes away: a legacy-era POST, where a
    /// disconnect is not a cancellation (2025-11-25 transports: the client sends
    /// `notifications/cancelled` to cancel). A 2026-07-28 request's closed stream IS its
    /// cancellation, and a GET stream has nothing to finish.
    pub(super) outlive_client: bool,
}

/// The local session for a legacy request, or 404 for an unknown one / another grant's.
fn translate_session(
    proxy: &Proxy,
    headers: &HeaderMap,
    authorized: &Authorized,
) -> Result<Option<Session>, StatusCode> {
    let Some(local) = session_header(headers) else {
        return Ok(None);
    };
    proxy
        .sessions
        .find(
            local,
            &authorized.token.grant_id,
            &authorized.token.connection_id,
        )
        .map(Some)
        .ok_or(StatusCode::NOT_FOUND)
}

fn set_session(headers: &mut HeaderMap, upstream: &str) -> Result<(), StatusCode> {
    let value = HeaderValue::from_str(upstream).map_err(|_| StatusCode::NOT_FOUND)?;
    headers.insert(MCP_SESSION_ID, value);
    Ok(())
}

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
        let tools_list_ids = match super::batch::check(&headers, members, &allow) {
            super::batch::Verdict::Forward(ids) => ids,
            super::batch::Verdict::Answer(answer) => return answer,
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
        && let Some(answer) = super::elicitation::take_answer(&mut body)
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
    let asker = super::elicitation::Asker {
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
    upstream: &super::upstream::Upstream,
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

pub async fn get(
    State(proxy): State<Arc<Proxy>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authorized = match guard(&proxy, &headers, &slug).await {
        Ok(a) => a,
        Err(status) => return status.into_response(),
    };
    if !accepts(&headers, "text/event-stream") {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let mut out = outbound_headers(&headers, false);
    out.remove(header::CONTENT_TYPE);
    let mut local_session = None;
    match translate_session(&proxy, &headers, &authorized) {
        Ok(Some(session)) if session.bridge.is_some() => return to_modern::get(),
        Ok(Some(session)) => {
            if let Err(status) = set_session(&mut out, &session.upstream) {
                return status.into_response();
            }
            local_session = Some(session.local);
        }
        Ok(None) => {}
        Err(status) => return status.into_response(),
    }
    let upstream = match proxy.upstream(&authorized.token).await {
        Ok(u) => u,
        Err(why) => return jsonrpc::answer_error(None, jsonrpc::UPSTREAM_ERROR, &why),
    };
    let bearer = match bearer_for(&proxy, &upstream, &authorized.token, Asker::default()).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    if let Some(token) = &bearer {
        set_bearer(&mut out, token);
    }
    let request = upstream.request(&proxy.http, Method::GET, out);
    let exchange = Exchange {
        authorized,
        id: None,
        local_session,
        sessions_allowed: true,
        tools_list: None,
        outlive_client: false,
        url_elicitation: false,
    };
    send(&proxy, &upstream, request, bearer, exchange).await
}

pub async fn delete(
    State(proxy): State<Arc<Proxy>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authorized = match guard(&proxy, &headers, &slug).await {
        Ok(a) => a,
        Err(status) => return status.into_response(),
    };
    let Session {
        local,
        upstream: upstream_session,
        ..
    } = match translate_session(&proxy, &headers, &authorized) {
        Ok(Some(session)) if session.bridge.is_some() => {
            // Gatehouse holds the session; the modern upstream has none to end.
            proxy.sessions.close(&session.local);
            return StatusCode::OK.into_response();
        }
        Ok(Some(session)) => session,
        Ok(None) => {
            return jsonrpc::error_response(
                StatusCode::BAD_REQUEST,
                None,
                jsonrpc::INVALID_REQUEST,
                "DELETE needs an Mcp-Session-Id",
            );
        }
        Err(status) => return status.into_response(),
    };
    let mut out = outbound_headers(&headers, false);
    out.remove(header::CONTENT_TYPE);
    if let Err(status) = set_session(&mut out, &upstream_session) {
        return status.into_response();
    }
    let upstream = match proxy.upstream(&authorized.token).await {
        Ok(u) => u,
        Err(why) => return jsonrpc::answer_error(None, jsonrpc::UPSTREAM_ERROR, &why),
    };
    match bearer_for(&proxy, &upstream, &authorized.token, Asker::default()).await {
        Ok(Some(token)) => set_bearer(&mut out, &token),
        Ok(None) => {}
        Err(response) => return response,
    }
    let sent = tokio::time::timeout(
        proxy.options.response_start_timeout,
        upstream.request(&proxy.http, Method::DELETE, out).send(),
    )
    .await;
    match sent {
        Ok(Ok(response)) => {
            let status = response.status();
            if status != StatusCode::METHOD_NOT_ALLOWED {
                // The session is over for the client either way; a 405 means the upstream keeps
                // it, so the mapping stays usable.
                proxy.sessions.close(&local);
            }
            if status.is_success()
                || status == StatusCode::NOT_FOUND
                || status == StatusCode::METHOD_NOT_ALLOWED
            {
                status.into_response()
            } else {
                upstream_failure(
                    &proxy,
                    &upstream,
                    &authorized_connection(&authorized),
                    None,
                    status,
                )
            }
        }
        Ok(Err(err)) => unreachable_upstream(None, &err),
        Err(_) => timed_out(None),
    }
}

fn authorized_connection(a: &Authorized) -> ConnectionId {
    a.token.connection_id.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_ranges() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream;q=0.9"),
        );
        assert!(
            accepts(&h, "application/json") && accepts(&h, "text/event-stream"),
            "both listed"
        );
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!accepts(&h, "text/event-stream"), "SSE not listed");
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(accepts(&h, "text/event-stream"), "*/* admits everything");
    }

    #[test]
    fn only_mcp_headers_go_upstream() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("authorization", "Bearer x"),
            ("cookie", "a=b"),
            ("connection", "keep-alive"),
            ("mcp-session-id", "s"),
            ("content-type", "application/json"),
            ("mcp-param-region", "eu"),
            ("last-event-id", "9"),
            ("x-forwarded-for", "1.2.3.4"),
        ] {
            h.insert(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        let out = outbound_headers(&h, false);
        let mut names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["content-type", "last-event-id", "mcp-param-region"],
            "allow-list only"
        );
        assert!(
            !outbound_headers(&h, true).contains_key(LAST_EVENT_ID),
            "modern requests have no resumption"
        );
    }
}
