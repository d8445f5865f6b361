//! VS Code workspace configs through the admin use cases the window calls ("MCP servers in VS
//! Code": a folder's `.vscode/mcp.json` holds servers for that workspace, beside the user's
//! `mcp.json`). The folders come from VS Code's own recent list (`state.vscdb`), in a temporary
//! HOME laid out as on Linux.

use std::path::Path;
use std::sync::Arc;

use gatehouse_core::admin;
use gatehouse_core::clients::{Home, Os};
use gatehouse_core::clock::SystemClock;
use gatehouse_core::crypto::KeyBackend;
use gatehouse_core::vault::Vault;
use gatehouse_testkit::connections::add_oauth_connection;

const PORT: u16 = 47474;

/// A home where VS Code recently opened `folder` (VS Code's `ItemTable` schema and key).
fn home_with_recent_folder(home_dir: &Path, folder: &Path) -> Home {
    let home = Home::laid_out(Os::Linux, home_dir.to_owned(), |_| None);
    let storage = home.app_config.join("Code/User/globalStorage");
    std::fs::create_dir_all(&storage).unwrap();
    let db = rusqlite::Connection::open(storage.join("state.vscdb")).unwrap();
    db.execute_batch("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
        .unwrap();
    let uri = url::Url::from_file_path(folder).unwrap().to_string();
    db.execute(
        "INSERT INTO ItemTable VALUES ('history.recentlyOpenedPathsList', ?1)",
        [serde_json::json!({"entries": [{"folderUri": uri}]}).to_string()],
    )
    .unwrap();
    home
}

#[test]
fn a_recent_vscode_folder_is_offered_written_and_undone_without_touching_the_user_config() {
    let data = tempfile::tempdir().unwrap();
    let vault = Vault::open(data.path(), KeyBackend::File, Arc::new(SystemClock)).unwrap();
    add_oauth_connection(&vault, "linear", "https://mcp.linear.example/mcp");
    let home_dir = tempfile::tempdir().unwrap();
    let project = home_dir.path().join("projects").join("api");
    std::fs::create_dir_all(&project).unwrap();
    let home = home_with_recent_folder(home_dir.path(), &project);
    let workspace_config = project.join(".vscode").join("mcp.json");
    let user_config = home.app_config.join("Code/User/mcp.json");

    let found = admin::list_client_apps(&home, PORT);
    let vscode = found.iter().find(|c| c.id == "vscode").unwrap();
    assert_eq!(vscode.workspaces.len(), 1, "{vscode:?}");
    let offered = &vscode.workspaces[0];
    assert_eq!(Path::new(&offered.folder), project);
    assert_eq!(Path::new(&offered.config), workspace_config);
    assert!(!offered.configured);
    assert!(
        found
            .iter()
            .filter(|c| c.id != "vscode")
            .all(|c| c.workspaces.is_empty()),
        "only VS Code has workspace configs"
    );

    let folder = offered.folder.as_str();
    let preview =
        admin::preview_client_config(&home, &vault, PORT, "vscode", "linear", Some(folder), None)
            .unwrap();
    assert_eq!(Path::new(&preview.config), workspace_config);
    assert!(preview.creates_file);
    let written = admin::write_client_config(
        &home,
        &vault,
        PORT,
        "vscode",
        "linear",
        Some(folder),
        &preview.diff,
        None,
    )
    .unwrap();
    assert_eq!(Path::new(&written.config), workspace_config);
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&workspace_config).unwrap()).unwrap();
    assert_eq!(
        config["servers"]["linear"],
        serde_json::json!({"type": "http", "url": format!("http://127.0.0.1:{PORT}/mcp/linear")})
    );
    assert!(!user_config.exists(), "the user's mcp.json is not touched");
    let again = admin::list_client_apps(&home, PORT);
    let vscode = again.iter().find(|c| c.id == "vscode").unwrap();
    assert_eq!(vscode.workspaces[0].through_gatehouse, vec!["linear"]);
    assert!(vscode.through_gatehouse.is_empty());

    admin::undo_client_config(&vault, "vscode").unwrap();
    assert!(
        !workspace_config.exists(),
        "undo removes the file Gatehouse created"
    );
}

#[test]
fn a_workspace_must_be_an_existing_absolute_folder_and_only_for_vscode() {
    let data = tempfile::tempdir().unwrap();
    let vault = Vault::open(data.path(), KeyBackend::File, Arc::new(SystemClock)).unwrap();
    add_oauth_connection(&vault, "linear", "https://mcp.linear.example/mcp");
    let home_dir = tempfile::tempdir().unwrap();
    let project = home_dir.path().join("api");
    std::fs::create_dir_all(&project).unwrap();
    let home = home_with_recent_folder(home_dir.path(), &project);
    let missing = home_dir.path().join("gone");
    let cases = [
        ("cursor", project.display().to_string()),
        ("vscode", "api".to_owned()),
        ("vscode", missing.display().to_string()),
    ];
    for (client, folder) in cases {
        let err = admin::preview_client_config(
            &home,
            &vault,
            PORT,
            client,
            "linear",
            Some(&folder),
            None,
        )
        .expect_err("refused");
        assert!(
            matches!(
                err,
                admin::AdminError::InvalidInput {
                    field: "workspace",
                    ..
                }
            ),
            "{client} {folder}: {err}"
        );
    }
    assert!(!project.join(".vscode").exists(), "nothing was written");
}
