//! The upstream sessions Gatehouse stops holding, ended upstream as well as here (MCP 2025-11-25
//! transports §Session Management: a client that no longer needs a session "SHOULD send an HTTP
//! DELETE to the MCP endpoint with the `Mcp-Session-Id` header").
//!
//! Gatehouse holds two kinds of upstream session: the one a legacy client's session maps to
//! ([`super::sessions`]) and the one it opens itself for a grant in front of a legacy upstream
//! ([`super::bridge::to_legacy`]). It stops holding them when their grant is revoked (its client
//! can no longer end them: its token is refused), and a mapped session also when it goes idle or
//! is pushed out of the full table. Either way Gatehouse ends the upstream session, with the
//! connection's own credential. Best effort: one DELETE each, bounded by the response-start
//! timeout, never retried; a refusal (404: already gone, 405: the upstream does not let clients
//! end sessions) is expected and only logged at debug level. A removed connection's sessions are
//! not ended: its URL and credential are gone with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method};

use super::Proxy;
use super::forward::MCP_SESSION_ID;
use super::upstream::set_bearer;
use crate::store::ConnectionId;
use crate::store::connections::AuthKind;

/// An upstream's `Mcp-Session-Id` for one of its connection's sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSessionId {
    pub connection_id: ConnectionId,
    pub id: String,
}

/// Forgets the sessions of these revoked grants and ends them upstream, in the background.
pub(crate) fn forget_grants(proxy: &Arc<Proxy>, grant_ids: &[crate::store::GrantId]) {
    let mut ended = proxy.sessions.drop_grants(grant_ids);
    ended.extend(proxy.upstream_sessions.drop_grants(grant_ids));
    end_upstream(proxy, ended);
}

/// Ends these upstream sessions, in the background.
pub(crate) fn end_upstream(proxy: &Arc<Proxy>, ended: Vec<UpstreamSessionId>) {
    if ended.is_empty() {
        return;
    }
    let mut by_connection: BTreeMap<String, (ConnectionId, Vec<String>)> = BTreeMap::new();
    for UpstreamSessionId { connection_id, id } in ended {
        by_connection
            .entry(connection_id.as_str().to_owned())
            .or_insert_with(|| (connection_id, Vec::new()))
            .1
            .push(id);
    }
    let proxy = proxy.clone();
    tokio::spawn(async move {
        for (connection_id, ids) in by_connection.into_values() {
            end_on_connection(&proxy, &connection_id, ids).await;
        }
    });
}

async fn end_on_connection(proxy: &Proxy, connection_id: &ConnectionId, ids: Vec<String>) {
    let upstream = match proxy.upstream_of_connection(connection_id, None).await {
        Ok(upstream) => upstream,
        Err(why) => {
            tracing::debug!(connection = %connection_id, %why, "forgotten upstream sessions not ended");
            return;
        }
    };
    let bearer = if upstream.auth_kind == AuthKind::OAuth {
        let tokens = proxy.oauth.tokens();
        match tokens
            .access_token_at(connection_id, upstream.config_version, None)
            .await
        {
            Ok(token) => Some(token),
            Err(err) => {
                tracing::debug!(connection = %connection_id, error = %err, "no upstream token to end sessions with");
                return;
            }
        }
    } else {
        None
    };
    for id in ids {
        let Ok(session) = HeaderValue::from_str(&id) else {
            continue;
        };
        let mut headers = HeaderMap::new();
        headers.insert(MCP_SESSION_ID, session);
        if let Some(token) = &bearer {
            set_bearer(&mut headers, token);
        }
        let sent = upstream
            .request(&proxy.http, Method::DELETE, headers)
            .send();
        match tokio::time::timeout(proxy.options.response_start_timeout, sent).await {
            Ok(Ok(answer)) => {
                tracing::debug!(connection = %connection_id, status = answer.status().as_u16(), "ended a forgotten upstream session");
            }
            Ok(Err(err)) => {
                tracing::debug!(connection = %connection_id, error = %err, "could not end a forgotten upstream session");
            }
            Err(_) => {
                tracing::debug!(connection = %connection_id, "ending a forgotten upstream session timed out");
            }
        }
    }
}
