//! `gatehoused bridge <slug>`: MCP over stdio to a client that only starts local commands (Claude
//! Desktop), Streamable HTTP to this computer's gateway (MCP 2025-06-18 basic/transports: §stdio on
//! one side, §Streamable HTTP on the other). Each line on stdin is POSTed to `/mcp/<slug>`; each
//! JSON-RPC message of the answer (JSON body or SSE events) becomes one line on stdout. Nothing
//! else is ever written to stdout; the bridge's own messages go to stderr.
//!
//! - Authorization: [`auth`] (a client of the gateway like any other, tokens sealed in the store).
//! - The gateway restarting: a refused connection is retried for up to [`GATEWAY_WAIT`]; a session
//!   the gateway no longer knows (404) is replaced by replaying the client's `initialize`.
//! - The gateway not running (`launch`): the bridge starts the app when it knows where it is
//!   (the app run as the bridge starts itself; `gatehoused` a `gatehouse` beside it;
//!   `$GATEHOUSE_APP` overrides both, and empty starts nothing) and waits for its gateway;
//!   otherwise, or if it does not come up, each request gets a JSON-RPC error saying to open the
//!   app.
//!
//! - The session's own GET stream is opened after `initialize`, so what the server says outside an
//!   answer (log messages, list changes) reaches the client as well.

pub mod auth;
pub mod bundle;
mod launch;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, mpsc};

use crate::vault::Vault;
use auth::{AuthError, BridgeAuth};
use launch::start_app_if_down;
pub use launch::{APP_START_WAIT, app_beside, app_to_start};

/// How long a request waits for a gateway that refuses connections (restarting) before the
/// client is told it is not running.
pub const GATEWAY_WAIT: Duration = Duration::from_secs(20);

struct Bridge {
    http: reqwest::Client,
    url: String,
    auth: BridgeAuth,
    session: Mutex<Option<String>>,
    /// The client's `initialize`, replayed when the gateway lost the session.
    initialize: Mutex<Option<Value>>,
    protocol_version: Mutex<Option<String>>,
    out: mpsc::UnboundedSender<String>,
}

fn error_line(id: &Value, code: i64, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
}

/// Runs the bridge until stdin ends.
pub async fn run(
    vault: Vault,
    port: u16,
    slug: &str,
    app: Option<&std::path::Path>,
) -> std::io::Result<()> {
    let base = format!("http://127.0.0.1:{port}");
    if let Some(app) = app {
        start_app_if_down(&base, app).await;
    }
    let (out, mut lines_out) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = lines_out.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
                || stdout.flush().await.is_err()
            {
                break;
            }
        }
    });
    let bridge = Arc::new(Bridge {
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default(),
        url: format!("{base}/mcp/{slug}"),
        auth: BridgeAuth::new(vault, base, slug.to_owned()),
        session: Mutex::new(None),
        initialize: Mutex::new(None),
        protocol_version: Mutex::new(None),
        out,
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut tasks = tokio::task::JoinSet::new();
    let mut listener: Option<tokio::task::JoinHandle<()>> = None;
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            let _ = bridge
                .out
                .send(error_line(&Value::Null, -32700, "parse error"));
            continue;
        };
        if message.get("method").and_then(Value::as_str) == Some("initialize") {
            if let Some(name) = message
                .pointer("/params/clientInfo/name")
                .and_then(Value::as_str)
                && let Ok(mut slot) = bridge.auth.client_name.lock()
            {
                *slot = name.chars().take(100).collect();
            }
            *bridge.initialize.lock().await = Some(message.clone());
            // Everything after initialize needs its session: handle it before reading on.
            bridge.clone().forward(message).await;
            if listener.is_none() {
                listener = Some(tokio::spawn(bridge.clone().listen()));
            }
            continue;
        }
        let bridge = bridge.clone();
        tasks.spawn(async move { bridge.forward(message).await });
    }
    // Stdin ended: the client is gone. The GET stream ends now; requests in flight may finish (for a
    // while), then whatever is left is stopped, so that nothing holds stdout open and the process
    // exits.
    if let Some(listener) = listener {
        listener.abort();
    }
    let pending = async { while tasks.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(Duration::from_secs(10), pending).await;
    tasks.shutdown().await;
    bridge.end_session().await;
    drop(bridge);
    let _ = writer.await;
    Ok(())
}

