//! The Streamable HTTP face of the stdio servers (MCP 2025-06-18 basic/transports §Streamable
//! HTTP, as a server), on a loopback port only the proxy knows, behind a bearer secret that exists
//! only in this process's memory. The proxy reaches a stdio connection exactly as it reaches an
//! HTTP upstream, so grants, allow-lists, sessions, revocation and the era bridge apply unchanged.
//!
//! A request from a client that accepts SSE is answered with an SSE stream whose headers go out at
//! once (its progress notifications, then the answer), as the SDK servers do: the proxy can then
//! tell a client that leaves before the answer from one still waiting (the era bridge turns that
//! into `notifications/cancelled`, which reaches the process with its own id for the request).
//!
//! Sessions are Gatehouse's own: `initialize` is answered from the server's InitializeResult (the
//! server was initialized once, by Gatehouse) with a new `Mcp-Session-Id`; the session outlives a
//! restart of the process. Unknown session → 404, none → 400, as §Session Management asks.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use super::StdioHost;
use super::mux::{Call, PROTOCOL_VERSION};
use super::supervisor::Server;
use crate::store::ConnectionId;

/// Protocol versions a session-era client may ask for; another gets the server's.
const SESSION_ERA_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

const SESSION_HEADER: &str = "mcp-session-id";

pub fn router(host: Arc<StdioHost>) -> Router {
    Router::new()
        .route(
            "/stdio/{connection}/{version}",
            post(post_message).get(open_stream).delete(end_session),
        )
        .with_state(host)
}

fn rpc_error(status: StatusCode, id: &Value, code: i64, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            .to_string(),
    )
        .into_response()
}

fn json_response(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Why the front turned a request away.
enum Refused {
    /// Not the proxy: no or a wrong bearer secret.
    Bearer,
    /// The connection's configuration changed (or never was).
    Stale,
    NoSession,
    UnknownSession,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Bearer => StatusCode::UNAUTHORIZED.into_response(),
            Refused::Stale => rpc_error(
                StatusCode::NOT_FOUND,
                &Value::Null,
                -32000,
                "this local server's configuration changed; reconnect",
            ),
            Refused::NoSession => rpc_error(
                StatusCode::BAD_REQUEST,
                &Value::Null,
                -32000,
                "Mcp-Session-Id is required after initialize",
            ),
            Refused::UnknownSession => rpc_error(
                StatusCode::NOT_FOUND,
                &Value::Null,
                -32001,
                "session not found",
            ),
        }
    }
}

/// The request's server, if the bearer is right and the configuration current.
fn server_of(
    host: &StdioHost,
    headers: &HeaderMap,
    connection: &str,
    version: i64,
) -> Result<Arc<Server>, Refused> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(host.secret.as_bytes())) {
        return Err(Refused::Bearer);
    }
    ConnectionId::parse(connection)
        .and_then(|id| host.server(&id, version))
        .ok_or(Refused::Stale)
}

fn session_of(
    host: &StdioHost,
    headers: &HeaderMap,
    connection: &str,
    version: i64,
) -> Result<(String, CancellationToken), Refused> {
    let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(Refused::NoSession);
    };
    host.session(id, connection, version)
        .map(|ended| (id.to_owned(), ended))
        .ok_or(Refused::UnknownSession)
}

async fn post_message(
    State(host): State<Arc<StdioHost>>,
    Path((connection, version)): Path<(String, i64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let server = match server_of(&host, &headers, &connection, version) {
        Ok(server) => server,
        Err(refused) => return refused.into_response(),
    };
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return rpc_error(StatusCode::BAD_REQUEST, &Value::Null, -32700, "parse error");
    };
    if message.get("method").and_then(Value::as_str) == Some("initialize") {
        return initialize(&host, &server, &connection, version, &message).await;
    }
    let (session, _) = match session_of(&host, &headers, &connection, version) {
        Ok(session) => session,
        Err(refused) => return refused.into_response(),
    };
    let wants_sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    match message {
        Value::Array(batch) => {
            // 2025-03-26 batches: each member on its own, answers gathered in order.
            let mut answers = Vec::new();
            for member in batch {
                if let Some(answer) = answer_of(&server, &session, member).await {
                    answers.push(answer);
                }
            }
            if answers.is_empty() {
                StatusCode::ACCEPTED.into_response()
            } else {
                json_response(&Value::Array(answers))
            }
        }
        message => {
            let is_request = message.get("method").is_some()
                && message.get("id").is_some_and(|id| !id.is_null());
            if !is_request {
                notification(&server, &session, &message).await;
                return StatusCode::ACCEPTED.into_response();
            }
            match start_call(&server, &session, message).await {
                Ok(call) if wants_sse => sse_answer(call, server),
                Ok(call) => json_response(&finish(call, &server.name).await),
                Err(answer) => json_response(&answer),
            }
        }
    }
}

