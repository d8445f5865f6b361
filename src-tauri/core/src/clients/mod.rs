//! Setting up the MCP clients on this computer to use Gatehouse: find their config files
//! ([`detect`]), add a connection's local URL to one after showing the change ([`plan_connect`],
//! [`apply`]), and put the file back exactly as it was ([`undo`]).
//!
//! - [`table`]: which clients, where their configs are per OS, what an entry looks like.
//! - [`edit`]: changing one entry in JSONC or TOML text and nothing else.
//! - [`vscode`]: the folders VS Code opened recently, whose `.vscode/mcp.json` can be set up too.
//!
//! Every write keeps a backup next to the file (`<file>.gatehouse-backup-<unix ms>`, the original
//! bytes) and a line in Gatehouse's journal (`<data dir>/client-configs.json`: client, file,
//! backup, and the SHA-256 of what Gatehouse wrote). Undo restores the backup byte for byte, or
//! removes the file if Gatehouse created it, and refuses when the file changed after Gatehouse
//! wrote it (that change would be lost). Files are replaced atomically (write beside, then rename)
//! and a file that changed between the preview and the write is not written.

pub mod edit;
pub mod import;
pub mod table;
pub mod vscode;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::UnixMillis;
pub use table::{CLIENTS, ClientApp, Format, Home, Os, Target};

/// Why a client could not be set up or undone.
#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    #[error("unknown client {0:?}; known: {known}", known = known_ids())]
    UnknownClient(String),
    #[error(
        "{0} only starts local commands; it needs `gatehoused bridge`, which is not available here"
    )]
    NeedsBridge(&'static str),
    #[error("{path}: {source}")]
    Edit {
        path: PathBuf,
        source: edit::EditError,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} changed since the preview; look at the change again")]
    ChangedSincePreview(PathBuf),
    #[error(
        "{0} changed after Gatehouse wrote it; undoing would lose that change (the backup is still there)"
    )]
    ChangedSinceWrite(PathBuf),
    #[error("Gatehouse has not changed {0}'s config (nothing to undo)")]
    NothingToUndo(String),
}

fn known_ids() -> String {
    CLIENTS.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClientsError + '_ {
    move |source| ClientsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One client as found on this computer.
#[derive(Debug, Clone, Serialize)]
pub struct Detected {
    pub id: &'static str,
    pub name: &'static str,
    pub config: PathBuf,
    /// The config file exists.
    pub configured: bool,
    /// The config file or its folder exists (the client is most likely installed).
    pub installed: bool,
    /// The servers in the config, by name.
    pub servers: Vec<String>,
    /// The servers that already go through this Gatehouse (their URL starts with `gateway`).
    pub through_gatehouse: Vec<String>,
    pub needs_bridge: bool,
    /// Why the file could not be read, if it could not.
    pub problem: Option<String>,
    /// VS Code: the folders it opened recently, each with its own `.vscode/mcp.json`.
    pub workspaces: Vec<DetectedWorkspace>,
}

/// A VS Code workspace folder and what its `.vscode/mcp.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct DetectedWorkspace {
    pub folder: PathBuf,
    pub config: PathBuf,
    pub configured: bool,
    pub servers: Vec<String>,
    pub through_gatehouse: Vec<String>,
    pub problem: Option<String>,
}

/// What one config file holds: whether it exists, its servers, those going through Gatehouse,
/// and why it could not be read.
struct Inspected {
    exists: bool,
    servers: Vec<String>,
    through_gatehouse: Vec<String>,
    problem: Option<String>,
}

fn inspect(client: &ClientApp, config: &Path, gateway: &str) -> Inspected {
    let text = std::fs::read_to_string(config).ok();
    let (servers, problem) = match &text {
        Some(text) => match edit::servers(client.format, text, client.servers_at) {
            Ok(servers) => (servers, None),
            Err(err) => (serde_json::Map::new(), Some(err.to_string())),
        },
        None => (serde_json::Map::new(), None),
    };
    let through_gatehouse = servers
        .iter()
        .filter(|(_, entry)| {
            entry_url(entry).is_some_and(|u| u.starts_with(gateway))
                || table::is_bridge_entry(entry, None)
        })
        .map(|(name, _)| name.clone())
        .collect();
    Inspected {
        exists: text.is_some(),
        servers: servers.keys().cloned().collect(),
        through_gatehouse,
        problem,
    }
}

