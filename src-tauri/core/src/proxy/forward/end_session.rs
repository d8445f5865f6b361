//! `DELETE` on `/mcp/<slug>`: a client ending its legacy-era session (MCP 2025-11-25 transports
//! §Session Management). The upstream session it maps to is ended too; the local mapping closes
//! unless the upstream answers 405 (it keeps the session). A session bridged to a 2026-07-28
//! upstream is Gatehouse's alone and simply closes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, header};

use super::{guard, outbound_headers, set_session, translate_session};
use crate::proxy::Proxy;
use crate::proxy::bearer::Authorized;
use crate::proxy::elicitation::Asker;
use crate::proxy::jsonrpc;
use crate::proxy::relay::{timed_out, unreachable_upstream, upstream_failure};
use crate::proxy::sessions::Session;
use crate::proxy::upstream::{bearer_for, set_bearer};
use crate::store::ConnectionId;

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
