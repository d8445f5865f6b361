//! Starts the gateway at launch with the same code path as `gatehoused serve`, honouring
//! `GATEHOUSE_DATA_DIR` and `GATEHOUSE_PORT` (else the saved port and retention from
//! `settings.json`). A gateway that cannot start (port taken, wrong data key...) does not stop the
//! window from opening: the status line says why.

use std::path::Path;
use std::sync::{Arc, Mutex};

use gatehouse_core::admin::{AdminError, IpcError};
use gatehouse_core::admin::{StoredSettings, UpstreamOAuth};
use gatehouse_core::clock::SystemClock;
use gatehouse_core::crypto::KeyBackend;
use gatehouse_core::gateway::{self, RunningGateway};
use gatehouse_core::logging::LogGuard;
use gatehouse_core::{config, vault::Vault};
use tauri::{AppHandle, Manager};

/// The gateway as the window sees it: running, or the reason it is not.
pub struct GatewaySlot {
    pub gateway: Mutex<Option<RunningGateway>>,
    pub failure: Option<String>,
    _log: Option<LogGuard>,
}

impl GatewaySlot {
    /// The running gateway's vault and port, or the IPC error saying why there is none.
    pub fn vault(&self) -> Result<(Vault, u16), IpcError> {
        let guard = self.gateway.lock().map_err(|_| IpcError::Internal {
            message: "gateway state poisoned".into(),
        })?;
        match guard.as_ref() {
            Some(running) => Ok((running.vault().clone(), running.address().port())),
            None => Err(IpcError::GatewayNotRunning {
                reason: self.failure.clone().unwrap_or_else(|| "stopped".to_owned()),
            }),
        }
    }

    /// The running gateway's upstream OAuth client (sign-ins, deep-link callbacks) and port.
    pub fn oauth(&self) -> Result<(Arc<UpstreamOAuth>, u16), IpcError> {
        let guard = self.gateway.lock().map_err(|_| IpcError::Internal {
            message: "gateway state poisoned".into(),
        })?;
        match guard.as_ref() {
            Some(running) => Ok((running.upstream_oauth().clone(), running.address().port())),
            None => Err(IpcError::GatewayNotRunning {
                reason: self.failure.clone().unwrap_or_else(|| "stopped".to_owned()),
            }),
        }
    }

    /// Hands a saved retention period to the running gateway's retention job.
    pub fn set_retention_days(&self, days: u32) {
        if let Ok(guard) = self.gateway.lock()
            && let Some(running) = guard.as_ref()
        {
            running.set_retention_days(days);
        }
    }

    /// Lets (or stops) programs of other OS accounts use the running gateway's client routes.
    pub fn set_allow_other_os_users(&self, allow: bool) {
        if let Ok(guard) = self.gateway.lock()
            && let Some(running) = guard.as_ref()
        {
            running.set_allow_other_os_users(allow);
        }
    }

    /// Runs an admin use case on a blocking thread (the store API is blocking; Tauri's main thread
    /// must stay free) and maps its error for the window.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Vault, u16) -> Result<T, AdminError> + Send + 'static,
    ) -> Result<T, IpcError> {
        let (vault, port) = self.vault()?;
        tauri::async_runtime::spawn_blocking(move || f(&vault, port))
            .await
            .map_err(|e| IpcError::Internal {
                message: format!("background task failed: {e}"),
            })?
            .map_err(IpcError::from)
    }
}

pub fn start(app: &AppHandle) {
    let data_dir = config::resolve_data_dir(None);
    let log = data_dir
        .as_ref()
        .ok()
        .map(|dir| gatehouse_core::logging::init(dir, "gatehouse"));
    let launched = data_dir
        .map_err(|e| e.to_string())
        .and_then(|dir| launch(&dir));
    let (running, failure) = match launched {
        Ok(running) => {
            tracing::info!(address = %running.base_url(), "gateway started with the app");
            (Some(running), None)
        }
        Err(reason) => {
            tracing::error!(%reason, "the gateway did not start");
            (None, Some(reason))
        }
    };
    app.manage(Arc::new(GatewaySlot {
        gateway: Mutex::new(running),
        failure,
        _log: log,
    }));
}

/// The saved settings, or the defaults (with a warning) when the file cannot be read.
pub fn saved_settings(data_dir: &Path) -> StoredSettings {
    gatehouse_core::admin::load_settings(data_dir).unwrap_or_else(|error| {
        tracing::warn!(%error, "using default settings");
        StoredSettings::default()
    })
}

fn launch(data_dir: &Path) -> Result<RunningGateway, String> {
    let saved = saved_settings(data_dir);
    let port = gatehouse_core::admin::launch_port(&saved).map_err(|e| e.to_string())?;
    let backend = KeyBackend::from_env().map_err(|e| e.to_string())?;
    let vault = Vault::open(data_dir, backend, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    tauri::async_runtime::block_on(async {
        let listener = gateway::bind_loopback(port)
            .await
            .map_err(|e| e.to_string())?;
        gateway::start(
            vault,
            listener,
            saved.retention_days,
            std::future::pending(),
        )
        .await
        .inspect(|running| running.set_allow_other_os_users(saved.allow_other_os_users))
        .map_err(|e| e.to_string())
    })
}

/// Stops the gateway when the app exits, letting in-flight requests finish.
pub fn stop(app: &AppHandle) {
    let Some(slot) = app.try_state::<Arc<GatewaySlot>>() else {
        return;
    };
    let running = slot.gateway.lock().ok().and_then(|mut g| g.take());
    if let Some(running) = running
        && let Err(error) = tauri::async_runtime::block_on(running.shutdown())
    {
        tracing::warn!(%error, "gateway shutdown reported an error");
    }
}
