//! What the tests read and do on the app's page beyond plain WebDriver: screenshots, the gateway
//! status line, a mark that shows the document was not reloaded, the change events the window
//! receives, and the theme.

use base64::Engine;

use super::*;

impl AppWindow {
    /// Saves a screenshot once CSS transitions (a tab's underline, a theme change) have finished,
    /// so the picture shows the state the test has just checked rather than a blend.
    pub(crate) async fn screenshot(&self, path: &Path) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self
            .execute("return document.getAnimations().length;")
            .await
            .as_u64()
            .is_some_and(|running| running > 0)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let data = self
            .session_call(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "the screenshot must be a PNG");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
        println!("screenshot saved: {}", path.display());
    }

    /// Waits for the status line to name the gateway's address (it is re-rendered when the gateway
    /// answers, so it is found anew on every poll) and returns its text.
    pub(crate) async fn gateway_status(&self) -> String {
        let expected = format!("127.0.0.1:{}", self.gateway_port);
        let mut status_text = String::new();
        for _ in 0..100 {
            let status = self.find("//*[@data-testid='gateway-status']").await;
            status_text = self.try_text(&status).await.unwrap_or_default();
            if status_text.contains(&expected) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            status_text.contains(&expected),
            "status line must name the gateway address, got {status_text:?}"
        );
        status_text
    }

    /// Marks the loaded document with a random value: [`Self::document_mark`] returns it for as
    /// long as the page is not reloaded or navigated away.
    pub(crate) async fn mark_document(&self) -> String {
        let mark = self
            .execute(
                "window.__gatehouseTestMark = String(Math.random()).slice(2); \
                 return window.__gatehouseTestMark;",
            )
            .await;
        let mark = mark.as_str().unwrap_or_default().to_owned();
        assert!(!mark.is_empty(), "cannot mark the document");
        mark
    }

    pub(crate) async fn document_mark(&self) -> Option<String> {
        let mark = self
            .execute("return window.__gatehouseTestMark ?? null;")
            .await;
        mark.as_str().map(str::to_owned)
    }

    /// Starts recording the `gatehouse://changed` events the window receives, through the same
    /// Tauri event channel the UI listens on.
    pub(crate) async fn record_changes(&self) {
        let listening = self
            .session_call(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({"script": "\
                    const done = arguments[arguments.length - 1]; \
                    const tauri = window.__TAURI_INTERNALS__; \
                    window.__gatehouseTestChanges = []; \
                    const handler = tauri.transformCallback( \
                        (event) => window.__gatehouseTestChanges.push(event.payload.what)); \
                    tauri.invoke('plugin:event|listen', \
                        {event: 'gatehouse://changed', target: {kind: 'Any'}, handler}) \
                        .then(() => done(true), (error) => done(String(error)));",
                    "args": []})),
            )
            .await;
        assert_eq!(listening, true, "cannot listen to the app's change events");
    }

    /// The `what` of every change event since [`Self::record_changes`].
    pub(crate) async fn recorded_changes(&self) -> Vec<String> {
        let changes = self
            .execute("return window.__gatehouseTestChanges ?? [];")
            .await;
        changes
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The theme the document is rendered in (`data-theme` set by the UI from the saved setting).
    pub(crate) async fn document_theme(&self) -> String {
        let theme = self
            .execute("return document.documentElement.dataset.theme ?? 'system';")
            .await;
        theme.as_str().unwrap_or_default().to_owned()
    }

    /// Picks a theme radio in Settings and waits until the document uses it.
    pub(crate) async fn choose_theme(&self, label: &str, value: &str) {
        self.select_tab("Settings").await;
        let radio = self
            .find(&format!(
                "//label[normalize-space(.)='{label}']/input[@type='radio']"
            ))
            .await;
        self.click(&radio).await;
        let deadline = Instant::now() + RENDER;
        while self.document_theme().await != value {
            assert!(
                Instant::now() < deadline,
                "the {label} radio must switch the document to data-theme={value}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The theme is saved through the backend: wait for the confirmation so the screenshot that
        // follows is not taken mid-transition.
        self.find(&format!("//*[normalize-space(.)='Theme: {label}.']"))
            .await;
    }
}
