//! `gatehoused serve`: bind 127.0.0.1, print `listening on http://127.0.0.1:PORT` once ready, stop
//! cleanly on SIGINT or SIGTERM.

use std::io::Write;
use std::path::Path;

use super::{CliError, open_vault};
use crate::config;
use crate::gateway;

pub fn serve(data_dir: &Path, port: Option<u16>, retention_days: u32) -> Result<(), CliError> {
    let _log = crate::logging::init(data_dir, "gatehoused");
    let port = config::resolve_port(port)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let vault = open_vault(data_dir)?;
        let listener = gateway::bind_loopback(port).await?;
        let running = gateway::start(vault, listener, retention_days, shutdown_signal()).await?;
        let saved = crate::admin::load_settings(data_dir).unwrap_or_else(|error| {
            tracing::warn!(%error, "using default settings");
            crate::admin::StoredSettings::default()
        });
        running.set_allow_other_os_users(saved.allow_other_os_users);
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", running.base_url())?;
            out.flush()?;
        }
        running.wait().await?;
        tracing::info!("gateway stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
