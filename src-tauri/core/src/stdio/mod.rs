//! Local MCP servers that speak stdio (MCP 2025-06-18 basic/transports §stdio), as upstreams of
//! connections whose transport is `stdio`.
//!
//! ```text
//! client ──HTTP──▶ /mcp/<slug> (proxy: token, grant, allow-list, sessions, era bridge)
//!                      │ Authorization: Bearer <secret of this process>
//!                      ▼
//!          127.0.0.1:<private port>/stdio/<connection>/<config version>   (front)
//!                      │ one session per client, ids renumbered            (mux)
//!                      ▼
//!          one child process per connection, started on first use          (supervisor, process)
//! ```
//!
//! The proxy treats a stdio connection as an HTTP upstream whose URL is the [`front`]'s: every
//! rule the proxy applies (grants, allow-lists, revocation on the next request, the era bridge for
//! 2026-07-28 clients) applies unchanged. The front's port is bound to 127.0.0.1 and every request
//! must carry a random bearer secret that never leaves this process, so another local program
//! cannot use the server (and the keys in its environment) without a grant.
//!
//! - [`process`]: starting the command with an explicit environment; its stderr to the log.
//! - [`mux`]: one process carrying the requests of every session (how ids are mapped).
//! - [`supervisor`]: start on demand, restart after a crash with backoff, stop when idle.
//! - [`front`]: the Streamable HTTP endpoint and its sessions.
//!
//! The process stops after [`DEFAULT_IDLE`] without a request (`GATEHOUSE_STDIO_IDLE_SECS`
//! overrides it), when its connection's configuration changes, and when Gatehouse quits.

pub mod front;
pub mod mux;
pub mod process;
pub mod supervisor;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderName, HeaderValue, header};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use crate::crypto::Aad;
use crate::store::ConnectionId;
use crate::store::connections::{ConnectionRow, StdioCommand};
use crate::vault::Vault;
use process::Launch;
use supervisor::Server;

/// How long a stdio server may go without a request before it is stopped.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(10 * 60);

/// The AAD column of a connection's sealed stdio environment.
pub const ENV_COLUMN: &str = "stdio_env_sealed";

/// The log file of a connection's stdio server.
pub fn log_path(data_dir: &Path, connection: &ConnectionId) -> PathBuf {
    crate::config::log_dir(data_dir)
        .join("stdio")
        .join(format!("{connection}.log"))
}

/// Seals a connection's environment variables (a JSON object, bound to the connection's row).
pub fn seal_env(
    vault: &Vault,
    connection: &ConnectionId,
    env: &[(String, SecretString)],
) -> Vec<u8> {
    let object: serde_json::Map<String, serde_json::Value> = env
        .iter()
        .map(|(name, value)| (name.clone(), value.expose_secret().into()))
        .collect();
    let json = zeroize::Zeroizing::new(serde_json::Value::Object(object).to_string());
    vault.cipher().seal_str(
        &json,
        &Aad {
            table: "connections",
            column: ENV_COLUMN,
            row_id: connection.as_str(),
        },
    )
}

/// Opens a connection's environment variables, in the order of `env_names`.
pub fn open_env(
    vault: &Vault,
    connection: &ConnectionId,
    command: &StdioCommand,
) -> Result<Vec<(String, SecretString)>, String> {
    let Some(sealed) = command.env_sealed.as_deref() else {
        return Ok(Vec::new());
    };
    let cannot = || {
        "Gatehouse cannot open the local server's stored environment: open Gatehouse and re-enter it"
            .to_owned()
    };
    let json = vault
        .cipher()
        .open_string(
            sealed,
            &Aad {
                table: "connections",
                column: ENV_COLUMN,
                row_id: connection.as_str(),
            },
        )
        .map_err(|err| {
            tracing::error!(connection = %connection, error = %err, "cannot open the stdio environment");
            cannot()
        })?;
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json.expose_secret()).map_err(|_| cannot())?;
    Ok(command
        .env_names
        .iter()
        .filter_map(|name| {
            let value = object.get(name)?.as_str()?;
            Some((name.clone(), SecretString::from(value.to_owned())))
        })
        .collect())
}

struct Session {
    connection: String,
    version: i64,
    ended: CancellationToken,
}

/// The stdio servers of this process and their private HTTP front.
pub struct StdioHost {
    data_dir: PathBuf,
    secret: String,
    idle_after: Duration,
    address: Mutex<Option<std::net::SocketAddr>>,
    servers: Mutex<HashMap<ConnectionId, (i64, Arc<Server>)>>,
    sessions: Mutex<HashMap<String, Session>>,
    /// Cancelled on shutdown: ends the front, the idle reaper and every GET stream.
    pub(crate) stop: CancellationToken,
}