async fn initialize(
    host: &StdioHost,
    server: &Server,
    connection: &str,
    version: i64,
    message: &Value,
) -> Response {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let (_, result) = match server.running().await {
        Ok(running) => running,
        Err(why) => return rpc_error(StatusCode::OK, &id, -32603, &why),
    };
    let mut result = (*result).clone();
    let asked = message
        .pointer("/params/protocolVersion")
        .and_then(Value::as_str)
        .filter(|v| SESSION_ERA_VERSIONS.contains(v));
    if let Some(asked) = asked {
        result["protocolVersion"] = json!(asked);
    } else if result.get("protocolVersion").is_none() {
        result["protocolVersion"] = json!(PROTOCOL_VERSION);
    }
    let session = host.open_session(connection, version);
    let mut response = json_response(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
    if let Ok(value) = HeaderValue::from_str(&session) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

/// A member of a batch: a request's answer, or nothing for a notification or a response.
async fn answer_of(server: &Server, session: &str, message: Value) -> Option<Value> {
    let is_request =
        message.get("method").is_some() && message.get("id").is_some_and(|id| !id.is_null());
    if !is_request {
        notification(server, session, &message).await;
        return None;
    }
    Some(match start_call(server, session, message).await {
        Ok(call) => finish(call, &server.name).await,
        Err(answer) => answer,
    })
}

async fn notification(server: &Server, session: &str, message: &Value) {
    // `notifications/initialized` was Gatehouse's to send, once; client responses answer server
    // requests Gatehouse never forwards. Only a cancellation has somewhere to go.
    if message.get("method").and_then(Value::as_str) == Some("notifications/cancelled")
        && server.is_running().await
        && let Ok((mux, _)) = server.running().await
        && let Some(request_id) = message.pointer("/params/requestId")
    {
        mux.cancel(session, request_id, message.pointer("/params/reason"));
    }
}

async fn start_call(server: &Server, session: &str, message: Value) -> Result<Call, Value> {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let error =
        |why: &str| json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32603, "message": why}});
    let (mux, _) = server.running().await.map_err(|why| error(&why))?;
    mux.call(session, message).map_err(|_| {
        error(&format!(
            "the local server {} exited; try again",
            server.name
        ))
    })
}

async fn finish(mut call: Call, name: &str) -> Value {
    match (&mut call.answer).await {
        Ok(answer) => answer,
        Err(_) => json!({
            "jsonrpc": "2.0",
            "id": call.client_id,
            "error": {
                "code": -32603,
                "message": format!(
                    "the local server {name} exited before it answered; Gatehouse starts it again on the next request"
                ),
            },
        }),
    }
}

fn sse_event(value: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {value}\n\n"))
}

/// An answer preceded by the progress notifications for its token, as an SSE stream (its headers
/// at once).
fn sse_answer(mut call: Call, server: Arc<Server>) -> Response {
    let stream = async_stream(move |tx| async move {
        let mut progress = call.progress.take();
        loop {
            tokio::select! {
                Some(note) = async {
                    match progress.as_mut() { Some(p) => p.recv().await, None => None }
                } => {
                    if tx.send(sse_event(&note)).await.is_err() { return; }
                }
                answer = &mut call.answer => {
                    let answer = answer.unwrap_or_else(|_| json!({
                        "jsonrpc": "2.0", "id": call.client_id,
                        "error": {"code": -32603, "message": format!(
                            "the local server {} exited before it answered; Gatehouse starts it again on the next request",
                            server.name
                        )},
                    }));
                    let _ = tx.send(sse_event(&answer)).await;
                    return;
                }
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(stream.map(Ok::<_, std::convert::Infallible>)),
    )
        .into_response()
}

/// A stream fed by a task through a small channel (the task ends when the receiver goes).
fn async_stream<F, Fut>(produce: F) -> tokio_stream_shim::ReceiverStream
where
    F: FnOnce(tokio::sync::mpsc::Sender<Bytes>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(produce(tx));
    tokio_stream_shim::ReceiverStream(rx)
}

mod tokio_stream_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use axum::body::Bytes;

    /// `tokio::sync::mpsc::Receiver` as a `Stream`.
    pub struct ReceiverStream(pub tokio::sync::mpsc::Receiver<Bytes>);

    impl futures_util::Stream for ReceiverStream {
        type Item = Bytes;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
            self.0.poll_recv(cx)
        }
    }
}

/// GET: the session's stream of the server's notifications (list changes, log messages).
async fn open_stream(
    State(host): State<Arc<StdioHost>>,
    Path((connection, version)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Response {
    let server = match server_of(&host, &headers, &connection, version) {
        Ok(server) => server,
        Err(refused) => return refused.into_response(),
    };
    let (_, ended) = match session_of(&host, &headers, &connection, version) {
        Ok(session) => session,
        Err(refused) => return refused.into_response(),
    };
    let mut notes = server.broadcast.subscribe();
    let stopped = host.stop.clone();
    let stream = async_stream(move |tx| async move {
        let mut keepalive = tokio::time::interval(Duration::from_secs(25));
        loop {
            let bytes = tokio::select! {
                () = ended.cancelled() => return,
                () = stopped.cancelled() => return,
                _ = keepalive.tick() => Bytes::from_static(b": keepalive\n\n"),
                note = notes.recv() => match note {
                    Ok(note) => sse_event(&note),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            };
            if tx.send(bytes).await.is_err() {
                return;
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(stream.map(Ok::<_, std::convert::Infallible>)),
    )
        .into_response()
}

async fn end_session(
    State(host): State<Arc<StdioHost>>,
    Path((connection, version)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = server_of(&host, &headers, &connection, version) {
        return refused.into_response();
    }
    match session_of(&host, &headers, &connection, version) {
        Ok((session, _)) => {
            host.end_session(&session);
            StatusCode::OK.into_response()
        }
        Err(refused) => refused.into_response(),
    }
}
