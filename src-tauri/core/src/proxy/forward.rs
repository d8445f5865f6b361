//! Forwarding on `/mcp/<slug>`: Streamable HTTP, both eras (product.md §4; mcp-auth-checklist §1.6,
//! §3.3-§3.6).
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
//! * **Upstream trouble is a JSON-RPC error** (D6): unreachable, no response start within the timeout,
//!   a redirect (never followed: it would carry the credential elsewhere), 401/403 (the connection is
//!   marked `error` so the app shows it), 5xx.
//! * **Eras**: a POST whose body has `params._meta["io.modelcontextprotocol/protocolVersion"]` is
//!   2026-07-28 and stateless: its `Mcp-Session-Id` and `Last-Event-ID` are ignored and no session id
//!   is minted or echoed for it (§3.5). JSON-RPC batches are refused with 400 in every era: 2025-06-18
//!   removed them, and accepting them for 2025-03-26 would let batched responses slip past the tool
//!   filter, so Gatehouse does not offer that optional 2025-03-26 feature.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::Proxy;
use super::bearer::{self, Authorized};
use super::filter::{SseToolsFilter, ToolAllowList, filter_sse};
use super::jsonrpc::{self, Message};
use crate::crypto::Aad;
use crate::oauth::upstream::UpstreamError;
use crate::oauth::upstream::discovery::bearer_challenge;
use crate::oauth::upstream::refresh::client_message;
use crate::store::ConnectionId;
use crate::store::access_tokens::AccessTokenRow;
use crate::store::connections::{self, AuthKind, ConnectionRow, ConnectionStatus};
use crate::vault::Vault;

pub const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
pub const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// Protocol versions a legacy request may name (MCP-Protocol-Version; checklist §3.4: 400 otherwise).
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

/// How to reach one connection's upstream: its URL and the credential to inject.
pub struct Upstream {
    url: reqwest::Url,
    connection_id: ConnectionId,
    connection_name: String,
    credential: Option<(HeaderName, HeaderValue)>,
    config_version: i64,
    auth_kind: AuthKind,
}

/// Upstream targets by connection, valid for one `config_version` (a material edit bumps it, so a
/// changed URL or secret is picked up on the next request). Opening the sealed secret once per
/// configuration keeps AES-GCM and a second store query off the hot path.
#[derive(Default)]
pub struct Upstreams {
    map: RwLock<HashMap<ConnectionId, Arc<Upstream>>>,
}

/// Opens the connection's header secret (sealed with AAD connections/header_value_sealed/<id>).
fn credential_of(
    vault: &Vault,
    row: &ConnectionRow,
) -> Result<Option<(HeaderName, HeaderValue)>, String> {
    match row.settings.auth_kind {
        AuthKind::None => Ok(None),
        AuthKind::Header => {
            let (Some(name), Some(sealed)) = (
                row.settings.header_name.as_deref(),
                row.settings.header_value_sealed.as_deref(),
            ) else {
                return Err("the connection's header credential is incomplete: open Gatehouse and check the connection".into());
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                "the connection's header name is not a valid HTTP header name".to_owned()
            })?;
            let secret = vault
                .cipher()
                .open_string(
                    sealed,
                    &Aad {
                        table: "connections",
                        column: "header_value_sealed",
                        row_id: row.id.as_str(),
                    },
                )
                .map_err(|err| {
                    tracing::error!(connection = %row.id, error = %err, "cannot open the header secret");
                    "Gatehouse cannot open the connection's stored credential: open Gatehouse and re-enter it".to_owned()
                })?;
            let mut value = HeaderValue::from_str(secret.expose_secret()).map_err(|_| {
                "the connection's header value is not a valid HTTP header value".to_owned()
            })?;
            value.set_sensitive(true);
            Ok(Some((name, value)))
        }
        // The upstream OAuth token is fetched per request (it is refreshed): see `bearer_for`.
        AuthKind::OAuth => Ok(None),
    }
}

