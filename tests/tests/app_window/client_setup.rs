//! Client setup from the window: VS Code and Claude Desktop configs written and undone, and the
//! app as the stdio bridge.

use gatehouse_e2e::peers::{Everything, add_connection};

use super::*;

/// Client setup from the window: "Connect a client…" on a connection card writes a VS Code config
/// that the person already has (JSONC with a comment and another server) and a Claude Desktop
/// config that does not exist yet, in a temporary HOME; each shows its diff first and leaves the
/// file untouched until "Write"; "Undo" puts the VS Code file back byte for byte and removes the
/// Claude Desktop file Gatehouse created. The Claude Desktop entry starts this app binary as the
/// stdio bridge, which runs headless: with no gateway on its port it answers `initialize` with a
/// JSON-RPC error that says to open the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the app binary, Xvfb, a D-Bus session and tauri-driver: run through `cargo xtask test`"]
async fn window_connects_vscode_and_claude_desktop_and_undoes_it() {
    const VSCODE: &str = "{\n  // my servers\n  \"servers\": {\n    \"github\": { \"type\": \"http\", \"url\": \"https://api.githubcopilot.com/mcp/\" },\n  },\n}\n";
    let artifacts = artifacts();
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_dir = home.path().join("data");
    let vscode = home.path().join(".config/Code/User/mcp.json");
    let claude = home
        .path()
        .join(".config/Claude/claude_desktop_config.json");
    std::fs::create_dir_all(vscode.parent().unwrap_or(home.path()))
        .unwrap_or_else(|e| panic!("mkdir: {e}"));
    std::fs::write(&vscode, VSCODE).unwrap_or_else(|e| panic!("write: {e}"));
    // A folder VS Code opened recently (its Open Recent list, in its own state.vscdb).
    let project = home.path().join("src/api");
    std::fs::create_dir_all(&project).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let storage = home.path().join(".config/Code/User/globalStorage");
    std::fs::create_dir_all(&storage).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let vscdb = rusqlite::Connection::open(storage.join("state.vscdb"))
        .unwrap_or_else(|e| panic!("state.vscdb: {e}"));
    vscdb
        .execute_batch("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
        .unwrap_or_else(|e| panic!("schema: {e}"));
    let recent =
        serde_json::json!({"entries": [{"folderUri": format!("file://{}", project.display())}]});
    vscdb
        .execute(
            "INSERT INTO ItemTable VALUES ('history.recentlyOpenedPathsList', ?1)",
            [recent.to_string()],
        )
        .unwrap_or_else(|e| panic!("row: {e}"));
    drop(vscdb);
    let upstream = Everything::start();
    blocking(|| add_connection(&data_dir, "everything", "Everything", &upstream.mcp_url()));
    let gateway_port = free_port();
    let window = AppWindow::launch(home.path(), &data_dir, gateway_port).await;
    window.gateway_status().await;

    let connect = "//button[normalize-space(.)='Connect a client…']";
    let dialog = "//*[@role='dialog']";
    let diff = "//*[@data-testid='client-config-diff']";

    // VS Code: the diff first, the file untouched until Write.
    window.click(&window.find(connect).await).await;
    window
        .click(&window.find("//select/option[@value='vscode']").await)
        .await;
    window
        .click(
            &window
                .find("//button[normalize-space(.)='Show the change']")
                .await,
        )
        .await;
    let shown = window.text_of(diff).await;
    let local = format!("http://127.0.0.1:{gateway_port}/mcp/everything");
    assert!(
        shown.contains(&local) && shown.contains("+++ "),
        "the diff names the local URL: {shown}"
    );
    assert_eq!(
        std::fs::read_to_string(&vscode).unwrap_or_default(),
        VSCODE,
        "nothing is written before Write"
    );
    window
        .screenshot(&artifacts.join("app-window-connect-client-diff.png"))
        .await;
    window
        .click(
            &window
                .find("//button[normalize-space(.)='Write to VS Code']")
                .await,
        )
        .await;
    window
        .find("//*[@data-testid='client-config-written']")
        .await;
    let written = std::fs::read_to_string(&vscode).unwrap_or_default();
    assert!(
        written.contains("// my servers") && written.contains(&local),
        "the comment stays and the entry is added: {written}"
    );
    window
        .click(&window.find("//button[normalize-space(.)='Undo']").await)
        .await;
    window
        .find("//*[@data-testid='client-config-undone']")
        .await;
    assert_eq!(
        std::fs::read(&vscode).unwrap_or_default(),
        VSCODE.as_bytes(),
        "undo restores the file byte for byte"
    );
    window
        .click(
            &window
                .find(&format!("{dialog}//button[normalize-space(.)='Close']"))
                .await,
        )
        .await;
    window.wait_gone(dialog, "the dialog closes").await;

    // VS Code again, this time the recent folder's own .vscode/mcp.json.
    let workspace_config = project.join(".vscode/mcp.json");
    window.click(&window.find(connect).await).await;
    window
        .click(&window.find("//select/option[@value='vscode']").await)
        .await;
    window
        .click(
            &window
                .find(&format!("//select/option[@value='{}']", project.display()))
                .await,
        )
        .await;
    window
        .click(
            &window
                .find("//button[normalize-space(.)='Show the change']")
                .await,
        )
        .await;
    let shown = window.text_of(diff).await;
    assert!(
        shown.contains(&workspace_config.display().to_string()),
        "the diff names the folder's file: {shown}"
    );
    window
        .click(
            &window
                .find("//button[normalize-space(.)='Write to VS Code']")
                .await,
        )
        .await;
    window
        .find("//*[@data-testid='client-config-written']")
        .await;
    let in_folder = std::fs::read_to_string(&workspace_config).unwrap_or_default();
    assert!(in_folder.contains(&local), "{in_folder}");
    assert_eq!(
        std::fs::read(&vscode).unwrap_or_default(),
        VSCODE.as_bytes(),
        "the user's mcp.json is not touched"
    );
    window
        .click(&window.find("//button[normalize-space(.)='Undo']").await)
        .await;
    window
        .find("//*[@data-testid='client-config-undone']")
        .await;
    assert!(
        !workspace_config.exists(),
        "undo removes the file it created"
    );
    window
        .click(
            &window
                .find(&format!("{dialog}//button[normalize-space(.)='Close']"))
                .await,
        )
        .await;
    window.wait_gone(dialog, "the dialog closes").await;

    // Claude Desktop: a new file whose entry starts this app as the bridge.
    window.click(&window.find(connect).await).await;
    window
        .click(
            &window
                .find("//select/option[@value='claude-desktop']")
                .await,
        )
        .await;
    window
        .click(
            &window
                .find("//button[normalize-space(.)='Show the change']")
                .await,
        )
        .await;
    let shown = window.text_of(diff).await;
    assert!(
        shown.contains("bridge"),
        "the entry starts the bridge: {shown}"
    );
    assert!(!claude.exists(), "nothing is written before Write");
    window
        .click(
            &window
                .find("//button[normalize-space(.)='Write to Claude Desktop']")
                .await,
        )
        .await;
    window
        .find("//*[@data-testid='client-config-written']")
        .await;
    let config: Value = serde_json::from_str(&std::fs::read_to_string(&claude).unwrap_or_default())
        .unwrap_or_else(|e| panic!("the Claude Desktop config is JSON: {e}"));
    let entry = &config["mcpServers"]["everything"];
    let app = env_path("GATEHOUSE_APP_BIN");
    assert_eq!(
        entry["command"],
        json!(app.display().to_string()),
        "{entry}"
    );
    let args: Vec<String> = entry["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        args.windows(2)
            .any(|w| w[0] == "bridge" && w[1] == "everything"),
        "{args:?}"
    );

    // The app as the bridge: headless, and with nothing listening it says to open the app.
    let closed = free_port().to_string();
    let mut bridge_args = args.clone();
    if let Some(i) = bridge_args.iter().position(|a| a == "--port") {
        bridge_args[i + 1] = closed;
    }
    let answer = blocking(move || {
        let mut child = Command::new(&app)
            .args(&bridge_args)
            // The key where the app keeps it; no display: the bridge never opens a window; and
            // nothing to start (the app that would start is checked below).
            .env("GATEHOUSE_KEY_BACKEND", "auto")
            .env("DISPLAY", "")
            .env("GATEHOUSE_APP", "")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("the app as bridge: {e}"));
        use std::io::{BufRead, Write};
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
        let _ = writeln!(
            stdin,
            r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"Claude Desktop","version":"1"}}}}}}"#
        );
        drop(stdin);
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("stdout"));
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        // Its stdin closed, the bridge exits; a bridge that hangs on is a failure, not a hang.
        let exited = wait_for(Duration::from_secs(15), || child.try_wait().ok().flatten());
        if exited.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        (line, exited.is_some())
    });
    let (answer, exited) = answer;
    assert!(
        answer.contains("Gatehouse is not running") && answer.contains("\"id\":1"),
        "the app as bridge answers on stdout: {answer}"
    );
    assert!(exited, "the app as bridge exits when its stdin closes");

    window
        .click(&window.find("//button[normalize-space(.)='Undo']").await)
        .await;
    window
        .find("//*[@data-testid='client-config-undone']")
        .await;
    assert!(!claude.exists(), "undo removes the file Gatehouse created");
    window.close().await;
}
