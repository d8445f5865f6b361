//! Setting up MCP clients to use Gatehouse, for the window and `gatehoused clients
//! detect|connect|undo` alike: the use cases over [`crate::clients`], with the connection's local
//! URL filled in and the journal kept in the data directory.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Serialize;
use ts_rs::TS;

use super::AdminError;
use super::connections::{
    ConnectionView, NewConnectionInput, UpstreamAuth, add_connection, get_connection, local_url,
};
use super::stdio_connections::{NewStdioConnectionInput, add_stdio_connection};
use crate::clients::import::{self, Candidate, Imported};
use crate::clients::{self, ClientsError, Detected, Home, Plan, Target, Written};
use crate::store::connections;
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

/// The servers of `client`'s config and whether each can move behind Gatehouse.
pub fn importable(client: &str, config: Option<&Path>) -> Result<Vec<Candidate>, AdminError> {
    let current = clients::read(&user_home()?, client, config)?;
    Ok(import::candidates(&current.servers))
}

/// A server moved behind Gatehouse.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportDone {
    pub connection: ConnectionView,
    pub written: Written,
    /// The names of the secrets now sealed in Gatehouse (never their values).
    pub secrets_moved: Vec<String>,
}

/// What [`import_server`] will do, to show first.
pub struct ImportPlan {
    pub slug: String,
    pub imported: Imported,
    pub secrets: Vec<String>,
    pub plan: Plan,
}

fn free_slug(vault: &Vault, wanted: &str) -> Result<String, AdminError> {
    for n in 1..100 {
        let slug = if n == 1 {
            wanted.to_owned()
        } else {
            format!("{wanted}-{n}")
        };
        let taken = vault.store().read_blocking({
            let slug = slug.clone();
            move |c| connections::get_by_slug(c, &slug)
        })?;
        if taken.is_none() {
            return Ok(slug);
        }
    }
    Err(AdminError::invalid("slug", "no free slug for this server"))
}

/// Plans moving the server `name` of `client`'s config behind Gatehouse: a new connection holding
/// its URL or command and its secrets, and the client's entry replaced by one for Gatehouse.
pub fn plan_import(
    vault: &Vault,
    port: u16,
    client: &str,
    name: &str,
    config: Option<&Path>,
    bridge: Option<&[String]>,
) -> Result<ImportPlan, AdminError> {
    plan_import_in(&user_home()?, vault, port, client, name, config, bridge)
}

/// [`plan_import`] for the clients of `home`.
pub fn plan_import_in(
    home: &Home,
    vault: &Vault,
    port: u16,
    client: &str,
    name: &str,
    config: Option<&Path>,
    bridge: Option<&[String]>,
) -> Result<ImportPlan, AdminError> {
    let current = clients::read(home, client, config)?;
    let entry = current.servers.get(name).ok_or_else(|| {
        AdminError::invalid(
            "server",
            format!("{name:?} is not in {}", current.config.display()),
        )
    })?;
    let imported = import::read_entry(entry)
        .map_err(|why| AdminError::invalid("server", format!("{name}: {why}")))?;
    let slug = free_slug(vault, &import::slug_for(name))?;
    let url = local_url(port, &slug);
    let target = Target {
        url: &url,
        slug: &slug,
        port,
        bridge,
    };
    let plan = clients::plan_replace(home, client, name, &target, Some(&current.config))?;
    let secrets = match &imported {
        Imported::Http { header, .. } => header.iter().map(|(n, _)| n.clone()).collect(),
        Imported::Stdio { env, .. } => env.iter().map(|(n, _)| n.clone()).collect(),
    };
    Ok(ImportPlan {
        slug,
        imported,
        secrets,
        plan,
    })
}

