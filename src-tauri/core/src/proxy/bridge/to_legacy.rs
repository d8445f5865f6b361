//! A 2026-07-28 client in front of a legacy upstream (MCP 2026-07-28 basic/versioning §Backward
//! Compatibility: "Modern client, Legacy server: fails" without an intermediary).
//!
//! - **The upstream session.** Gatehouse opens one legacy session per grant and connection on the
//!   first request (`initialize` at 2025-11-25 with the client's `clientInfo` and no capabilities,
//!   then `notifications/initialized`; MCP 2025-11-25 lifecycle §Initialization), keeps the id the
//!   upstream gave and the version it chose, and opens a new one when the upstream forgets it (404,
//!   2025-11-25 transports §Session Management). A revoked grant's session is forgotten with it
//!   and ended upstream (`proxy::forgotten_sessions`).
//!   Concurrent first requests of one grant wait for the one opening (one `initialize`, not one
//!   each: a session opened and then overwritten would be left open on the upstream).
//! - **`server/discover`** is answered by Gatehouse from that `initialize` result: supported
//!   versions `["2026-07-28"]` (what the client can speak through Gatehouse), the upstream's
//!   capabilities, its `serverInfo` as `_meta` server info, its instructions (2026-07-28
//!   server/discover §Response).
//! - **Every other request** goes on the session with the modern `_meta` keys taken out and
//!   `MCP-Protocol-Version` set to the session's version; no session id reaches the client
//!   (2026-07-28 is stateless), and each result gets the `resultType` a 2026-07-28 client requires
//!   ([`super::results`]). A client closing its stream before the answer cancels the call
//!   upstream with `notifications/cancelled` ([`cancel_on_close`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

use super::Crossing;
use crate::proxy::era::{self, MODERN_VERSION, SERVER_INFO_KEY};
use crate::proxy::forgotten_sessions::UpstreamSessionId;
use crate::proxy::forward::{Exchange, MCP_PROTOCOL_VERSION, MCP_SESSION_ID};
use crate::proxy::jsonrpc;
use crate::proxy::own_call::{self, CallError};
use crate::proxy::relay::{send, timed_out, upstream_failure};
use crate::proxy::upstream::set_bearer;
use crate::store::{ConnectionId, GrantId};

/// The version Gatehouse asks a legacy upstream for.
pub const ASKED_VERSION: &str = "2025-11-25";
/// Versions a legacy upstream may answer with.
const LEGACY_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];

/// A legacy session Gatehouse holds with an upstream for one grant.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamSession {
    config_version: i64,
    /// The upstream's `Mcp-Session-Id` (a stateless legacy server gives none).
    id: Option<String>,
    /// The protocol version the upstream chose.
    version: String,
    /// Its `InitializeResult`.
    initialized: Arc<Value>,
}

type SessionKey = (GrantId, ConnectionId);

