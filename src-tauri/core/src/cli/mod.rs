//! `gatehoused`: the headless gateway and its admin command line.
//!
//! Every command takes its data directory from `--data-dir DIR`, else `GATEHOUSE_DATA_DIR`, else the
//! platform data directory the app uses, so it works side by side with a running app or gateway on
//! the same store. Scripts and tests rely on this interface: keep it stable.

mod admin;
mod client_setup;
mod requests;
mod serve;
mod settings;
mod signin;
mod write_load;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use thiserror::Error;

use crate::admin::{AdminError, StoreError};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{self, ConfigError};
use crate::crypto::{KeyBackend, KeyError};
use crate::gateway::GatewayError;
use crate::vault::{Vault, VaultError};

#[derive(Debug, Parser)]
#[command(
    name = "gatehoused",
    version,
    about = "Gatehouse's local MCP gateway, without the window"
)]
pub struct Cli {
    /// Data directory (default: $GATEHOUSE_DATA_DIR, else the platform data directory of the app)
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gateway on 127.0.0.1 until SIGINT or SIGTERM
    Serve {
        /// Port on 127.0.0.1 (0 picks a free one; default: $GATEHOUSE_PORT, else 47474)
        #[arg(long)]
        port: Option<u16>,
        /// Days to keep revoked and expired records before the retention job deletes them
        #[arg(long, default_value_t = crate::admin::DEFAULT_RETENTION_DAYS)]
        retention_days: u32,
    },
    /// Speak MCP over stdio for a client that only starts commands (Claude Desktop), through the
    /// running gateway's /mcp/<SLUG>; the first use asks you to approve it in the browser
    Bridge {
        /// The connection's slug
        slug: String,
        /// The gateway's port (default: $GATEHOUSE_PORT, else 47474)
        #[arg(long)]
        port: Option<u16>,
    },
    /// Write the Claude Desktop extension bundle (.mcpb) that wraps `bridge`, with this program in it
    Mcpb {
        #[arg(long, value_name = "FILE", default_value = "gatehouse.mcpb")]
        out: PathBuf,
    },
    /// Upstream MCP servers: add, list, edit, remove, disable, enable, signin, signout
    Connections {
        /// Print the result as JSON
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: admin::ConnectionsCommand,
    },
    /// Grants (authorized clients): list, revoke
    Grants {
        /// Print the result as JSON
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: admin::GrantsCommand,
    },
    /// Consent requests waiting for a decision: list, approve, deny (instead of the browser page)
    Requests {
        /// Print the result as JSON
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: requests::RequestsCommand,
    },
    /// Registered MCP clients: list, pre-register, forget
    Clients {
        /// Print the result as JSON
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: admin::ClientsCommand,
    },
    /// Settings the window does not show: the client metadata document URL
    Settings {
        /// Print the result as JSON
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: settings::SettingsCommand,
    },
    /// Diagnostics: append N audit rows one transaction at a time, printing each committed id
    #[command(hide = true)]
    WriteLoad {
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
    },
}

#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The command line was well-formed for clap but not usable (a malformed --header...).
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// `connections signin` ended without a connected connection.
    #[error("sign-in failed: {0}")]
    SignIn(String),
}

/// Runs one `gatehoused` invocation.
pub fn run(cli: &Cli) -> Result<(), CliError> {
    let data_dir = config::resolve_data_dir(cli.data_dir.as_deref())?;
    match &cli.command {
        Command::Serve {
            port,
            retention_days,
        } => serve::serve(&data_dir, *port, *retention_days),
        Command::Bridge { slug, port } => {
            let vault = open_vault(&data_dir)?;
            let port = config::resolve_port(*port)?;
            let app = crate::bridge::app_to_start(
                std::env::current_exe()
                    .ok()
                    .and_then(|me| crate::bridge::app_beside(&me)),
            );
            admin::runtime()?.block_on(crate::bridge::run(vault, port, slug, app.as_deref()))?;
            Ok(())
        }
        Command::Mcpb { out } => {
            let program = std::env::current_exe()?;
            crate::bridge::bundle::write(out, &program)?;
            println!("{}", out.display());
            Ok(())
        }
        Command::Connections { json, command } => admin::connections(&data_dir, command, *json),
        Command::Grants { json, command } => admin::grants(&data_dir, command, *json),
        Command::Clients { json, command } => admin::clients(&data_dir, command, *json),
        Command::Requests { json, command } => requests::requests(&data_dir, command, *json),
        Command::Settings { json, command } => settings::settings(&data_dir, command, *json),
        Command::WriteLoad { count } => write_load::write_load(&data_dir, *count),
    }
}

fn clock() -> SharedClock {
    std::sync::Arc::new(SystemClock)
}

fn open_vault(data_dir: &std::path::Path) -> Result<Vault, CliError> {
    Ok(Vault::open(data_dir, KeyBackend::from_env()?, clock())?)
}