/// The upstream target of a connection row (used by the catalog as well).
pub fn upstream_of(vault: &Vault, row: &ConnectionRow) -> Result<Upstream, String> {
    let url = reqwest::Url::parse(&row.settings.upstream_url).map_err(|_| {
        "the connection's upstream URL is not valid: open Gatehouse and check the connection"
            .to_owned()
    })?;
    Ok(Upstream {
        url,
        connection_id: row.id.clone(),
        connection_name: row.name.clone(),
        credential: credential_of(vault, row)?,
        config_version: row.config_version,
        auth_kind: row.settings.auth_kind,
    })
}

impl Upstream {
    /// A request to the upstream URL with the credential injected.
    pub fn request(
        &self,
        http: &reqwest::Client,
        method: Method,
        mut headers: HeaderMap,
    ) -> reqwest::RequestBuilder {
        if let Some((name, value)) = &self.credential {
            headers.insert(name.clone(), value.clone());
        }
        http.request(method, self.url.clone()).headers(headers)
    }
}

/// The upstream OAuth access token for an OAuth connection (refreshed as needed), or the JSON-RPC
/// error telling the user to sign in again (D6: never HTTP 401 to the client).
async fn bearer_for(
    proxy: &Proxy,
    upstream: &Upstream,
    id: Option<&Value>,
) -> Result<Option<SecretString>, Response> {
    if upstream.auth_kind != AuthKind::OAuth {
        return Ok(None);
    }
    proxy
        .oauth
        .tokens()
        .access_token(&upstream.connection_id, upstream.config_version)
        .await
        .map(Some)
        .map_err(|err| {
            tracing::info!(connection = %upstream.connection_id, error = %err, "no upstream token");
            jsonrpc::answer_error(
                id,
                jsonrpc::UPSTREAM_ERROR,
                &client_message(&upstream.connection_name, &err),
            )
        })
}

fn set_bearer(headers: &mut HeaderMap, token: &SecretString) {
    if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())) {
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
}

impl Proxy {
    async fn upstream(&self, token: &AccessTokenRow) -> Result<Arc<Upstream>, String> {
        let id = &token.connection_id;
        if let Some(hit) = self
            .upstreams
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .filter(|u| u.config_version == token.connection_config_version)
        {
            return Ok(hit.clone());
        }
        let wanted = id.clone();
        let row = self
            .vault
            .store()
            .read(move |conn| connections::get(conn, &wanted))
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "cannot read the connection");
                "Gatehouse could not read the connection".to_owned()
            })?
            .ok_or_else(|| "the connection no longer exists".to_owned())?;
        let upstream = Arc::new(upstream_of(&self.vault, &row)?);
        self.upstreams
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), upstream.clone());
        Ok(upstream)
    }

    /// Records an upstream refusal of the credential (off the request path).
    fn mark_rejected(&self, connection_id: &ConnectionId, status: StatusCode) {
        let store = self.vault.store().clone();
        let id = connection_id.clone();
        let detail = format!(
            "the upstream answered HTTP {} to Gatehouse's credentials",
            status.as_u16()
        );
        tokio::spawn(async move {
            let now = store.now();
            if let Err(err) = store
                .write(move |tx| {
                    connections::set_status(tx, &id, ConnectionStatus::Error, Some(&detail), now)
                })
                .await
            {
                tracing::warn!(error = %err, "cannot record the connection's upstream error");
            }
        });
    }
}

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

/// The allow-listed request headers (mcp-auth-checklist §1.6).
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
        Err(denial) => Err(denial.into_response(&proxy.local)),
    }
}

/// Everything the response side needs to know about the request.
struct Exchange {
    authorized: Authorized,
    /// The JSON-RPC id to answer errors for (POST requests only).
    id: Option<Value>,
    /// The local session id the client sent (legacy, known).
    local_session: Option<String>,
    /// Whether a session id from the upstream may be handed to the client (legacy only).
    sessions_allowed: bool,
    /// Filter the `tools/list` response with this id.
    tools_list: Option<(ToolAllowList, Value)>,
    /// Keep reading the upstream's answer when the client goes away: a legacy-era POST, where a
    /// disconnect is not a cancellation (2025-11-25 transports: the client sends
    /// `notifications/cancelled` to cancel). A 2026-07-28 request's closed stream IS its
    /// cancellation, and a GET stream has nothing to finish.
    outlive_client: bool,
}

