//! Setting up MCP clients to use Gatehouse, for the window and `gatehoused clients
//! detect|connect|undo` alike: the use cases over [`crate::clients`], with the connection's local
//! URL filled in and the journal kept in the data directory.

use std::path::{Path, PathBuf};

use super::AdminError;
use super::connections::{get_connection, local_url};
use crate::clients::{self, ClientsError, Detected, Home, Plan, Target, Written};
use crate::vault::Vault;

fn data_dir(vault: &Vault) -> PathBuf {
    vault
        .store()
        .path()
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn home() -> Result<Home, AdminError> {
    Home::current().ok_or_else(|| AdminError::invalid("home", "this account has no home directory"))
}

impl From<ClientsError> for AdminError {
    fn from(err: ClientsError) -> Self {
        let field = match err {
            ClientsError::UnknownClient(_) | ClientsError::NeedsBridge(_) => "client",
            _ => "config",
        };
        AdminError::invalid(field, err.to_string())
    }
}

/// Every known client and what its config holds.
pub fn detect_clients(port: u16) -> Result<Vec<Detected>, AdminError> {
    Ok(clients::detect(
        &home()?,
        &format!("http://127.0.0.1:{port}"),
    ))
}

/// The change that would point `client` at the connection `slug` (nothing is written).
/// `gatehoused` (`program`) started for the stdio bridge on this data directory.
pub fn bridge_command(vault: &Vault, program: &Path) -> Vec<String> {
    vec![
        program.display().to_string(),
        "--data-dir".into(),
        data_dir(vault).display().to_string(),
    ]
}

/// The change that would point `client` at the connection `slug` (nothing is written). `bridge`
/// is how to start `gatehoused` for clients that need the stdio bridge.
pub fn preview_client_connect(
    vault: &Vault,
    port: u16,
    client: &str,
    slug: &str,
    config: Option<&Path>,
    bridge: Option<&[String]>,
) -> Result<Plan, AdminError> {
    let connection = get_connection(vault, port, slug)?;
    let url = local_url(port, &connection.slug);
    let target = Target {
        url: &url,
        slug: &connection.slug,
        port,
        bridge,
    };
    Ok(clients::plan_connect(&home()?, client, &target, config)?)
}

/// Makes a previewed change (refused if the file changed since the preview).
pub fn connect_client(vault: &Vault, plan: &Plan) -> Result<Written, AdminError> {
    Ok(clients::apply(plan, &data_dir(vault), vault.store().now())?)
}

/// Puts back the file of Gatehouse's last change to `client`'s config.
pub fn undo_client(vault: &Vault, client: &str) -> Result<Written, AdminError> {
    Ok(clients::undo(&data_dir(vault), client)?)
}