/// The upstream sessions, by grant and connection.
#[derive(Debug, Default)]
pub struct UpstreamSessions {
    map: Mutex<HashMap<SessionKey, UpstreamSession>>,
    /// One gate per grant and connection whose session is being opened or has been: a request that
    /// finds no session opens one while holding it, and the others wait and then find it.
    opening: Mutex<HashMap<SessionKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl UpstreamSessions {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, UpstreamSession>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn gates(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, Arc<tokio::sync::Mutex<()>>>> {
        self.opening.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The gate a request holds while it opens `key`'s session.
    fn gate(&self, key: &SessionKey) -> Arc<tokio::sync::Mutex<()>> {
        self.gates().entry(key.clone()).or_default().clone()
    }

    fn get(&self, key: &SessionKey, config_version: i64) -> Option<UpstreamSession> {
        self.table()
            .get(key)
            .filter(|s| s.config_version == config_version)
            .cloned()
    }

    /// Forgets `key`'s session if it is still the one the upstream forgot (`id`): a request that
    /// met the same 404 later must not drop the session another has opened since.
    fn forget(&self, key: &SessionKey, id: Option<&str>) {
        let mut table = self.table();
        if table.get(key).is_some_and(|s| s.id.as_deref() == id) {
            table.remove(key);
        }
    }

    /// Forgets the sessions of these grants (revoked), and returns those the upstream gave an id,
    /// to be ended there ([`crate::proxy::forgotten_sessions`]).
    pub fn drop_grants(&self, grant_ids: &[GrantId]) -> Vec<UpstreamSessionId> {
        let mut ended = Vec::new();
        self.table().retain(|(g, c), s| {
            let keep = !grant_ids.contains(g);
            if let (false, Some(id)) = (keep, &s.id) {
                ended.push(UpstreamSessionId {
                    connection_id: c.clone(),
                    id: id.clone(),
                });
            }
            keep
        });
        self.gates().retain(|(g, _), _| !grant_ids.contains(g));
        ended
    }

    /// The grants that hold sessions.
    pub fn grants(&self) -> Vec<GrantId> {
        self.table().keys().map(|(g, _)| g.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.table().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn key_of(crossing: &Crossing) -> SessionKey {
    (
        crossing.authorized.token.grant_id.clone(),
        crossing.authorized.token.connection_id.clone(),
    )
}

/// Handles a modern request whose upstream is legacy.
pub(crate) async fn handle(crossing: Crossing) -> Response {
    let mut session = match session_for(&crossing).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    if crossing.message.method.as_deref() == Some("server/discover") {
        return match crossing.message.id.as_ref() {
            Some(id) => jsonrpc::answer_result(id, &discover_result(&session.initialized)),
            None => StatusCode::ACCEPTED.into_response(),
        };
    }
    let body = without_envelope(&crossing.body);
    let mut response = forward(&crossing, &session, &body).await;
    if response.status() == StatusCode::NOT_FOUND && session.id.is_some() {
        // The upstream forgot the session: open another and try once more.
        let forgotten = session.id.as_deref();
        crossing
            .proxy
            .upstream_sessions
            .forget(&key_of(&crossing), forgotten);
        session = match session_for(&crossing).await {
            Ok(s) => s,
            Err(response) => return response,
        };
        response = forward(&crossing, &session, &body).await;
    }
    response.headers_mut().remove(MCP_PROTOCOL_VERSION);
    response.headers_mut().remove(MCP_SESSION_ID);
    let cacheable = super::results::is_cacheable(crossing.message.method.as_deref().unwrap_or(""));
    let response = super::results::stamp_response(response, cacheable).await;
    match crossing.message.id.clone() {
        Some(id) if response.status().is_success() => {
            cancel_on_close(response, &crossing, &session, id)
        }
        _ => response,
    }
}

/// Sends `notifications/cancelled` upstream when it is dropped before the call was answered.
struct CancelOnClose {
    ended: bool,
    cancel: Option<Box<dyn FnOnce() + Send>>,
}

impl CancelOnClose {
    /// The call was answered, or its stream ended: nothing to cancel.
    fn finish(&mut self) {
        self.ended = true;
    }
}

impl Drop for CancelOnClose {
    fn drop(&mut self) {
        if !self.ended
            && let Some(cancel) = self.cancel.take()
        {
            cancel();
        }
    }
}

/// A 2026-07-28 client that closes its stream cancels the request (Streamable HTTP §Cancellation);
/// a legacy server learns it only from `notifications/cancelled` in its session (2025-11-25
/// transports: a disconnect is not a cancellation), so that is sent when the client goes before
/// the answer: cancellation reaches each side in that side's era. Once the response to the call
/// has passed, closing the stream cancels nothing (MCP 2025-11-25 cancellation: a cancellation
/// refers to a request still in progress).
fn cancel_on_close(
    response: Response,
    crossing: &Crossing,
    session: &UpstreamSession,
    id: Value,
) -> Response {
    let proxy = crossing.proxy.clone();
    let upstream = crossing.upstream.clone();
    let bearer = crossing.bearer.clone();
    let session = session.clone();
    let answer_to = id.clone();
    let guard = CancelOnClose {
        ended: false,
        cancel: Some(Box::new(move || {
            let notification = json!({
                "jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": { "requestId": id, "reason": "the client closed its stream" },
            });
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&session.version) {
                headers.insert(MCP_PROTOCOL_VERSION, v);
            }
            if let Some(v) = session
                .id
                .as_deref()
                .and_then(|s| HeaderValue::from_str(s).ok())
            {
                headers.insert(MCP_SESSION_ID, v);
            }
            tokio::spawn(async move {
                let sent =
                    own_call::call(&proxy, &upstream, bearer.as_ref(), headers, &notification)
                        .await;
                tracing::debug!(delivered = sent.is_ok(), "cancellation sent upstream");
            });
        })),
    };
    let (parts, body) = response.into_parts();
    let stream = futures_util::stream::unfold(
        (body.into_data_stream(), guard, answer_to),
        |(mut stream, mut guard, answer_to)| async move {
            use futures_util::StreamExt as _;
            match stream.next().await {
                Some(item) => {
                    // Answered: a stream the upstream leaves open after it is not the call's.
                    if !guard.ended
                        && let Ok(events) = &item
                        && super::results::holds_answer_to(events, &answer_to)
                    {
                        guard.finish();
                    }
                    Some((item, (stream, guard, answer_to)))
                }
                None => {
                    guard.finish();
                    None
                }
            }
        },
    );
    Response::from_parts(parts, axum::body::Body::from_stream(stream))
}

/// The `DiscoverResult` for a legacy upstream's `InitializeResult`.
pub fn discover_result(initialized: &Value) -> Value {
    let mut result = json!({
        "resultType": "complete",
        "supportedVersions": [MODERN_VERSION],
        // CacheableResult (see super::results): private to the grant, stale at once.
        "ttlMs": 0,
        "cacheScope": "private",
        "capabilities": initialized.get("capabilities").cloned().unwrap_or_else(|| json!({})),
        "_meta": { SERVER_INFO_KEY: initialized.get("serverInfo").cloned().unwrap_or_else(|| json!({})) },
    });
    if let (Some(instructions), Some(map)) = (
        initialized.get("instructions").filter(|v| v.is_string()),
        result.as_object_mut(),
    ) {
        map.insert("instructions".into(), instructions.clone());
    }
    result
}

/// The request without the modern `_meta` keys (an emptied `_meta` goes too).
pub fn without_envelope(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(params) = body.get_mut("params").and_then(Value::as_object_mut) {
        let emptied = params
            .get_mut("_meta")
            .and_then(Value::as_object_mut)
            .is_some_and(|meta| {
                meta.retain(|k, _| !k.starts_with("io.modelcontextprotocol/"));
                meta.is_empty()
            });
        if emptied {
            params.remove("_meta");
        }
    }
    body
}

async fn forward(crossing: &Crossing, session: &UpstreamSession, body: &Value) -> Response {
    let mut out = HeaderMap::new();
    for name in [http::header::ACCEPT, http::header::CONTENT_TYPE] {
        if let Some(v) = crossing.headers.get(&name) {
            out.insert(name, v.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(&session.version) {
        out.insert(MCP_PROTOCOL_VERSION, v);
    }
    if let Some(id) = session
        .id
        .as_deref()
        .and_then(|s| HeaderValue::from_str(s).ok())
    {
        out.insert(MCP_SESSION_ID, id);
    }
    if let Some(token) = &crossing.bearer {
        set_bearer(&mut out, token);
    }
    let request = crossing
        .upstream
        .request(&crossing.proxy.http, Method::POST, out)
        .body(serde_json::to_vec(body).unwrap_or_default());
    let exchange = Exchange {
        authorized: crossing.authorized.clone(),
        id: crossing.message.id.clone(),
        local_session: None,
        sessions_allowed: false,
        tools_list: crossing.tools_list.clone(),
        // The client is modern: its closed stream is its cancellation.
        outlive_client: false,
        url_elicitation: false,
    };
    send(
        &crossing.proxy,
        &crossing.upstream,
        request,
        crossing.bearer.clone(),
        exchange,
    )
    .await
}

/// The grant's upstream session, opened now if there is none.
async fn session_for(crossing: &Crossing) -> Result<UpstreamSession, Response> {
    let key = key_of(crossing);
    let sessions = &crossing.proxy.upstream_sessions;
    if let Some(session) = sessions.get(&key, crossing.upstream.config_version) {
        return Ok(session);
    }
    let gate = sessions.gate(&key);
    let _opening = gate.lock().await;
    // Another request may have opened it while this one waited.
    if let Some(session) = sessions.get(&key, crossing.upstream.config_version) {
        return Ok(session);
    }
    let id = crossing.message.id.as_ref();
    let client_info = crossing
        .body
        .pointer("/params/_meta")
        .and_then(|m| m.get(era::CLIENT_INFO_KEY))
        .filter(|v| v.get("name").is_some_and(Value::is_string))
        .cloned()
        .unwrap_or_else(era::gatehouse_client_info);
    let initialize = json!({
        "jsonrpc": "2.0", "id": "gatehouse-initialize", "method": "initialize",
        "params": { "protocolVersion": ASKED_VERSION, "capabilities": {}, "clientInfo": client_info },
    });
    let proxy = &crossing.proxy;
    let upstream = &crossing.upstream;
    let reply = match own_call::call(
        proxy,
        upstream,
        crossing.bearer.as_ref(),
        HeaderMap::new(),
        &initialize,
    )
    .await
    {
        Ok(reply) => reply,
        Err(CallError::Unreachable(err)) => {
            return Err(crate::proxy::relay::unreachable_upstream(id, &err));
        }
        Err(CallError::TimedOut) => return Err(timed_out(id)),
    };
    if !reply.status.is_success() {
        if era::classify(reply.status, reply.message.as_ref())
            .is_some_and(|e| e != era::Era::Legacy)
        {
            proxy.eras.forget(&upstream.connection_id);
        }
        return Err(upstream_failure(
            proxy,
            upstream,
            &upstream.connection_id,
            id,
            reply.status,
        ));
    }
    let result = reply.message.as_ref().and_then(|m| m.get("result"));
    let version = result
        .and_then(|r| r.get("protocolVersion"))
        .and_then(Value::as_str)
        .filter(|v| LEGACY_VERSIONS.contains(v));
    let (Some(result), Some(version)) = (result, version) else {
        let why = reply
            .message
            .as_ref()
            .and_then(|m| m.pointer("/error/message"))
            .and_then(Value::as_str)
            .unwrap_or("no usable initialize result");
        return Err(jsonrpc::answer_error(
            id,
            jsonrpc::UPSTREAM_ERROR,
            &format!("the upstream MCP server did not start a session for Gatehouse: {why}"),
        ));
    };
    let session = UpstreamSession {
        config_version: upstream.config_version,
        id: reply
            .headers
            .get(MCP_SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        version: version.to_owned(),
        initialized: Arc::new(result.clone()),
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(version) {
        headers.insert(MCP_PROTOCOL_VERSION, v);
    }
    if let Some(v) = session
        .id
        .as_deref()
        .and_then(|s| HeaderValue::from_str(s).ok())
    {
        headers.insert(MCP_SESSION_ID, v);
    }
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    if let Err(err) = own_call::call(
        proxy,
        upstream,
        crossing.bearer.as_ref(),
        headers,
        &initialized,
    )
    .await
    {
        tracing::info!(error = ?err, "notifications/initialized not delivered");
    }
    sessions.table().insert(key, session.clone());
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_is_made_of_the_initialize_result() {
        // 2026-07-28 server/discover §Response, from a 2025-11-25 InitializeResult.
        let result = discover_result(&json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {"listChanged": true}},
            "serverInfo": {"name": "everything", "version": "2"},
            "instructions": "be nice",
        }));
        assert_eq!(result["supportedVersions"], json!(["2026-07-28"]));
        assert_eq!(result["capabilities"]["tools"]["listChanged"], true);
        assert_eq!(
            result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "everything"
        );
        assert_eq!(result["instructions"], "be nice");
        assert_eq!(result["resultType"], "complete");
    }

    #[test]
    fn only_the_modern_meta_keys_are_taken_out() {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "echo", "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "c"},
                "progressToken": 3}}});
        let legacy = without_envelope(&body);
        assert_eq!(legacy["params"]["_meta"], json!({"progressToken": 3}));
        let bare = without_envelope(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list",
            "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}}));
        assert_eq!(bare["params"], json!({}), "an emptied _meta goes");
    }
}
