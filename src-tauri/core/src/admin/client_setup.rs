//! Setting up MCP clients to use Gatehouse, for the window and `gatehoused clients
//! detect|connect|undo` alike: the use cases over [`crate::clients`], with the connection's local
//! URL filled in and the journal kept in the data directory. Moving a client's server behind
//! Gatehouse is `client_import`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use ts_rs::TS;

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

/// The current user's home, whose clients the window and the CLI set up.
pub fn user_home() -> Result<Home, AdminError> {
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
        &user_home()?,
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
    preview_client_connect_in(&user_home()?, vault, port, client, slug, config, bridge)
}

/// [`preview_client_connect`] for the clients of `home`.
pub fn preview_client_connect_in(
    home: &Home,
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
    Ok(clients::plan_connect(home, client, &target, config)?)
}

/// Makes a previewed change (refused if the file changed since the preview).
pub fn connect_client(vault: &Vault, plan: &Plan) -> Result<Written, AdminError> {
    Ok(clients::apply(plan, &data_dir(vault), vault.store().now())?)
}

/// Puts back the file of Gatehouse's last change to `client`'s config.
pub fn undo_client(vault: &Vault, client: &str) -> Result<Written, AdminError> {
    Ok(clients::undo(&data_dir(vault), client)?)
}

/// A client on this computer, for the window's "Connect a client" dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DetectedClient {
    /// `claude-code`, `vscode`, …
    pub id: String,
    pub name: String,
    /// Its config file.
    pub config: String,
    pub installed: bool,
    pub configured: bool,
    /// The servers in its config, by name.
    pub servers: Vec<String>,
    /// Those already going through this Gatehouse.
    pub through_gatehouse: Vec<String>,
    /// Claude Desktop: it starts Gatehouse's stdio bridge instead of reaching the URL.
    pub needs_bridge: bool,
    /// Why its config could not be read.
    pub problem: Option<String>,
    /// VS Code: the folders it opened recently, whose own `.vscode/mcp.json` can be set up.
    pub workspaces: Vec<DetectedWorkspaceView>,
}

/// A VS Code workspace folder, for the window's "Connect a client" dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DetectedWorkspaceView {
    pub folder: String,
    /// `<folder>/.vscode/mcp.json`.
    pub config: String,
    /// That file exists.
    pub configured: bool,
    pub servers: Vec<String>,
    pub through_gatehouse: Vec<String>,
    pub problem: Option<String>,
}

/// The config a change goes to: the client's own, or (VS Code) the `.vscode/mcp.json` of
/// `workspace`, which must be an existing folder given by its absolute path.
pub fn workspace_config(
    client: &str,
    workspace: Option<&str>,
) -> Result<Option<PathBuf>, AdminError> {
    let Some(folder) = workspace else {
        return Ok(None);
    };
    if client != "vscode" {
        return Err(AdminError::invalid(
            "workspace",
            "only VS Code has workspace configs",
        ));
    }
    let folder = Path::new(folder);
    if !folder.is_absolute() || !folder.is_dir() {
        return Err(AdminError::invalid(
            "workspace",
            format!("{} is not a folder on this computer", folder.display()),
        ));
    }
    Ok(Some(clients::vscode::workspace_config(folder)))
}

/// The change that connecting a client would make, to show before it is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ClientConfigPreview {
    pub client: String,
    pub client_name: String,
    pub config: String,
    /// The entry's name in the client's config.
    pub entry_name: String,
    /// A unified diff; the keys of other servers are shown as `[secret]`.
    pub diff: String,
    /// The file does not exist yet.
    pub creates_file: bool,
}

/// A change Gatehouse made to a client's config (or undid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ClientConfigWritten {
    pub client: String,
    pub config: String,
    /// The file as it was (`null`: Gatehouse created it).
    pub backup: Option<String>,
}

/// Every known client of `home`, for the window.
pub fn list_client_apps(home: &Home, port: u16) -> Vec<DetectedClient> {
    clients::detect(home, &format!("http://127.0.0.1:{port}"))
        .into_iter()
        .map(|d| DetectedClient {
            id: d.id.to_owned(),
            name: d.name.to_owned(),
            config: d.config.display().to_string(),
            installed: d.installed,
            configured: d.configured,
            servers: d.servers,
            through_gatehouse: d.through_gatehouse,
            needs_bridge: d.needs_bridge,
            problem: d.problem,
            workspaces: d
                .workspaces
                .into_iter()
                .map(|w| DetectedWorkspaceView {
                    folder: w.folder.display().to_string(),
                    config: w.config.display().to_string(),
                    configured: w.configured,
                    servers: w.servers,
                    through_gatehouse: w.through_gatehouse,
                    problem: w.problem,
                })
                .collect(),
        })
        .collect()
}

fn preview_of(plan: &Plan) -> ClientConfigPreview {
    ClientConfigPreview {
        client: plan.client.to_owned(),
        client_name: clients::table::client(plan.client)
            .map_or_else(|| plan.client.to_owned(), |c| c.name.to_owned()),
        config: plan.config.display().to_string(),
        entry_name: plan.name.clone(),
        diff: plan.diff.clone(),
        creates_file: plan.before.is_none(),
    }
}

fn written_view(written: &Written) -> ClientConfigWritten {
    ClientConfigWritten {
        client: written.client.clone(),
        config: written.config.display().to_string(),
        backup: written.backup.as_ref().map(|b| b.display().to_string()),
    }
}

/// What connecting `client` to the connection `key` would change (nothing is written); for VS
/// Code, `workspace` picks a folder's `.vscode/mcp.json` instead of the user's `mcp.json`.
pub fn preview_client_config(
    home: &Home,
    vault: &Vault,
    port: u16,
    client: &str,
    key: &str,
    workspace: Option<&str>,
    bridge: Option<&[String]>,
) -> Result<ClientConfigPreview, AdminError> {
    let config = workspace_config(client, workspace)?;
    Ok(preview_of(&preview_client_connect_in(
        home,
        vault,
        port,
        client,
        key,
        config.as_deref(),
        bridge,
    )?))
}

/// Makes the change the person saw: refused when the change would now differ from `shown_diff`
/// (the file changed since the preview).
#[allow(clippy::too_many_arguments)] // the preview's inputs plus what was shown
pub fn write_client_config(
    home: &Home,
    vault: &Vault,
    port: u16,
    client: &str,
    key: &str,
    workspace: Option<&str>,
    shown_diff: &str,
    bridge: Option<&[String]>,
) -> Result<ClientConfigWritten, AdminError> {
    let config = workspace_config(client, workspace)?;
    let plan =
        preview_client_connect_in(home, vault, port, client, key, config.as_deref(), bridge)?;
    if plan.diff != shown_diff {
        return Err(AdminError::invalid(
            "config",
            format!(
                "{} changed since the preview; look at the change again",
                plan.config.display()
            ),
        ));
    }
    Ok(written_view(&connect_client(vault, &plan)?))
}

/// Puts back the file of Gatehouse's last change to `client`'s config.
pub fn undo_client_config(vault: &Vault, client: &str) -> Result<ClientConfigWritten, AdminError> {
    Ok(written_view(&undo_client(vault, client)?))
}
