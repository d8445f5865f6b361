//! Connecting a client's config file: the preview, undo byte for byte, a file changed after the
//! preview, a server of the same name kept, detection, diffs without keys, and the bridge for
//! Claude Desktop.

use super::*;

const URL: &str = "http://127.0.0.1:47474/mcp/linear";

fn target(bridge: Option<&[String]>) -> Target<'_> {
    Target {
        url: URL,
        slug: "linear",
        port: 47474,
        bridge,
    }
}

fn home() -> (tempfile::TempDir, Home) {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home {
        os: table::Os::CURRENT,
        home: dir.path().to_owned(),
        app_config: dir.path().join("appconfig"),
        dot_config: dir.path().join(".config"),
    };
    (dir, home)
}

#[test]
fn connect_then_undo_restores_the_file_byte_for_byte() {
    let (dir, home) = home();
    let config = home.home.join(".cursor").join("mcp.json");
    std::fs::create_dir_all(config.parent().expect("parent")).expect("mkdir");
    let original = b"{\n  // mine\n  \"mcpServers\": {\"a\": {\"command\": \"x\"}}\n}\n";
    std::fs::write(&config, original).expect("write");
    let data = dir.path().join("data");
    let plan = plan_connect(&home, "cursor", &target(None), None).expect("plan");
    assert!(plan.diff.contains("+    \"linear\": {"), "{}", plan.diff);
    assert!(plan.diff.starts_with("---"), "{}", plan.diff);
    let written = apply(&plan, &data, 1000).expect("apply");
    let after = std::fs::read_to_string(&config).expect("read");
    assert!(after.contains("// mine") && after.contains(URL), "{after}");
    let backup = written.backup.expect("a backup");
    assert_eq!(std::fs::read(&backup).expect("backup"), original);
    let found = detect(&home, "http://127.0.0.1:47474");
    let cursor = found.iter().find(|d| d.id == "cursor").expect("cursor");
    assert_eq!(cursor.through_gatehouse, vec!["linear".to_owned()]);
    undo(&data, "cursor").expect("undo");
    assert_eq!(std::fs::read(&config).expect("read"), original);
    assert!(!backup.exists(), "the backup goes with the undo");
    assert!(matches!(
        undo(&data, "cursor"),
        Err(ClientsError::NothingToUndo(_))
    ));
}

#[test]
fn undo_of_a_created_file_removes_it_and_a_later_edit_blocks_undo() {
    let (dir, home) = home();
    let data = dir.path().join("data");
    let plan = plan_connect(&home, "gemini", &target(None), None).expect("plan");
    assert!(plan.before.is_none());
    apply(&plan, &data, 1).expect("apply");
    undo(&data, "gemini").expect("undo");
    assert!(
        !plan.config.exists(),
        "Gatehouse created it, undo removes it"
    );

    let plan = plan_connect(&home, "codex", &target(None), None).expect("plan");
    apply(&plan, &data, 2).expect("apply");
    std::fs::write(&plan.config, "# edited by hand\n").expect("edit");
    assert!(matches!(
        undo(&data, "codex"),
        Err(ClientsError::ChangedSinceWrite(_))
    ));
}

#[test]
fn a_file_changed_after_the_preview_is_not_written() {
    let (dir, home) = home();
    let plan = plan_connect(&home, "claude-code", &target(None), None).expect("plan");
    std::fs::write(&plan.config, "{}").expect("someone else writes");
    assert!(matches!(
        apply(&plan, &dir.path().join("data"), 1),
        Err(ClientsError::ChangedSincePreview(_))
    ));
}

#[test]
fn a_different_server_with_the_same_name_is_kept() {
    let (_dir, home) = home();
    let config = home.home.join(".claude.json");
    std::fs::write(
        &config,
        r#"{"mcpServers": {"linear": {"type": "http", "url": "https://mcp.linear.app/mcp"}}}"#,
    )
    .expect("write");
    let plan = plan_connect(&home, "claude-code", &target(None), None).expect("plan");
    assert_eq!(plan.name, "linear-gatehouse");
    assert!(plan.after.contains("https://mcp.linear.app/mcp"));
}

#[test]
fn a_client_counts_as_installed_by_its_config_or_its_folder() {
    let (_dir, home) = home();
    let installed = |home: &Home, id: &str| {
        detect(home, "http://127.0.0.1:47474")
            .into_iter()
            .find(|d| d.id == id)
            .is_some_and(|d| d.installed)
    };
    assert!(
        !installed(&home, "claude-code"),
        "the home folder alone says nothing"
    );
    std::fs::create_dir_all(home.home.join(".claude")).expect("mkdir");
    assert!(installed(&home, "claude-code"));
    assert!(!installed(&home, "cursor"));
    std::fs::create_dir_all(home.home.join(".cursor")).expect("mkdir");
    assert!(installed(&home, "cursor"));
}

#[test]
fn diffs_never_show_the_keys_in_a_config() {
    let (_dir, home) = home();
    let config = home.home.join(".cursor").join("mcp.json");
    std::fs::create_dir_all(config.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &config,
        r#"{"mcpServers": {"docs": {"command": "npx", "env": {"DOCS_KEY": "sk-docs-secret-1"}}, "api": {"url": "https://api.example/mcp", "headers": {"Authorization": "Bearer tok-abcdef"}}}}"#,
    )
    .expect("write");
    let plan = plan_connect(&home, "cursor", &target(None), None).expect("plan");
    assert!(plan.diff.contains("[secret]"), "{}", plan.diff);
    assert!(!plan.diff.contains("sk-docs-secret-1"), "{}", plan.diff);
    assert!(!plan.diff.contains("tok-abcdef"), "{}", plan.diff);
    assert!(
        plan.after.contains("sk-docs-secret-1"),
        "only the shown diff is masked, not the file"
    );
}

#[test]
fn claude_desktop_starts_the_bridge() {
    let (_dir, home) = home();
    let bridge = vec![
        "/opt/gatehouse/gatehoused".to_owned(),
        "--data-dir".to_owned(),
        "/d".to_owned(),
    ];
    let plan = plan_connect(&home, "claude-desktop", &target(Some(&bridge)), None).expect("plan");
    let servers = edit::servers(Format::Json, &plan.after, &["mcpServers"]).expect("reads");
    assert_eq!(
        servers["linear"],
        serde_json::json!({
            "command": "/opt/gatehouse/gatehoused",
            "args": ["--data-dir", "/d", "bridge", "linear", "--port", "47474"]
        })
    );
    assert!(table::is_bridge_entry(&servers["linear"], Some("linear")));
}

#[test]
fn claude_desktop_needs_the_bridge() {
    let (_dir, home) = home();
    assert!(matches!(
        plan_connect(&home, "claude-desktop", &target(None), None),
        Err(ClientsError::NeedsBridge(_))
    ));
    assert!(matches!(
        plan_connect(&home, "notepad", &target(None), None),
        Err(ClientsError::UnknownClient(_))
    ));
}
