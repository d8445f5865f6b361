//! Starts the gateway at launch with the same code path as `gatehoused serve`, honouring
//! `GATEHOUSE_DATA_DIR` and `GATEHOUSE_PORT`. A gateway that cannot start (port taken, wrong data
//! key...) does not stop the window from opening: the status line says why.

use std::path::Path;
use std::sync::{Arc, Mutex};

use gatehouse_core::clock::SystemClock;
use gatehouse_core::crypto::KeyBackend;
use gatehouse_core::gateway::{self, RunningGateway};
use gatehouse_core::logging::LogGuard;
use gatehouse_core::store::retention::DEFAULT_RETENTION_DAYS;
use gatehouse_core::{config, vault::Vault};
use tauri::{AppHandle, Manager};

/// The gateway as the window sees it: running, or the reason it is not.
pub struct GatewaySlot {
    pub gateway: Mutex<Option<RunningGateway>>,
    pub failure: Option<String>,
    _log: Option<LogGuard>,
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

fn launch(data_dir: &Path) -> Result<RunningGateway, String> {
    let port = config::resolve_port(None).map_err(|e| e.to_string())?;
    let backend = KeyBackend::from_env().map_err(|e| e.to_string())?;
    let vault = Vault::open(data_dir, backend, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    tauri::async_runtime::block_on(async {
        let listener = gateway::bind_loopback(port)
            .await
            .map_err(|e| e.to_string())?;
        gateway::start(
            vault,
            listener,
            DEFAULT_RETENTION_DAYS,
            std::future::pending(),
        )
        .await
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