enum Sent {
    Answered(reqwest::Response),
    Unauthorized(SecretString),
    SessionGone,
}

impl Bridge {
    async fn forward(self: Arc<Self>, message: Value) {
        let id = message.get("id").cloned();
        let is_request =
            message.get("method").is_some() && id.as_ref().is_some_and(|i| !i.is_null());
        let fail = |text: String| {
            if is_request {
                let _ = self.out.send(error_line(
                    id.as_ref().unwrap_or(&Value::Null),
                    -32603,
                    &text,
                ));
            }
        };
        let mut token = match self.auth.access_token().await {
            Ok(token) => token,
            Err(err) => return fail(err.to_string()),
        };
        for _ in 0..3 {
            match self.send(&message, &token).await {
                Ok(Sent::Answered(response)) => {
                    return self.relay(response, is_request, id.as_ref()).await;
                }
                Ok(Sent::Unauthorized(rejected)) => match self.auth.renew(&rejected).await {
                    Ok(fresh) => token = fresh,
                    Err(err) => return fail(err.to_string()),
                },
                Ok(Sent::SessionGone) => {
                    if let Err(why) = self.reinitialize(&token).await {
                        return fail(why);
                    }
                }
                Err(err) => return fail(err.to_string()),
            }
        }
        fail("Gatehouse kept refusing the request; see the Gatehouse window".into());
    }

    async fn post(
        &self,
        message: &Value,
        token: &SecretString,
    ) -> Result<reqwest::Response, AuthError> {
        let deadline = tokio::time::Instant::now() + GATEWAY_WAIT;
        loop {
            let mut request = self
                .http
                .post(&self.url)
                .header("accept", "application/json, text/event-stream")
                .header("authorization", format!("Bearer {}", token.expose_secret()))
                .json(message);
            if let Some(session) = self.session.lock().await.as_ref() {
                request = request.header("mcp-session-id", session);
            }
            if let Some(version) = self.protocol_version.lock().await.as_ref() {
                request = request.header("mcp-protocol-version", version);
            }
            match request.send().await {
                Ok(response) => return Ok(response),
                Err(err) if err.is_connect() && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(_) => return Err(AuthError::GatewayDown(self.url.clone())),
            }
        }
    }

    async fn send(&self, message: &Value, token: &SecretString) -> Result<Sent, AuthError> {
        let is_initialize = message.get("method").and_then(Value::as_str) == Some("initialize");
        let response = self.post(message, token).await?;
        match response.status().as_u16() {
            401 => Ok(Sent::Unauthorized(token.clone())),
            404 if !is_initialize && self.session.lock().await.is_some() => Ok(Sent::SessionGone),
            _ => {
                if is_initialize
                    && let Some(session) = response
                        .headers()
                        .get("mcp-session-id")
                        .and_then(|v| v.to_str().ok())
                {
                    *self.session.lock().await = Some(session.to_owned());
                }
                Ok(Sent::Answered(response))
            }
        }
    }

