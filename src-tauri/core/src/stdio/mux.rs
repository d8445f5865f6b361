//! One running stdio server shared by every session of its connection (MCP 2025-06-18
//! basic/transports §stdio: newline-delimited JSON-RPC on stdin/stdout, nothing else on stdout).
//!
//! **Ids.** A stdio server has one session: Gatehouse initializes it once, as itself, and then
//! carries the requests of all local sessions on it. Each request gets a fresh numeric id from one
//! counter per process (1, 2, 3, …; the server never sees a client's id), and the answer is matched
//! back by that number to the waiting request, which restores the client's own id. A client's
//! `notifications/cancelled` is translated the same way. Progress notifications go to the request
//! whose `progressToken` they name; other notifications (list changes, log messages) go to every
//! session's GET stream.
//!
//! **Server requests.** Gatehouse declares no client capabilities to the server, so a conforming
//! server asks nothing of its clients; `ping` is answered, anything else gets -32601.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::sync::CancellationToken;

/// Largest message accepted from a server, in bytes.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// The protocol version Gatehouse asks a stdio server for.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unanswered {
    /// The process ended (crash, kill, idle stop) before it answered.
    Exited,
}

struct Pending {
    session: String,
    client_id: Value,
    reply: oneshot::Sender<Value>,
    progress_token: Option<String>,
}

/// The running server's message switch.
pub struct Mux {
    outbox: mpsc::UnboundedSender<String>,
    pending: Mutex<HashMap<u64, Pending>>,
    progress: Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>,
    next_id: AtomicU64,
    in_flight: AtomicUsize,
    /// Notifications for every session (shared with the supervisor; survives restarts).
    broadcast: broadcast::Sender<Arc<Value>>,
    /// Cancelled when the process's stdout ends (it exited or closed it).
    pub exited: CancellationToken,
    /// Cancelled to close the server's stdin (the first step of stopping it).
    close_stdin: CancellationToken,
}

/// A request on its way: dropping it forgets the request (a late answer is discarded).
pub struct Call {
    mux: Arc<Mux>,
    id: u64,
    /// The client's id for the request.
    pub client_id: Value,
    pub answer: oneshot::Receiver<Value>,
    pub progress: Option<mpsc::UnboundedReceiver<Value>>,
}

impl Drop for Call {
    fn drop(&mut self) {
        self.mux.forget(self.id);
    }
}

impl Mux {
    /// Starts the reader and writer tasks over the child's pipes.
    pub fn start(
        stdin: ChildStdin,
        stdout: ChildStdout,
        broadcast: broadcast::Sender<Arc<Value>>,
    ) -> Arc<Self> {
        let (outbox, inbox) = mpsc::unbounded_channel();
        let mux = Arc::new(Self {
            outbox,
            pending: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
            broadcast,
            exited: CancellationToken::new(),
            close_stdin: CancellationToken::new(),
        });
        tokio::spawn(write_lines(stdin, inbox, mux.close_stdin.clone()));
        tokio::spawn(read_lines(stdout, mux.clone()));
        mux
    }

    /// How many requests wait for an answer.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Closes the server's stdin (it should then exit).
    pub fn close_stdin(&self) {
        self.close_stdin.cancel();
    }

    /// Sends a request (its `id` is replaced) and returns the pending answer.
    pub fn call(self: &Arc<Self>, session: &str, mut request: Value) -> Result<Call, Unanswered> {
        if self.exited.is_cancelled() {
            return Err(Unanswered::Exited);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let client_id = request.get("id").cloned().unwrap_or(Value::Null);
        let progress_token = request
            .pointer("/params/_meta/progressToken")
            .map(Value::to_string);
        let (reply, answer) = oneshot::channel();
        let progress = progress_token.as_ref().map(|token| {
            let (tx, rx) = mpsc::unbounded_channel();
            self.progress
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(token.clone(), tx);
            rx
        });
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                id,
                Pending {
                    session: session.to_owned(),
                    client_id: client_id.clone(),
                    reply,
                    progress_token,
                },
            );
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        request["id"] = json!(id);
        let call = Call {
            mux: self.clone(),
            id,
            client_id,
            answer,
            progress,
        };
        self.send(&request);
        Ok(call)
    }

