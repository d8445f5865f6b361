//! Settings: "Start Gatehouse when I log in" and the XDG autostart entry.

use super::*;

/// Waits until `path` exists (or, with `present` false, no longer exists).
async fn wait_for_file(path: &Path, present: bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while path.exists() != present {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the app binary, Xvfb, a D-Bus session and tauri-driver: run through `cargo xtask test`"]
async fn start_at_login_adds_and_removes_the_login_entry() {
    let artifacts = artifacts();
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_dir = home.path().join("data");
    let entry = home.path().join(".config/autostart/Gatehouse.desktop");
    let window = AppWindow::launch(home.path(), &data_dir, free_port()).await;
    window.gateway_status().await;

    window.select_tab("Settings").await;
    let checkbox =
        "//label[normalize-space(.)='Start Gatehouse when I log in']/input[@type='checkbox']";
    let save = "//button[normalize-space(.)='Save settings']";
    let tick = window.find(checkbox).await;
    assert!(
        !window.is_selected(&tick).await,
        "start at login is off by default"
    );
    assert!(!entry.exists(), "no login entry before it is asked for");

    window.click(&tick).await;
    window.click(&window.find(save).await).await;
    assert!(
        wait_for_file(&entry, true).await,
        "saving with the box ticked must create {entry:?}"
    );
    let desktop = std::fs::read_to_string(&entry).unwrap_or_else(|e| panic!("{entry:?}: {e}"));
    let app = env_path("GATEHOUSE_APP_BIN");
    assert!(
        desktop
            .lines()
            .any(|l| l.trim_end() == format!("Exec={}", app.display())),
        "the entry must start this Gatehouse binary:\n{desktop}"
    );
    window
        .screenshot(&artifacts.join("app-window-settings-start-at-login.png"))
        .await;

    let tick = window.find(checkbox).await;
    assert!(
        window.is_selected(&tick).await,
        "the box stays ticked after the save"
    );
    window.click(&tick).await;
    window.click(&window.find(save).await).await;
    assert!(
        wait_for_file(&entry, false).await,
        "saving with the box unticked must remove {entry:?}"
    );

    // At launch an enabled entry is written again, so it names this binary even after a move.
    window.click(&window.find(checkbox).await).await;
    window.click(&window.find(save).await).await;
    assert!(
        wait_for_file(&entry, true).await,
        "ticking again creates {entry:?}"
    );
    window.close().await;
    let exec = format!("Exec={}", app.display());
    let stale = std::fs::read_to_string(&entry)
        .unwrap_or_else(|e| panic!("{entry:?}: {e}"))
        .replace(&exec, "Exec=/moved/away/gatehouse");
    std::fs::write(&entry, &stale).unwrap_or_else(|e| panic!("{entry:?}: {e}"));
    let window = AppWindow::launch(home.path(), &data_dir, free_port()).await;
    window.gateway_status().await;
    let refreshed = std::fs::read_to_string(&entry).unwrap_or_else(|e| panic!("{entry:?}: {e}"));
    assert!(
        refreshed.lines().any(|l| l.trim_end() == exec),
        "the launch must rewrite a stale login entry to this binary:\n{refreshed}"
    );
    window.close().await;
}
