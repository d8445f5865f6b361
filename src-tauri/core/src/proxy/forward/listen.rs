//! `GET` on `/mcp/<slug>`: the stream a legacy-era server may send requests and notifications on
//! (MCP 2025-11-25 transports §Listening for Messages from the Server), resumed with
//! `Last-Event-ID`, on the upstream session the client's session maps to. A session bridged to a
//! 2026-07-28 upstream has no such stream upstream; [`to_modern::get`] answers for it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, header};

use super::{Exchange, accepts, guard, outbound_headers, set_session, translate_session};
use crate::proxy::Proxy;
use crate::proxy::bridge::to_modern;
use crate::proxy::elicitation::Asker;
use crate::proxy::jsonrpc;
use crate::proxy::relay::send;
use crate::proxy::upstream::{bearer_for, set_bearer};

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