    /// A client's `notifications/cancelled` for one of its session's requests, sent with the
    /// server's id for it (a cancel for a request not in flight is dropped, as the spec allows).
    pub fn cancel(&self, session: &str, client_request_id: &Value, reason: Option<&Value>) {
        let ours = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(_, p)| p.session == session && &p.client_id == client_request_id)
            .map(|(id, _)| *id);
        if let Some(ours) = ours {
            let mut params = json!({"requestId": ours});
            if let Some(reason) = reason {
                params["reason"] = reason.clone();
            }
            self.send(&json!({
                "jsonrpc": "2.0", "method": "notifications/cancelled", "params": params
            }));
        }
    }

    fn send(&self, message: &Value) {
        // A closed outbox means the writer has gone; the reader reports the exit.
        let _ = self.outbox.send(message.to_string());
    }

    fn forget(&self, id: u64) {
        let removed = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some(pending) = removed {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            self.drop_progress(pending.progress_token.as_deref());
        }
    }

    fn drop_progress(&self, token: Option<&str>) {
        if let Some(token) = token {
            self.progress
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(token);
        }
    }

    fn answered(&self, mut message: Value) {
        let Some(id) = message.get("id").and_then(Value::as_u64) else {
            tracing::debug!("a stdio server answered an id Gatehouse never sent");
            return;
        };
        let removed = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        let Some(pending) = removed else {
            return; // the client went away; the answer is dropped
        };
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.drop_progress(pending.progress_token.as_deref());
        message["id"] = pending.client_id;
        let _ = pending.reply.send(message);
    }

    fn dispatch(&self, message: Value) {
        let method = message.get("method").and_then(Value::as_str);
        let has_id = message.get("id").is_some_and(|id| !id.is_null());
        match (method, has_id) {
            (Some("ping"), true) => self.send(&json!({
                "jsonrpc": "2.0", "id": message["id"], "result": {}
            })),
            (Some(method), true) => {
                tracing::debug!(method, "a stdio server asked its client something; refused");
                self.send(&json!({
                    "jsonrpc": "2.0",
                    "id": message["id"],
                    "error": {
                        "code": -32601,
                        "message": "Gatehouse declared no client capabilities to this server",
                    },
                }));
            }
            (Some("notifications/progress"), false) => {
                let token = message
                    .pointer("/params/progressToken")
                    .map(Value::to_string);
                let sink = token.and_then(|t| {
                    self.progress
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&t)
                        .cloned()
                });
                if let Some(sink) = sink {
                    let _ = sink.send(message);
                }
            }
            (Some(_), false) => {
                let _ = self.broadcast.send(Arc::new(message));
            }
            (None, _) => self.answered(message),
        }
    }

    /// Every waiting request learns that the process ended.
    fn fail_pending(&self) {
        let drained: Vec<Pending> = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, pending)| pending)
            .collect();
        self.in_flight.store(0, Ordering::Relaxed);
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        drop(drained); // dropping the senders wakes each waiting request
    }
}

async fn write_lines(
    mut stdin: ChildStdin,
    mut inbox: mpsc::UnboundedReceiver<String>,
    close: CancellationToken,
) {
    loop {
        let line = tokio::select! {
            () = close.cancelled() => break,
            line = inbox.recv() => match line {
                Some(line) => line,
                None => break,
            },
        };
        let written = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await
        };
        if written.await.is_err() {
            break;
        }
    }
    // Dropping stdin closes the pipe: the server sees end of input.
}

async fn read_lines(stdout: ChildStdout, mux: Arc<Mux>) {
    let mut lines = FramedRead::new(stdout, LinesCodec::new_with_max_length(MAX_LINE));
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(tokio_util::codec::LinesCodecError::MaxLineLengthExceeded) => {
                tracing::warn!("a stdio server sent a message over {MAX_LINE} bytes; dropped");
                continue;
            }
            Err(err) => {
                tracing::info!(error = %err, "a stdio server's output ended");
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(Value::Array(batch)) => batch.into_iter().for_each(|m| mux.dispatch(m)),
            Ok(message @ Value::Object(_)) => mux.dispatch(message),
            // Not JSON-RPC: a server that logs to stdout. Never passed to a client.
            _ => tracing::debug!("a stdio server wrote a line that is not JSON-RPC"),
        }
    }
    mux.exited.cancel();
    mux.fail_pending();
}

/// Initializes the server as Gatehouse (one session for all clients) and returns its
/// InitializeResult, or why not.
pub async fn initialize(mux: &Arc<Mux>, within: Duration) -> Result<Value, String> {
    let call = mux
        .call(
            "",
            json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "Gatehouse", "version": env!("CARGO_PKG_VERSION")},
            },
            }),
        )
        .map_err(|_| "the server exited before it could be initialized".to_owned())?;
    let mut call = call;
    let answer = tokio::select! {
        answer = tokio::time::timeout(within, &mut call.answer) => answer,
        () = mux.exited.cancelled() => return Err("the server exited during initialize".into()),
    };
    let answer = match answer {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => return Err("the server exited during initialize".into()),
        Err(_) => {
            return Err(format!(
                "the server did not answer initialize within {} s",
                within.as_secs()
            ));
        }
    };
    let Some(result) = answer.get("result").filter(|r| r.is_object()) else {
        let why = answer
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("no result");
        return Err(format!("the server refused initialize: {why}"));
    };
    mux.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    Ok(result.clone())
}