/// What is in each known client's config. `gateway` is the gateway's base URL.
pub fn detect(home: &Home, gateway: &str) -> Vec<Detected> {
    CLIENTS
        .iter()
        .map(|client| {
            let config = (client.path)(home);
            let marker = client
                .marker
                .map_or_else(|| config.parent().map(Path::to_path_buf), |m| Some(m(home)));
            let found = inspect(client, &config, gateway);
            let workspaces = if client.id == "vscode" {
                vscode::recent_folders(home)
                    .into_iter()
                    .map(|folder| {
                        let config = vscode::workspace_config(&folder);
                        let found = inspect(client, &config, gateway);
                        DetectedWorkspace {
                            folder,
                            config,
                            configured: found.exists,
                            servers: found.servers,
                            through_gatehouse: found.through_gatehouse,
                            problem: found.problem,
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Detected {
                id: client.id,
                name: client.name,
                configured: found.exists,
                installed: found.exists || marker.is_some_and(|m| m.is_dir()),
                servers: found.servers,
                through_gatehouse: found.through_gatehouse,
                needs_bridge: client.needs_bridge,
                problem: found.problem,
                config,
                workspaces,
            }
        })
        .collect()
}

/// The URL of an HTTP entry, whichever key the client uses for it.
pub fn entry_url(entry: &Value) -> Option<&str> {
    ["url", "serverUrl", "httpUrl"]
        .iter()
        .find_map(|key| entry.get(key).and_then(Value::as_str))
}

/// A change to one client's config, to show before it is made.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub client: &'static str,
    pub config: PathBuf,
    /// The entry's name in the config.
    pub name: String,
    /// The file as read (`None`: it does not exist yet).
    #[serde(skip)]
    pub before: Option<Vec<u8>>,
    #[serde(skip)]
    pub after: String,
    /// A unified diff of the change.
    pub diff: String,
}

/// The change that points `client` at `local_url` under the name `slug` (or `<slug>-gatehouse`
/// when the config already has a different server named `slug`). `config` overrides where the
/// file is (VS Code's workspace `.vscode/mcp.json`).
pub fn plan_connect(
    home: &Home,
    client_id: &str,
    target: &Target<'_>,
    config: Option<&Path>,
) -> Result<Plan, ClientsError> {
    plan(home, client_id, target, config, None)
}

/// The change that replaces the client's entry `name` by one for `target` (an import: the entry
/// that held the secrets goes).
pub fn plan_replace(
    home: &Home,
    client_id: &str,
    name: &str,
    target: &Target<'_>,
    config: Option<&Path>,
) -> Result<Plan, ClientsError> {
    plan(home, client_id, target, config, Some(name))
}

/// A client's config as it is: the client, its file, its text and servers.
pub struct Current {
    pub client: &'static ClientApp,
    pub config: PathBuf,
    pub before: Option<Vec<u8>>,
    pub text: String,
    pub servers: serde_json::Map<String, Value>,
}

/// Reads `client_id`'s config (`config` overrides where it is).
pub fn read(home: &Home, client_id: &str, config: Option<&Path>) -> Result<Current, ClientsError> {
    let client =
        table::client(client_id).ok_or_else(|| ClientsError::UnknownClient(client_id.into()))?;
    let path = config.map_or_else(|| (client.path)(home), Path::to_path_buf);
    let before = match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(io(&path)(err)),
    };
    let text = before
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let servers = edit::servers(client.format, &text, client.servers_at).map_err(|source| {
        ClientsError::Edit {
            path: path.clone(),
            source,
        }
    })?;
    Ok(Current {
        client,
        config: path,
        before,
        text,
        servers,
    })
}

fn plan(
    home: &Home,
    client_id: &str,
    target: &Target<'_>,
    config: Option<&Path>,
    replace: Option<&str>,
) -> Result<Plan, ClientsError> {
    let (slug, local_url) = (target.slug, target.url);
    let Current {
        client,
        config: path,
        before,
        text,
        servers: existing,
    } = read(home, client_id, config)?;
    let entry = (client.entry)(target).ok_or(ClientsError::NeedsBridge(client.name))?;
    let name = match (replace, existing.get(slug)) {
        (Some(name), _) => name.to_owned(),
        (None, None) => slug.to_owned(),
        (None, Some(entry))
            if entry_url(entry) == Some(local_url) || table::is_bridge_entry(entry, Some(slug)) =>
        {
            slug.to_owned()
        }
        (None, Some(_)) => format!("{slug}-gatehouse"),
    };
    let after = edit::set_server(client.format, &text, client.servers_at, &name, &entry).map_err(
        |source| ClientsError::Edit {
            path: path.clone(),
            source,
        },
    )?;
    let shown = path.display().to_string();
    let diff = similar::TextDiff::from_lines(text.as_str(), after.as_str())
        .unified_diff()
        .context_radius(3)
        .header(&shown, &shown)
        .to_string();
    let diff = mask_secrets(&diff, &existing);
    Ok(Plan {
        client: client.id,
        config: path,
        name,
        before,
        after,
        diff,
    })
}

/// `diff` with every secret value of the config's servers (environment values, header values,
/// bearer tokens of 4 characters or more) replaced by `[secret]`: a diff is shown in the window
/// and the terminal, and its context lines may pass through other servers' keys.
pub fn mask_secrets(diff: &str, servers: &serde_json::Map<String, Value>) -> String {
    let mut secrets: Vec<&str> = Vec::new();
    for entry in servers.values() {
        for key in ["env", "headers", "http_headers", "env_http_headers"] {
            if let Some(map) = entry.get(key).and_then(Value::as_object) {
                secrets.extend(map.values().filter_map(Value::as_str));
            }
        }
        if let Some(token) = entry.get("bearer_token").and_then(Value::as_str) {
            secrets.push(token);
        }
    }
    secrets.retain(|s| s.len() >= 4);
    // Longest first, so a secret that contains another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.iter().fold(diff.to_owned(), |diff, secret| {
        diff.replace(secret, "[secret]")
    })
}