impl StdioHost {
    /// A host for the servers of the data directory's connections; nothing starts until a stdio
    /// connection is first used.
    pub fn new(data_dir: &Path) -> Arc<Self> {
        let idle_after = std::env::var("GATEHOUSE_STDIO_IDLE_SECS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(DEFAULT_IDLE, Duration::from_secs);
        Self::with_idle(data_dir, idle_after)
    }

    pub fn with_idle(data_dir: &Path, idle_after: Duration) -> Arc<Self> {
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        Arc::new(Self {
            data_dir: data_dir.to_owned(),
            secret: URL_SAFE_NO_PAD.encode(secret),
            idle_after,
            address: Mutex::new(None),
            servers: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            stop: CancellationToken::new(),
        })
    }

    /// Where the proxy sends a stdio connection's requests, and the header that lets them in.
    /// Registers the connection's current configuration (a process of an older one is stopped).
    pub fn endpoint(
        self: &Arc<Self>,
        vault: &Vault,
        row: &ConnectionRow,
    ) -> Result<(reqwest::Url, (HeaderName, HeaderValue)), String> {
        let Some(command) = row.settings.stdio.as_ref() else {
            return Err("the connection has no command: open Gatehouse and check it".into());
        };
        let address = self.listening()?;
        self.register(vault, row, command)?;
        let url = reqwest::Url::parse(&format!(
            "http://{address}/stdio/{}/{}",
            row.id, row.config_version
        ))
        .map_err(|_| "the local server's address is not a URL".to_owned())?;
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", self.secret))
            .map_err(|_| "the local server's secret is not a header value".to_owned())?;
        bearer.set_sensitive(true);
        Ok((url, (header::AUTHORIZATION, bearer)))
    }

    fn register(
        &self,
        vault: &Vault,
        row: &ConnectionRow,
        command: &StdioCommand,
    ) -> Result<(), String> {
        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        if servers
            .get(&row.id)
            .is_some_and(|(version, _)| *version == row.config_version)
        {
            return Ok(());
        }
        let cwd = command.cwd.as_ref().map_or_else(
            || dirs::home_dir().unwrap_or_else(|| self.data_dir.clone()),
            PathBuf::from,
        );
        let log = log_path(&self.data_dir, &row.id);
        if let Some(parent) = log.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let launch = Launch {
            program: command.program.clone(),
            args: command.args.clone(),
            cwd,
            env: open_env(vault, &row.id, command)?,
            log,
        };
        let server = Server::new(row.name.clone(), launch);
        if let Some((_, old)) = servers.insert(row.id.clone(), (row.config_version, server)) {
            tokio::spawn(async move { old.stop().await });
        }
        Ok(())
    }

    /// The front's address, binding it on first use.
    fn listening(self: &Arc<Self>) -> Result<std::net::SocketAddr, String> {
        let mut address = self.address.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(address) = *address {
            return Ok(address);
        }
        let cannot = |err: std::io::Error| format!("cannot open the local servers' port: {err}");
        let listener =
            std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).map_err(cannot)?;
        listener.set_nonblocking(true).map_err(cannot)?;
        let bound = listener.local_addr().map_err(cannot)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(cannot)?;
        let router = front::router(self.clone());
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        tokio::spawn(reap_idle(Arc::downgrade(self), self.stop.clone()));
        *address = Some(bound);
        Ok(bound)
    }

    pub(crate) fn server(&self, connection: &ConnectionId, version: i64) -> Option<Arc<Server>> {
        self.servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(connection)
            .filter(|(v, _)| *v == version)
            .map(|(_, server)| server.clone())
    }

    pub(crate) fn open_session(&self, connection: &str, version: i64) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                id.clone(),
                Session {
                    connection: connection.to_owned(),
                    version,
                    ended: CancellationToken::new(),
                },
            );
        id
    }

    pub(crate) fn session(
        &self,
        id: &str,
        connection: &str,
        version: i64,
    ) -> Option<CancellationToken> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .filter(|s| s.connection == connection && s.version == version)
            .map(|s| s.ended.clone())
    }

    pub(crate) fn end_session(&self, id: &str) {
        if let Some(session) = self
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
        {
            session.ended.cancel();
        }
    }

    /// Whether the connection's process is running now (for the window and tests).
    pub async fn is_running(&self, connection: &ConnectionId) -> bool {
        let server = self
            .servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(connection)
            .map(|(_, server)| server.clone());
        match server {
            Some(server) => server.is_running().await,
            None => false,
        }
    }

    fn all(&self) -> Vec<Arc<Server>> {
        self.servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|(_, server)| server.clone())
            .collect()
    }

    /// Stops every process (each gets the stdin-close, SIGTERM, SIGKILL sequence) and the front.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        futures_util::future::join_all(self.all().iter().map(|s| s.stop())).await;
    }
}

impl Drop for StdioHost {
    fn drop(&mut self) {
        self.stop.cancel();
        for server in self.all() {
            server.kill_now();
        }
    }
}

async fn reap_idle(host: std::sync::Weak<StdioHost>, stop: CancellationToken) {
    let Some(every) = host
        .upgrade()
        .map(|h| (h.idle_after / 4).clamp(Duration::from_millis(100), Duration::from_secs(30)))
    else {
        return;
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let Some(host) = host.upgrade() else { return };
        for server in host.all() {
            server.stop_if_idle(host.idle_after).await;
        }
    }
}
