//! `gatehoused clients detect|connect|undo` on a temporary HOME: the VS Code and Codex configs a
//! person already has get one entry for a Gatehouse connection, shown as a diff first, with their
//! comments and other servers untouched; `undo` puts each file back byte for byte.

use std::path::Path;
use std::process::Output;

use gatehouse_e2e::gatehoused;
use serde_json::Value;

const VSCODE: &str = "{\n    // work servers\n    \"servers\": {\n        \"github\": { \"type\": \"http\", \"url\": \"https://api.githubcopilot.com/mcp/\" },\n    },\n}\n";
const CODEX: &str =
    "# my codex\nmodel = \"o4\"\n\n[mcp_servers.docs]\ncommand = \"npx\" # docs server\n";

fn run(data: &Path, home: &Path, args: &[&str]) -> Output {
    gatehoused(data)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gatehoused {args:?}: {e}"))
}

fn ok(data: &Path, home: &Path, args: &[&str]) -> String {
    let out = run(data, home, args);
    assert!(
        out.status.success(),
        "gatehoused {args:?} must succeed; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(target_os = "linux")]
#[test]
fn connect_shows_the_change_keeps_the_rest_and_undo_restores_byte_for_byte() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (data, home) = (tmp.path().join("data"), tmp.path().join("home"));
    let vscode = home.join(".config/Code/User/mcp.json");
    let codex = home.join(".codex/config.toml");
    std::fs::create_dir_all(vscode.parent().expect("parent")).expect("mkdir");
    std::fs::create_dir_all(codex.parent().expect("parent")).expect("mkdir");
    std::fs::write(&vscode, VSCODE).expect("write");
    std::fs::write(&codex, CODEX).expect("write");
    ok(
        &data,
        &home,
        &[
            "connections",
            "add",
            "--slug",
            "notes",
            "--name",
            "Notes",
            "--url",
            "https://notes.example/mcp",
            "--auth",
            "none",
        ],
    );

    let shown = ok(
        &data,
        &home,
        &["clients", "connect", "vscode", "notes", "--yes"],
    );
    assert!(
        shown.contains("+++ ") && shown.contains("+        \"notes\""),
        "the diff is shown first: {shown}"
    );
    let after = std::fs::read_to_string(&vscode).expect("read");
    assert!(after.contains("// work servers"), "comments kept: {after}");
    assert!(
        after.contains(
            "\"github\": { \"type\": \"http\", \"url\": \"https://api.githubcopilot.com/mcp/\" }"
        ),
        "{after}"
    );
    assert!(after.contains("http://127.0.0.1:"), "{after}");
    ok(
        &data,
        &home,
        &["clients", "connect", "codex", "notes", "--yes"],
    );
    let toml = std::fs::read_to_string(&codex).expect("read");
    assert!(
        toml.starts_with(CODEX),
        "the TOML before the new table is unchanged: {toml}"
    );
    assert!(
        toml.contains("[mcp_servers.notes]\nurl = \"http://127.0.0.1:"),
        "{toml}"
    );

    let detected: Value =
        serde_json::from_str(&ok(&data, &home, &["clients", "--json", "detect"])).expect("json");
    let through = |id: &str| {
        detected
            .as_array()
            .expect("array")
            .iter()
            .find(|d| d["id"] == id)
            .map(|d| d["through_gatehouse"].clone())
    };
    assert_eq!(through("vscode"), Some(serde_json::json!(["notes"])));
    assert_eq!(through("codex"), Some(serde_json::json!(["notes"])));

    ok(&data, &home, &["clients", "undo", "vscode"]);
    ok(&data, &home, &["clients", "undo", "codex"]);
    assert_eq!(std::fs::read_to_string(&vscode).expect("read"), VSCODE);
    assert_eq!(std::fs::read_to_string(&codex).expect("read"), CODEX);
    let again = run(&data, &home, &["clients", "undo", "vscode"]);
    assert_eq!(again.status.code(), Some(1), "nothing left to undo");

    // Without a terminal and without --yes, nothing is written.
    let refused = run(&data, &home, &["clients", "connect", "vscode", "notes"]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&vscode).expect("read"), VSCODE);
}

/// VS Code workspace configs ("MCP servers in VS Code", `.vscode/mcp.json`): `detect` lists the
/// folders of VS Code's Open Recent list (read from its `state.vscdb`), and `--workspace FOLDER`
/// writes that folder's file, leaving the user's `mcp.json` alone.
#[cfg(target_os = "linux")]
#[test]
fn detect_lists_recent_vscode_folders_and_connect_writes_a_workspace_config() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (data, home) = (tmp.path().join("data"), tmp.path().join("home"));
    let project = home.join("src").join("api");
    std::fs::create_dir_all(&project).expect("mkdir");
    let storage = home.join(".config/Code/User/globalStorage");
    std::fs::create_dir_all(&storage).expect("mkdir");
    let db = rusqlite::Connection::open(storage.join("state.vscdb")).expect("db");
    db.execute_batch("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
        .expect("schema");
    let list = serde_json::json!({"entries": [
        {"folderUri": format!("file://{}", project.display())}
    ]});
    db.execute(
        "INSERT INTO ItemTable VALUES ('history.recentlyOpenedPathsList', ?1)",
        [list.to_string()],
    )
    .expect("row");
    drop(db);
    ok(
        &data,
        &home,
        &[
            "connections",
            "add",
            "--slug",
            "notes",
            "--name",
            "Notes",
            "--url",
            "https://notes.example/mcp",
            "--auth",
            "none",
        ],
    );
    let workspace_config = project.join(".vscode/mcp.json");
    let table = ok(&data, &home, &["clients", "detect"]);
    assert!(
        table.lines().any(|l| l.starts_with("vscode\tworkspace\t")
            && l.ends_with(&workspace_config.display().to_string())),
        "the workspace's config is listed: {table}"
    );

    let folder = project.display().to_string();
    let args = [
        "clients",
        "connect",
        "vscode",
        "notes",
        "--workspace",
        &folder,
        "--yes",
    ];
    ok(&data, &home, &args);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&workspace_config).expect("written"))
            .expect("json");
    assert_eq!(written["servers"]["notes"]["type"], "http");
    assert!(
        !home.join(".config/Code/User/mcp.json").exists(),
        "the user's mcp.json is not touched"
    );
    let detected: Value =
        serde_json::from_str(&ok(&data, &home, &["clients", "--json", "detect"])).expect("json");
    let vscode = detected
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["id"] == "vscode")
        .expect("vscode row")
        .clone();
    assert_eq!(
        vscode["workspaces"][0]["through_gatehouse"],
        serde_json::json!(["notes"])
    );

    let elsewhere = tmp.path().join("nowhere").display().to_string();
    let refused = run(
        &data,
        &home,
        &[
            "clients",
            "connect",
            "vscode",
            "notes",
            "--workspace",
            &elsewhere,
            "--yes",
        ],
    );
    assert_eq!(
        refused.status.code(),
        Some(1),
        "a folder that does not exist"
    );
    ok(&data, &home, &["clients", "undo", "vscode"]);
    assert!(
        !workspace_config.exists(),
        "undo removes the file it created"
    );
}