/// One write Gatehouse made to a client config, as the journal keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Written {
    pub client: String,
    pub config: PathBuf,
    /// The original file; `None` when Gatehouse created it.
    pub backup: Option<PathBuf>,
    /// SHA-256 (hex) of the bytes Gatehouse wrote.
    pub written_sha256: String,
    pub at: UnixMillis,
}

fn journal_path(data_dir: &Path) -> PathBuf {
    data_dir.join("client-configs.json")
}

fn read_journal(data_dir: &Path) -> Vec<Written> {
    std::fs::read(journal_path(data_dir))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn write_journal(data_dir: &Path, journal: &[Written]) -> Result<(), ClientsError> {
    let path = journal_path(data_dir);
    let json =
        serde_json::to_vec_pretty(journal).map_err(|e| io(&path)(std::io::Error::other(e)))?;
    replace_file(&path, &json)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` atomically (a file beside it, then a rename), keeping the old file's
/// permissions.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), ClientsError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".gatehouse-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Makes the planned change: a backup of the file as it was, the new file, a journal line.
pub fn apply(plan: &Plan, data_dir: &Path, now: UnixMillis) -> Result<Written, ClientsError> {
    let current = std::fs::read(&plan.config).ok();
    if current != plan.before {
        return Err(ClientsError::ChangedSincePreview(plan.config.clone()));
    }
    let backup = match &plan.before {
        Some(bytes) => {
            let mut name = plan.config.as_os_str().to_owned();
            name.push(format!(".gatehouse-backup-{now}"));
            let backup = PathBuf::from(name);
            std::fs::write(&backup, bytes).map_err(io(&backup))?;
            if let Ok(meta) = std::fs::metadata(&plan.config) {
                let _ = std::fs::set_permissions(&backup, meta.permissions());
            }
            Some(backup)
        }
        None => None,
    };
    replace_file(&plan.config, plan.after.as_bytes())?;
    let written = Written {
        client: plan.client.to_owned(),
        config: plan.config.clone(),
        backup,
        written_sha256: sha256_hex(plan.after.as_bytes()),
        at: now,
    };
    let mut journal = read_journal(data_dir);
    journal.push(written.clone());
    write_journal(data_dir, &journal)?;
    Ok(written)
}

/// Puts back the file of Gatehouse's last write to `client_id`'s config.
pub fn undo(data_dir: &Path, client_id: &str) -> Result<Written, ClientsError> {
    let mut journal = read_journal(data_dir);
    let index = journal
        .iter()
        .rposition(|w| w.client == client_id)
        .ok_or_else(|| ClientsError::NothingToUndo(client_id.to_owned()))?;
    let written = journal[index].clone();
    let current = std::fs::read(&written.config).map_err(io(&written.config))?;
    if sha256_hex(&current) != written.written_sha256 {
        return Err(ClientsError::ChangedSinceWrite(written.config));
    }
    match &written.backup {
        Some(backup) => {
            let original = std::fs::read(backup).map_err(io(backup))?;
            replace_file(&written.config, &original)?;
            let _ = std::fs::remove_file(backup);
        }
        None => std::fs::remove_file(&written.config).map_err(io(&written.config))?,
    }
    journal.remove(index);
    write_journal(data_dir, &journal)?;
    Ok(written)
}

#[cfg(test)]
mod tests;
