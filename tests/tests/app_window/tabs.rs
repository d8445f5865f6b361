//! The tabs, the status line and the app's in-process gateway.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the app binary, Xvfb, a D-Bus session and tauri-driver: run through `cargo xtask test`"]
async fn window_shows_both_tabs_and_the_gateway_status() {
    let artifacts = artifacts();
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_dir = home.path().join("data");
    let gateway_port = free_port();
    let window = AppWindow::launch(home.path(), &data_dir, gateway_port).await;

    let status_text = window.gateway_status().await;
    assert!(
        status_text.contains("Keys"),
        "status line must say where the data key lives: {status_text:?}"
    );
    let mark = window.mark_document().await;
    assert_eq!(
        window
            .execute("return performance.getEntriesByType('navigation').map((n) => n.type);")
            .await,
        json!(["navigate"]),
        "the window loads its page once, by navigation, never by a reload"
    );

    let health = reqwest::get(format!("http://127.0.0.1:{gateway_port}/health"))
        .await
        .unwrap_or_else(|e| panic!("the app's gateway does not answer: {e}"));
    assert_eq!(
        health.status(),
        200,
        "the app must run the gateway in-process"
    );
    assert!(
        data_dir.join("gatehouse.sqlite3").is_file(),
        "the app must use GATEHOUSE_DATA_DIR"
    );

    let connections = window.tab("Connections").await;
    let clients = window.tab("Authorized clients").await;
    assert_eq!(
        window.attribute(&connections, "aria-selected").await,
        "true",
        "Connections opens first"
    );
    window
        .screenshot(&artifacts.join("app-window-connections.png"))
        .await;
    assert!(
        window
            .try_text(&window.find("//*[@data-testid='gateway-status']").await)
            .await
            .is_some_and(|t| t.contains(&format!("127.0.0.1:{gateway_port}"))),
        "the status line must still name the gateway when the screenshot is taken"
    );

    window.click(&clients).await;
    assert_eq!(
        window.attribute(&clients, "aria-selected").await,
        "true",
        "the clicked tab is selected"
    );
    assert_eq!(
        window.attribute(&connections, "aria-selected").await,
        "false",
        "only one tab is selected"
    );
    let panel = window.find("//*[@role='tabpanel' and not(@hidden)]").await;
    let labelled_by = window.attribute(&panel, "aria-labelledby").await;
    assert_eq!(
        labelled_by,
        window.attribute(&clients, "id").await,
        "the visible panel must belong to the selected tab"
    );
    window
        .screenshot(&artifacts.join("app-window-authorized-clients.png"))
        .await;

    window.click(&connections).await;
    assert_eq!(
        window.attribute(&connections, "aria-selected").await,
        "true",
        "switching back works"
    );
    assert_eq!(
        window.document_mark().await,
        Some(mark),
        "the window must not reload or navigate after it has shown the gateway status"
    );

    window.close().await;
}
