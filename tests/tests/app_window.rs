//! The real app window: the debug binary under Xvfb and a private D-Bus session, driven through
//! tauri-driver and WebKitWebDriver (W3C WebDriver over HTTP). Run by `cargo xtask test`, which sets
//! up the display, the bus and the environment; ignored by a plain `cargo test`.
//!
//! It finds both tabs, switches between them, reads the status line (which must name the port the
//! app's in-process gateway listens on), checks that gateway over HTTP, and saves screenshots.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use gatehouse_e2e::{free_port, wait_for};
use serde_json::{Value, json};

struct Driver {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let value: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: bad JSON: {e}"));
        assert!(status.is_success(), "{method} {path} -> {status}: {value}");
        value["value"].clone()
    }

    /// Finds an element, waiting (bounded) for the page to render it: the webview loads the UI
    /// after the session starts, so the first lookups may come before React has mounted.
    async fn find(&self, session: &str, xpath: &str) -> String {
        let url = format!("{}/session/{session}/element", self.url);
        let body = json!({"using": "xpath", "value": xpath});
        let mut last = Value::Null;
        for _ in 0..300 {
            let response = self.http.post(&url).json(&body).send().await;
            let response = response.unwrap_or_else(|e| panic!("find {xpath}: {e}"));
            let found = response.status().is_success();
            last = response
                .json()
                .await
                .unwrap_or_else(|e| panic!("find {xpath}: bad JSON: {e}"));
            if found
                && let Some(id) = last["value"]
                    .as_object()
                    .and_then(|o| o.values().next())
                    .and_then(Value::as_str)
            {
                return id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element for {xpath} within 30 s: {last}")
    }

    /// The element's text, or None when the element went stale (re-rendered) in the meantime.
    async fn try_text(&self, session: &str, element: &str) -> Option<String> {
        let url = format!("{}/session/{session}/element/{element}/text", self.url);
        let response = self.http.get(url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let value: Value = response.json().await.ok()?;
        value["value"].as_str().map(str::to_owned)
    }

    async fn attribute(&self, session: &str, element: &str, name: &str) -> String {
        let value = self
            .call(
                reqwest::Method::GET,
                &format!("/session/{session}/element/{element}/attribute/{name}"),
                None,
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    async fn click(&self, session: &str, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/session/{session}/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn screenshot(&self, session: &str, path: &std::path::Path) {
        let data = self
            .call(
                reqwest::Method::GET,
                &format!("/session/{session}/screenshot"),
                None,
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "the screenshot must be a PNG");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
        println!("screenshot saved: {}", path.display());
    }
}

fn env_path(name: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{name} is not set: run this test through `cargo xtask test`"))
}

#[tokio::test]
#[ignore = "needs the app binary, Xvfb, a D-Bus session and tauri-driver: run through `cargo xtask test`"]
async fn window_shows_both_tabs_and_the_gateway_status() {
    let app = env_path("GATEHOUSE_APP_BIN");
    let driver_bin = env_path("TAURI_DRIVER");
    let artifacts = env_path("GATEHOUSE_ARTIFACTS");
    std::fs::create_dir_all(&artifacts).unwrap_or_else(|e| panic!("artifacts dir: {e}"));
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_dir = home.path().join("data");
    let gateway_port = free_port();
    let (port, native_port) = (free_port(), free_port());

    // tauri-driver starts WebKitWebDriver, which starts the app: all inherit this environment, so the
    // app uses a temporary data dir and XDG dirs and never touches the user's files.
    let child = Command::new(&driver_bin)
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env("GATEHOUSE_DATA_DIR", &data_dir)
        .env("GATEHOUSE_PORT", gateway_port.to_string())
        .env("GATEHOUSE_KEY_BACKEND", "auto")
        .env("XDG_DATA_HOME", home.path().join("xdg-data"))
        .env("XDG_CONFIG_HOME", home.path().join("xdg-config"))
        .env("XDG_CACHE_HOME", home.path().join("xdg-cache"))
        .env("TAURI_WEBVIEW_AUTOMATION", "true")
        .env("NO_AT_BRIDGE", "1")
        .env("GTK_USE_PORTAL", "0")
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start tauri-driver: {e}"));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
    };
    let ready = wait_for(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    assert!(ready.is_some(), "tauri-driver did not start listening");

    let session = driver
        .call(
            reqwest::Method::POST,
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}})),
        )
        .await;
    let session = session["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session id: {session}"))
        .to_owned();

    // The status line is re-rendered when the gateway answers, so find it anew on every poll.
    let expected = format!("127.0.0.1:{gateway_port}");
    let mut status_text = String::new();
    for _ in 0..100 {
        let status = driver
            .find(&session, "//*[@data-testid='gateway-status']")
            .await;
        status_text = driver.try_text(&session, &status).await.unwrap_or_default();
        if status_text.contains(&expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        status_text.contains(&expected),
        "status line must name the gateway address, got {status_text:?}"
    );
    assert!(
        status_text.contains("Keys"),
        "status line must say where the data key lives: {status_text:?}"
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

    let connections = driver
        .find(
            &session,
            "//*[@role='tab' and normalize-space(.)='Connections']",
        )
        .await;
    let clients = driver
        .find(
            &session,
            "//*[@role='tab' and normalize-space(.)='Authorized clients']",
        )
        .await;
    assert_eq!(
        driver
            .attribute(&session, &connections, "aria-selected")
            .await,
        "true",
        "Connections opens first"
    );
    driver
        .screenshot(&session, &artifacts.join("app-window-connections.png"))
        .await;

    driver.click(&session, &clients).await;
    assert_eq!(
        driver.attribute(&session, &clients, "aria-selected").await,
        "true",
        "the clicked tab is selected"
    );
    assert_eq!(
        driver
            .attribute(&session, &connections, "aria-selected")
            .await,
        "false",
        "only one tab is selected"
    );
    let panel = driver
        .find(&session, "//*[@role='tabpanel' and not(@hidden)]")
        .await;
    let labelled_by = driver.attribute(&session, &panel, "aria-labelledby").await;
    assert_eq!(
        labelled_by,
        driver.attribute(&session, &clients, "id").await,
        "the visible panel must belong to the selected tab"
    );
    driver
        .screenshot(
            &session,
            &artifacts.join("app-window-authorized-clients.png"),
        )
        .await;

    driver.click(&session, &connections).await;
    assert_eq!(
        driver
            .attribute(&session, &connections, "aria-selected")
            .await,
        "true",
        "switching back works"
    );

    driver
        .call(
            reqwest::Method::DELETE,
            &format!("/session/{session}"),
            None,
        )
        .await;
}