    /// A new session for the client's `initialize` (the gateway restarted and forgot the old one).
    async fn reinitialize(&self, token: &SecretString) -> Result<(), String> {
        *self.session.lock().await = None;
        let Some(initialize) = self.initialize.lock().await.clone() else {
            return Err("the session ended before initialize".into());
        };
        let response = self
            .post(&initialize, token)
            .await
            .map_err(|e| e.to_string())?;
        let Some(session) = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            return Err("Gatehouse gave no new session".into());
        };
        *self.session.lock().await = Some(session);
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.post(&initialized, token)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Writes the JSON-RPC message of each SSE event to stdout, until the stream ends.
    async fn relay_events(&self, response: reqwest::Response) {
        let mut buffer = String::new();
        let mut body = response.bytes_stream();
        while let Some(Ok(chunk)) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect();
                if let Ok(message) = serde_json::from_str::<Value>(&data.join("\n")) {
                    self.remember_version(&message).await;
                    let _ = self.out.send(message.to_string());
                }
            }
        }
    }

    /// The session's own stream (Streamable HTTP §Listening for Messages from the Server): what the
    /// server says outside any answer (log messages, list changes) reaches the client too. Opened
    /// again after it ends (a gateway restart) while the bridge runs; a 405 means the server has
    /// none.
    async fn listen(self: Arc<Self>) {
        loop {
            let Some(session) = self.session.lock().await.clone() else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            let Ok(token) = self.auth.access_token().await else {
                return;
            };
            let mut request = self
                .http
                .get(&self.url)
                .header("accept", "text/event-stream")
                .header("authorization", format!("Bearer {}", token.expose_secret()))
                .header("mcp-session-id", session);
            if let Some(version) = self.protocol_version.lock().await.as_ref() {
                request = request.header("mcp-protocol-version", version);
            }
            match request.send().await {
                Ok(response) if response.status().as_u16() == 405 => return,
                Ok(response) if response.status().is_success() => {
                    self.relay_events(response).await;
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Writes every JSON-RPC message of the answer to stdout.
    async fn relay(&self, response: reqwest::Response, is_request: bool, id: Option<&Value>) {
        let status = response.status();
        let sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if sse {
            self.relay_events(response).await;
            return;
        }
        let body = response.bytes().await.unwrap_or_default();
        match serde_json::from_slice::<Value>(&body) {
            Ok(message) if message.get("jsonrpc").is_some() || message.is_array() => {
                self.remember_version(&message).await;
                let _ = self.out.send(message.to_string());
            }
            _ if is_request => {
                let _ = self.out.send(error_line(
                    id.unwrap_or(&Value::Null),
                    -32603,
                    &format!("Gatehouse answered HTTP {status}"),
                ));
            }
            _ => {}
        }
    }

    async fn remember_version(&self, message: &Value) {
        if let Some(version) = message
            .pointer("/result/protocolVersion")
            .and_then(Value::as_str)
            && message.pointer("/result/serverInfo").is_some()
        {
            *self.protocol_version.lock().await = Some(version.to_owned());
        }
    }

    async fn end_session(&self) {
        let Some(session) = self.session.lock().await.take() else {
            return;
        };
        if let Ok(token) = self.auth.access_token().await {
            let _ = self
                .http
                .delete(&self.url)
                .header("authorization", format!("Bearer {}", token.expose_secret()))
                .header("mcp-session-id", session)
                .send()
                .await;
        }
    }
}

/// `[--data-dir DIR] bridge SLUG [--port PORT]`: how a client config starts the bridge, whether
/// the program is `gatehoused` or the app (which hands these arguments here before any window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeArgs {
    pub data_dir: Option<std::path::PathBuf>,
    pub slug: String,
    pub port: Option<u16>,
}

impl BridgeArgs {
    /// The bridge's arguments, if `args` (without the program name) ask for the bridge.
    pub fn parse(args: &[String]) -> Option<Self> {
        let mut data_dir = None;
        let mut rest = args;
        if let [flag, dir, tail @ ..] = rest
            && flag == "--data-dir"
        {
            data_dir = Some(std::path::PathBuf::from(dir));
            rest = tail;
        }
        let [command, slug, tail @ ..] = rest else {
            return None;
        };
        if command != "bridge" || slug.starts_with('-') {
            return None;
        }
        let port = match tail {
            [] => None,
            [flag, port] if flag == "--port" => Some(port.parse().ok()?),
            _ => return None,
        };
        Some(Self {
            data_dir,
            slug: slug.clone(),
            port,
        })
    }
}

/// Runs the bridge on its own (the app started as a client's command): the data directory and
/// port as `gatehoused` resolves them, the data key from the same place. `app` is started when
/// the gateway is down (the app passes itself).
pub fn run_standalone(args: &BridgeArgs, app: Option<&std::path::Path>) -> Result<(), String> {
    let data_dir =
        crate::config::resolve_data_dir(args.data_dir.as_deref()).map_err(|e| e.to_string())?;
    let port = crate::config::resolve_port(args.port).map_err(|e| e.to_string())?;
    let backend = crate::crypto::KeyBackend::from_env().map_err(|e| e.to_string())?;
    let vault = Vault::open(&data_dir, backend, Arc::new(crate::clock::SystemClock))
        .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime
        .block_on(run(vault, port, &args.slug, app))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
