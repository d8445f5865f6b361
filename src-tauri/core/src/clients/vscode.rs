//! VS Code's workspace configs: besides the user-level `mcp.json`, every folder VS Code opens can
//! hold its own servers in `<folder>/.vscode/mcp.json` ("MCP servers in VS Code", workspace
//! configuration). Gatehouse finds the folders VS Code opened recently where VS Code itself keeps
//! them, read only:
//!
//! - `<config>/Code/User/globalStorage/state.vscdb`, a SQLite file whose `ItemTable` row
//!   `history.recentlyOpenedPathsList` holds `{"entries": [{"folderUri": "file:///…"}, …]}` (the
//!   File > Open Recent list);
//! - `<config>/Code/User/globalStorage/storage.json`, whose `profileAssociations.workspaces` maps
//!   each opened folder's URI to its profile.
//!
//! Only local (`file:`) folders that still exist are kept; remote and untitled workspaces and
//! `.code-workspace` files are left out (a multi-root workspace's servers live in that file, which
//! Gatehouse does not edit). Any file that cannot be read counts as no folders: VS Code's own
//! files are never written or locked for writing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{OpenFlags, OptionalExtension};
use serde_json::Value;

use super::Home;

/// How many recent folders are offered at most.
pub const MAX_FOLDERS: usize = 20;

/// The workspace-level config of `folder` (`<folder>/.vscode/mcp.json`).
pub fn workspace_config(folder: &Path) -> PathBuf {
    folder.join(".vscode").join("mcp.json")
}

fn global_storage(home: &Home) -> PathBuf {
    home.app_config
        .join("Code")
        .join("User")
        .join("globalStorage")
}

/// The local folders VS Code opened recently, most recent first, each once.
pub fn recent_folders(home: &Home) -> Vec<PathBuf> {
    let storage = global_storage(home);
    let mut uris = recently_opened(&storage.join("state.vscdb"));
    uris.extend(profile_folders(&storage.join("storage.json")));
    let mut folders: Vec<PathBuf> = Vec::new();
    for uri in uris {
        let Some(folder) = local_folder(&uri) else {
            continue;
        };
        if folder.is_dir() && !folders.contains(&folder) {
            folders.push(folder);
        }
        if folders.len() == MAX_FOLDERS {
            break;
        }
    }
    folders
}

/// The folder URIs of the File > Open Recent list in `state.vscdb`.
fn recently_opened(db: &Path) -> Vec<String> {
    if !db.is_file() {
        return Vec::new();
    }
    let read = || -> rusqlite::Result<Option<String>> {
        let conn = rusqlite::Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_millis(250))?;
        conn.query_row(
            "SELECT CAST(value AS TEXT) FROM ItemTable WHERE key = 'history.recentlyOpenedPathsList'",
            [],
            |row| row.get(0),
        )
        .optional()
    };
    let Ok(Some(text)) = read() else {
        return Vec::new();
    };
    let Ok(list) = serde_json::from_str::<Value>(&text) else {
        return Vec::new();
    };
    list["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["folderUri"].as_str().map(str::to_owned))
        .collect()
}

/// The folder URIs `storage.json` associates with a profile.
fn profile_folders(storage_json: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(storage_json) else {
        return Vec::new();
    };
    let Ok(storage) = serde_json::from_str::<Value>(&text) else {
        return Vec::new();
    };
    storage["profileAssociations"]["workspaces"]
        .as_object()
        .map(|folders| folders.keys().cloned().collect())
        .unwrap_or_default()
}

/// The local path of a `file:` folder URI.
fn local_folder(uri: &str) -> Option<PathBuf> {
    let url = url::Url::parse(uri).ok()?;
    if url.scheme() != "file" || url.host_str().is_some_and(|h| !h.is_empty()) {
        return None;
    }
    url.to_file_path().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::Os;

    fn home(dir: &Path) -> Home {
        Home::laid_out(Os::Linux, dir.to_owned(), |_| None)
    }

    fn file_uri(path: &Path) -> String {
        url::Url::from_file_path(path)
            .expect("absolute")
            .to_string()
    }

    fn write_state_db(home: &Home, entries: &Value) {
        let storage = global_storage(home);
        std::fs::create_dir_all(&storage).expect("mkdir");
        let conn = rusqlite::Connection::open(storage.join("state.vscdb")).expect("db");
        // VS Code's own schema for the table.
        conn.execute_batch(
            "CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)",
        )
        .expect("schema");
        conn.execute(
            "INSERT INTO ItemTable (key, value) VALUES ('history.recentlyOpenedPathsList', ?1)",
            [serde_json::json!({ "entries": entries }).to_string()],
        )
        .expect("row");
    }

    #[test]
    fn recent_local_folders_come_from_the_open_recent_list_and_the_profile_map() {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = home(dir.path());
        let (api, web, docs) = (
            dir.path().join("api"),
            dir.path().join("web app"),
            dir.path().join("docs"),
        );
        for folder in [&api, &web, &docs] {
            std::fs::create_dir_all(folder).expect("mkdir");
        }
        write_state_db(
            &home,
            &serde_json::json!([
                { "folderUri": file_uri(&web) },
                { "fileUri": file_uri(&dir.path().join("notes.md")) },
                { "folderUri": "vscode-remote://ssh-remote%2Bbox/srv/app" },
                { "workspace": { "id": "1", "configPath": file_uri(&dir.path().join("x.code-workspace")) } },
                { "folderUri": file_uri(&dir.path().join("deleted")) },
                { "folderUri": file_uri(&api) },
            ]),
        );
        std::fs::write(
            global_storage(&home).join("storage.json"),
            serde_json::json!({
                "profileAssociations": { "workspaces": {
                    file_uri(&api): "__default__profile__",
                    file_uri(&docs): "__default__profile__",
                }}
            })
            .to_string(),
        )
        .expect("storage.json");
        assert_eq!(
            recent_folders(&home),
            vec![web, api, docs],
            "most recent first, each once, only local folders that exist"
        );
    }

    #[test]
    fn unreadable_or_missing_vscode_state_means_no_folders() {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = home(dir.path());
        assert!(recent_folders(&home).is_empty(), "VS Code never ran");
        let storage = global_storage(&home);
        std::fs::create_dir_all(&storage).expect("mkdir");
        std::fs::write(storage.join("state.vscdb"), b"not a database").expect("write");
        std::fs::write(storage.join("storage.json"), b"{ not json").expect("write");
        assert!(recent_folders(&home).is_empty());
    }
}
