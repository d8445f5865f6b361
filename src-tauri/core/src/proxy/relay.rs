//! Sending a request to the upstream and relaying its answer: one forced refresh and one retry when
//! an OAuth upstream answers 401, upstream trouble turned into JSON-RPC errors (never an HTTP
//! 401/403, which would restart the client's OAuth with Gatehouse), responses streamed back with the
//! grant's revocation ending them, and a legacy client's disconnect not cancelling the upstream call.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use secrecy::SecretString;
use serde_json::Value;

use super::Proxy;
use super::filter::{SseToolsFilter, filter_sse};
use super::forward::{
    Exchange, MCP_PROTOCOL_VERSION, MCP_SESSION_ID, UPSTREAM_REJECTED, X_ACCEL_BUFFERING,
};
use super::jsonrpc;
use super::upstream::{Upstream, set_bearer};
use crate::oauth::upstream::UpstreamError;
use crate::oauth::upstream::discovery::bearer_challenge;
use crate::oauth::upstream::refresh::client_message;
use crate::store::ConnectionId;
use crate::store::connections::AuthKind;

pub(super) fn unreachable_upstream(id: Option<&Value>, err: &dyn std::fmt::Display) -> Response {
    tracing::info!(error = %err, "upstream unreachable");
    jsonrpc::answer_error(
        id,
        jsonrpc::UPSTREAM_ERROR,
        "Gatehouse could not reach the upstream MCP server; check that it is running, or open Gatehouse and check the connection",
    )
}

pub(super) fn timed_out(id: Option<&Value>) -> Response {
    jsonrpc::answer_error(
        id,
        jsonrpc::UPSTREAM_ERROR,
        "the upstream MCP server did not answer in time",
    )
}

/// An upstream status that must not reach the client as is: an HTTP 401/403 would restart the
/// client's OAuth with Gatehouse, the wrong layer.
pub(super) fn upstream_failure(
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

pub(super) async fn send(
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
    // An OAuth upstream that answers 401 gets one forced refresh and one retry.
    let retry = bearer.as_ref().and_then(|_| request.try_clone());
    let execute = |request: reqwest::Request| {
        tokio::time::timeout(proxy.options.response_start_timeout, proxy.execute(request))
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
    // Reached without credentials, the upstream now asks for OAuth: the connection needs a sign-in
    // (RFC 9728 §5.1), and the client is told so instead of "rejected Gatehouse's credentials".
    if status == StatusCode::UNAUTHORIZED
        && upstream.auth_kind == AuthKind::None
        && bearer_challenge(response.headers()).is_some_and(|c| c.resource_metadata.is_some())
    {
        proxy.became_oauth(&upstream.connection_id).await;
        let name = &upstream.connection_name;
        return jsonrpc::answer_error(
            id,
            jsonrpc::UPSTREAM_ERROR,
            &format!(
                "{name} now asks for OAuth sign-in: open Gatehouse and sign in to {name}, then connect again"
            ),
        );
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
        // The upstream forgot the session: so do we, and the client re-initializes (2025-11-25 transports
        // §Session Management).
        proxy.sessions.close(local);
        return StatusCode::NOT_FOUND.into_response();
    }

    // Only these pass back (a header value clone is a reference count, not a copy).
    let upstream_headers = response.headers();
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
    let upstream_session = upstream_headers
        .get(MCP_SESSION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if exchange.sessions_allowed
        && let Some(upstream_session) = upstream_session
    {
        let local = match &exchange.local_session {
            Some(local) => local.clone(),
            None => proxy.sessions.open(
                &exchange.authorized.token.grant_id,
                connection_id,
                upstream_session,
                exchange.url_elicitation,
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
            Some((allow, ids)) => guarded(
                outliving(filter_sse(stream, SseToolsFilter::new(allow, ids)), outlive),
                ticket,
            ),
            None => guarded(
                outliving(stream.map(|r| r.map_err(std::io::Error::other)), outlive),
                ticket,
            ),
        }
    } else if let Some((allow, list_ids)) = exchange.tools_list.filter(|_| status.is_success()) {
        let bytes = match read_capped(response, proxy.options.max_filtered_response).await {
            Ok(b) => b,
            Err(why) => return jsonrpc::answer_error(id, jsonrpc::UPSTREAM_ERROR, why),
        };
        match allow.filter_json(&bytes, &list_ids) {
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
pub(super) fn outliving<S>(
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
pub(super) fn guarded<S>(stream: S, ticket: super::StreamTicket) -> Body
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
pub(super) async fn read_capped(
    response: reqwest::Response,
    cap: usize,
) -> Result<Bytes, &'static str> {
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