/// The local session for a legacy request, or 404 for an unknown one / another grant's.
fn translate_session(
    proxy: &Proxy,
    headers: &HeaderMap,
    authorized: &Authorized,
) -> Result<Option<(String, String)>, StatusCode> {
    let Some(local) = session_header(headers) else {
        return Ok(None);
    };
    match proxy.sessions.upstream(
        local,
        &authorized.token.grant_id,
        &authorized.token.connection_id,
    ) {
        Some(upstream) => Ok(Some((local.to_owned(), upstream))),
        None => Err(StatusCode::NOT_FOUND),
    }
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
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => {
            return jsonrpc::error_response(
                StatusCode::BAD_REQUEST,
                None,
                jsonrpc::PARSE_ERROR,
                "Parse error",
            );
        }
    };
    if value.is_array() {
        return jsonrpc::error_response(
            StatusCode::BAD_REQUEST,
            None,
            jsonrpc::INVALID_REQUEST,
            "JSON-RPC batches are not supported",
        );
    }
    if !value.is_object() {
        return jsonrpc::error_response(
            StatusCode::BAD_REQUEST,
            None,
            jsonrpc::INVALID_REQUEST,
            "Invalid Request",
        );
    }
    let message = Message::read(&value);
    if message.modern
        && let Err(refusal) = super::modern::validate(&headers, &value)
    {
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

    let allow = ToolAllowList::from_json(authorized.token.grant_tools_json.as_deref());
    let mut bytes = bytes;
    if allow.is_restricted() && message.method.as_deref() == Some("tools/call") {
        if !message
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
        // Forward exactly what was checked: re-serializing drops duplicate `name` keys that another
        // JSON parser upstream might resolve differently.
        match serde_json::to_vec(&value) {
            Ok(checked) => bytes = Bytes::from(checked),
            Err(_) => {
                return jsonrpc::error_response(
                    StatusCode::BAD_REQUEST,
                    message.id.as_ref(),
                    jsonrpc::INVALID_REQUEST,
                    "Invalid Request",
                );
            }
        }
    }
    let tools_list = match (&message.method, &message.id) {
        (Some(m), Some(id)) if m == "tools/list" && allow.is_restricted() => {
            Some((allow, id.clone()))
        }
        _ => None,
    };

    let mut out = outbound_headers(&headers, message.modern);
    let mut local_session = None;
    if !message.modern {
        match translate_session(&proxy, &headers, &authorized) {
            Ok(Some((local, upstream))) => {
                if let Err(status) = set_session(&mut out, &upstream) {
                    return status.into_response();
                }
                local_session = Some(local);
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
    let bearer = match bearer_for(&proxy, &upstream, message.id.as_ref()).await {
        Ok(b) => b,
        Err(response) => return response,
    };
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
    };
    send(&proxy, &upstream, request, bearer, exchange).await
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
        Ok(Some((local, upstream))) => {
            if let Err(status) = set_session(&mut out, &upstream) {
                return status.into_response();
            }
            local_session = Some(local);
        }
        Ok(None) => {}
        Err(status) => return status.into_response(),
    }
    let upstream = match proxy.upstream(&authorized.token).await {
        Ok(u) => u,
        Err(why) => return jsonrpc::answer_error(None, jsonrpc::UPSTREAM_ERROR, &why),
    };
    let bearer = match bearer_for(&proxy, &upstream, None).await {
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
    let (local, upstream_session) = match translate_session(&proxy, &headers, &authorized) {
        Ok(Some(pair)) => pair,
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
    match bearer_for(&proxy, &upstream, None).await {
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

fn unreachable_upstream(id: Option<&Value>, err: &reqwest::Error) -> Response {
    tracing::info!(error = %err, "upstream unreachable");
    jsonrpc::answer_error(
        id,
        jsonrpc::UPSTREAM_ERROR,
        "Gatehouse could not reach the upstream MCP server; check that it is running, or open Gatehouse and check the connection",
    )
}

fn timed_out(id: Option<&Value>) -> Response {
    jsonrpc::answer_error(
        id,
        jsonrpc::UPSTREAM_ERROR,
        "the upstream MCP server did not answer in time",
    )
}

/// An upstream status that must not reach the client as is (D6).
fn upstream_failure(
    proxy: &Proxy,
    upstream: &Upstream,
    connection_id: &ConnectionId,
    id: Option<&Value>,
    status: StatusCode,
) -> Response {
    let message = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        if status == StatusCode::UNAUTHORIZED && upstream.auth_kind != AuthKind::OAuth {
            proxy.mark_rejected(connection_id, status);
        }
        UPSTREAM_REJECTED.to_owned()
    } else if status.is_redirection() {
        format!(
            "the upstream MCP server answered with a redirect (HTTP {}), which Gatehouse does not follow; open Gatehouse and check the connection's URL",
            status.as_u16()
        )
    } else {
        format!("the upstream MCP server failed (HTTP {})", status.as_u16())
    };
    jsonrpc::answer_error(id, jsonrpc::UPSTREAM_ERROR, &message)
}

async fn send(
    proxy: &Arc<Proxy>,
    upstream: &Upstream,
    request: reqwest::RequestBuilder,
    bearer: Option<SecretString>,
    exchange: Exchange,
) -> Response {
    let id = exchange.id.as_ref();
    let request = match request.build() {
        Ok(r) => r,
        Err(err) => return unreachable_upstream(id, &err),
    };
    // An OAuth upstream that answers 401 gets one forced refresh and one retry (checklist §4.7).
    let retry = bearer.as_ref().and_then(|_| request.try_clone());
    let execute = |request: reqwest::Request| {
        tokio::time::timeout(
            proxy.options.response_start_timeout,
            proxy.http.execute(request),
        )
    };
    let mut response = match execute(request).await {
        Ok(Ok(r)) => r,
        Ok(Err(err)) => return unreachable_upstream(id, &err),
        Err(_) => return timed_out(id),
    };
    if response.status() == StatusCode::UNAUTHORIZED
        && let (Some(rejected), Some(mut again)) = (bearer, retry)
    {
        proxy.oauth.forget_discovery(upstream.url.as_str());
        let tokens = proxy.oauth.tokens();
        let fresh = match tokens
            .after_rejection(&upstream.connection_id, upstream.config_version, &rejected)
            .await
        {
            Ok(t) => t,
            Err(err) => {
                return jsonrpc::answer_error(
                    id,
                    jsonrpc::UPSTREAM_ERROR,
                    &client_message(&upstream.connection_name, &err),
                );
            }
        };
        set_bearer(again.headers_mut(), &fresh);
        response = match execute(again).await {
            Ok(Ok(r)) => r,
            Ok(Err(err)) => return unreachable_upstream(id, &err),
            Err(_) => return timed_out(id),
        };
        if response.status() == StatusCode::UNAUTHORIZED {
            if let Err(err) = proxy
                .oauth
                .require_reauth(
                    &upstream.connection_id,
                    "the upstream refused a fresh token",
                )
                .await
            {
                tracing::warn!(error = %err, "cannot record reauth_required");
            }
            return jsonrpc::answer_error(
                id,
                jsonrpc::UPSTREAM_ERROR,
                &client_message(&upstream.connection_name, &UpstreamError::ReauthRequired),
            );
        }
    }
    let status = response.status();
    let connection_id = &exchange.authorized.token.connection_id;
    if status == StatusCode::FORBIDDEN
        && upstream.auth_kind == AuthKind::OAuth
        && let Some(challenge) = bearer_challenge(response.headers())
        && challenge.error.as_deref() == Some("insufficient_scope")
        && let Some(scope) = challenge.scope
    {
        let message = proxy
            .oauth
            .step_up(
                &upstream.connection_id,
                upstream.config_version,
                &scope,
                &upstream.connection_name,
            )
            .await;
        return jsonrpc::answer_error(id, jsonrpc::UPSTREAM_ERROR, &message);
    }
    if status.is_redirection()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || status.is_server_error()
    {
        return upstream_failure(proxy, upstream, connection_id, id, status);
    }
    if status == StatusCode::NOT_FOUND
        && let Some(local) = &exchange.local_session
    {
        // The upstream forgot the session: so do we, and the client re-initializes (T25).
        proxy.sessions.close(local);
        return StatusCode::NOT_FOUND.into_response();
    }

    let upstream_headers = response.headers().clone();
    let content_type = upstream_headers.get(header::CONTENT_TYPE).cloned();
    let is_sse = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        });

    let mut out = HeaderMap::new();
    if let Some(ct) = content_type {
        out.insert(header::CONTENT_TYPE, ct);
    }
    if let Some(v) = upstream_headers.get(MCP_PROTOCOL_VERSION) {
        out.insert(MCP_PROTOCOL_VERSION, v.clone());
    }
    if exchange.sessions_allowed
        && let Some(upstream_session) = upstream_headers
            .get(MCP_SESSION_ID)
            .and_then(|v| v.to_str().ok())
    {
        let local = match &exchange.local_session {
            Some(local) => local.clone(),
            None => proxy.sessions.open(
                &exchange.authorized.token.grant_id,
                connection_id,
                upstream_session.to_owned(),
            ),
        };
        if let Ok(v) = HeaderValue::from_str(&local) {
            out.insert(MCP_SESSION_ID, v);
        }
    }

    let body = if is_sse {
        out.insert(X_ACCEL_BUFFERING, HeaderValue::from_static("no"));
        out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        let ticket = proxy.stream_ticket(&exchange.authorized.token.grant_id);
        let stream = response.bytes_stream();
        let outlive = exchange.outlive_client;
        match exchange.tools_list {
            Some((allow, id)) => guarded(
                outliving(filter_sse(stream, SseToolsFilter::new(allow, id)), outlive),
                ticket,
            ),
            None => guarded(
                outliving(stream.map(|r| r.map_err(std::io::Error::other)), outlive),
                ticket,
            ),
        }
    } else if let Some((allow, list_id)) = exchange.tools_list.filter(|_| status.is_success()) {
        let bytes = match read_capped(response, proxy.options.max_filtered_response).await {
            Ok(b) => b,
            Err(why) => return jsonrpc::answer_error(id, jsonrpc::UPSTREAM_ERROR, why),
        };
        match allow.filter_json(&bytes, &list_id) {
            Some(filtered) => {
                out.remove(header::CONTENT_LENGTH);
                Body::from(filtered)
            }
            None => Body::from(bytes),
        }
    } else {
        // A JSON answer has been computed by the time it arrives: nothing is left to outlive the
        // client for, so it streams straight through.
        Body::from_stream(response.bytes_stream())
    };
    let mut reply = Response::new(body);
    *reply.status_mut() = status;
    *reply.headers_mut() = out;
    reply
}

/// How long an upstream answer is still read after its legacy client went away.
const OUTLIVE_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// With `outlive`, the upstream stream is pumped by its own task, so a client that disconnects does
/// not cancel the upstream call: the rest of the answer is read (up to [`OUTLIVE_LIMIT`]) and
/// dropped. Without it, the stream is returned as is and ends with the client.
fn outliving<S>(
    stream: S,
    outlive: bool,
) -> futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    if !outlive {
        return stream.boxed();
    }
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let pump = async move {
            let mut stream = std::pin::pin!(stream);
            let mut listening = true;
            while let Some(item) = stream.next().await {
                if listening && tx.send(item).await.is_err() {
                    listening = false;
                }
            }
        };
        let _ = tokio::time::timeout(OUTLIVE_LIMIT, pump).await;
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

/// A streamed body that ends when its grant's streams are cancelled (a revocation).
fn guarded<S>(stream: S, ticket: super::StreamTicket) -> Body
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let cancelled = ticket.cancel.clone().cancelled_owned();
    let stream = stream.take_until(cancelled).map(move |item| {
        // The ticket lives as long as the stream, so it deregisters when the stream is dropped.
        let _ = &ticket;
        item
    });
    Body::from_stream(stream)
}

/// Reads a response body up to `cap` bytes.
async fn read_capped(response: reqwest::Response, cap: usize) -> Result<Bytes, &'static str> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err("the upstream's tools/list response is too large");
    }
    let mut stream = response.bytes_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| "the upstream's response broke off")?;
        if buf.len() + chunk.len() > cap {
            return Err("the upstream's tools/list response is too large");
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
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