/// Makes an import: the connection first, then the client's config (if that write fails, the new
/// connection is removed again, so nothing is half done).
pub fn import_server(
    vault: &Vault,
    port: u16,
    name: &str,
    planned: &ImportPlan,
) -> Result<ImportDone, AdminError> {
    let connection = match &planned.imported {
        Imported::Http { url, header } => add_connection(
            vault,
            port,
            &NewConnectionInput {
                slug: planned.slug.clone(),
                name: name.to_owned(),
                upstream_url: url.clone(),
                auth: match header {
                    Some((n, v)) => UpstreamAuth::Header {
                        name: n.clone(),
                        value: SecretString::from(v.clone()),
                    },
                    None => UpstreamAuth::None,
                },
                account_name: None,
            },
        )?,
        Imported::Stdio {
            program,
            args,
            cwd,
            env,
        } => add_stdio_connection(
            vault,
            port,
            &NewStdioConnectionInput {
                slug: planned.slug.clone(),
                name: name.to_owned(),
                program: program.clone(),
                args: args.clone(),
                cwd: cwd.clone(),
                env: env
                    .iter()
                    .map(|(n, v)| (n.clone(), SecretString::from(v.clone())))
                    .collect(),
            },
        )?,
    };
    match connect_client(vault, &planned.plan) {
        Ok(written) => Ok(ImportDone {
            connection,
            written,
            secrets_moved: planned.secrets.clone(),
        }),
        Err(err) => {
            if let Some(id) = crate::store::ConnectionId::parse(&connection.id) {
                let now = vault.store().now();
                let _ = vault
                    .store()
                    .write_blocking(move |tx| connections::delete(tx, &id, now).map(|_| ()));
            }
            Err(err)
        }
    }
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

/// A server of a client's config, for the window's import list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ImportCandidate {
    pub name: String,
    /// `http` or `stdio`.
    pub kind: String,
    /// The names of the secrets that would move into Gatehouse (never their values).
    pub secrets: Vec<String>,
    /// Why Gatehouse cannot take it over, if it cannot.
    pub refused: Option<String>,
}

/// What importing a server would do, to show first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ImportPreview {
    pub client: String,
    pub server: String,
    /// The connection Gatehouse would create.
    pub slug: String,
    /// The secrets that would move into Gatehouse's sealed store, by name.
    pub secrets: Vec<String>,
    pub config: String,
    /// The change to the client's config (keys shown as `[secret]`).
    pub diff: String,
}

/// An import made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ImportResult {
    pub connection: ConnectionView,
    pub config: String,
    /// The config as it was, which still holds the secrets in plain text.
    pub backup: Option<String>,
}

/// The servers of `client`'s config in `home`, and whether each can move behind Gatehouse.
pub fn import_candidates(home: &Home, client: &str) -> Result<Vec<ImportCandidate>, AdminError> {
    let current = clients::read(home, client, None)?;
    Ok(import::candidates(&current.servers)
        .into_iter()
        .map(|c| ImportCandidate {
            name: c.name,
            kind: c.kind.to_owned(),
            secrets: c.secrets,
            refused: c.refused,
        })
        .collect())
}

/// What importing `server` of `client` would do (nothing is changed).
pub fn preview_import(
    home: &Home,
    vault: &Vault,
    port: u16,
    client: &str,
    server: &str,
    bridge: Option<&[String]>,
) -> Result<ImportPreview, AdminError> {
    let planned = plan_import_in(home, vault, port, client, server, None, bridge)?;
    Ok(ImportPreview {
        client: client.to_owned(),
        server: server.to_owned(),
        slug: planned.slug,
        secrets: planned.secrets,
        config: planned.plan.config.display().to_string(),
        diff: planned.plan.diff,
    })
}

/// Imports `server` of `client` as previewed (refused if the change would now differ from
/// `shown_diff`).
pub fn import_from_client(
    home: &Home,
    vault: &Vault,
    port: u16,
    client: &str,
    server: &str,
    shown_diff: &str,
    bridge: Option<&[String]>,
) -> Result<ImportResult, AdminError> {
    let planned = plan_import_in(home, vault, port, client, server, None, bridge)?;
    if planned.plan.diff != shown_diff {
        return Err(AdminError::invalid(
            "config",
            format!(
                "{} changed since the preview; look at the change again",
                planned.plan.config.display()
            ),
        ));
    }
    let done = import_server(vault, port, server, &planned)?;
    Ok(ImportResult {
        connection: done.connection,
        config: done.written.config.display().to_string(),
        backup: done.written.backup.map(|b| b.display().to_string()),
    })
}
