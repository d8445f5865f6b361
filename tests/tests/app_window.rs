//! The real app window: the debug binary under Xvfb and a private D-Bus session, driven through
//! tauri-driver and WebKitWebDriver (W3C WebDriver over HTTP). Run by `cargo xtask test`, which sets
//! up the display, the bus and the environment; ignored by a plain `cargo test`.
//!
//! `window_shows_both_tabs_and_the_gateway_status` finds the tabs, switches between them, reads the
//! status line (which must name the port the app's in-process gateway listens on) and checks that
//! gateway over HTTP.
//!
//! `start_at_login_adds_and_removes_the_login_entry` ticks "Start Gatehouse when I log in", saves,
//! and finds the XDG autostart entry; unticking and saving removes it.
//!
//! `window_shows_a_real_grant_live_and_revokes_it`: a connection to the MCP reference server, the
//! app's own gateway, the official TypeScript SDK client approved in Chromium; the grant's card
//! appears in the open window without a reload, the revoke dialog shows the exact callback URI and
//! client ID the store holds, "Revoke access" removes the card, and the client's next request gets
//! 401. Screenshots of both tabs in light and dark themes go to `GATEHOUSE_ARTIFACTS`.
//!
//! `window_adds_an_oauth_connection_and_signs_in_through_the_browser` is the upstream sign-in from
//! the window: a real `oidc-provider` guarding the TypeScript SDK's MCP server; the Add connection
//! dialog detects OAuth, the card's "Sign in…" opens the authorization URL with `$BROWSER` (a
//! script that only records it), Playwright signs in at the AS in Chromium and lands on the app
//! gateway's loopback callback, the card turns "Connected as …" live; "Sign out…" revokes at the
//! AS; no upstream token or code is in anything the app wrote.
//!
//! `window_connects_vscode_and_claude_desktop_and_undoes_it` is the client setup from the window:
//! the "Connect a client…" dialog writes a VS Code and a Claude Desktop config in a temporary HOME
//! (diff first, undo byte for byte), and the Claude Desktop entry starts the app as the bridge;
//! with the app closed, that bridge starts the app and waits for its gateway.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use gatehouse_e2e::peers::{
    Everything, NodeProcess, add_connection, admin, consent, grant_of, grants, query_param,
};
use gatehouse_e2e::upstream::{AuthServer, UpstreamMcp, files_containing, signin};
use gatehouse_e2e::{free_port, wait_for};
use serde_json::{Value, json};

/// How long a WebDriver lookup waits for React to render what it looks for.
const RENDER: Duration = Duration::from_secs(30);
/// How long one step of the real MCP client may take.
const STEP: Duration = Duration::from_secs(60);
/// The longest one WebDriver call may take (opening the session launches the app).
const WEBDRIVER_CALL: Duration = Duration::from_secs(120);

/// The app, started by WebKitWebDriver through tauri-driver in a temporary home (its own data
/// directory, XDG directories and gateway port), with one WebDriver session open on its window.
struct AppWindow {
    driver: Child,
    url: String,
    http: reqwest::Client,
    session: String,
    gateway_port: u16,
}

impl Drop for AppWindow {
    /// SIGTERM first: tauri-driver then stops the WebKitWebDriver it started (a SIGKILL would leave
    /// that one running, still holding its port); SIGKILL only if it does not exit.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.driver.id().to_string()])
            .status();
        let exited = wait_for(Duration::from_secs(5), || {
            matches!(self.driver.try_wait(), Ok(Some(_))).then_some(())
        });
        if exited.is_none() {
            let _ = self.driver.kill();
        }
        let _ = self.driver.wait();
    }
}

impl AppWindow {
    /// Starts tauri-driver and opens a session on the app; `home` holds the XDG directories.
    async fn launch(home: &Path, data_dir: &Path, gateway_port: u16) -> Self {
        Self::launch_with(home, data_dir, gateway_port, &[], None).await
    }

    /// Like [`Self::launch`], with `extra_env` set on top of (or overriding) the usual environment
    /// of tauri-driver, WebKitWebDriver and the app, and their stdout and stderr written to
    /// `output` when given (so a test can search what the app printed).
    async fn launch_with(
        home: &Path,
        data_dir: &Path,
        gateway_port: u16,
        extra_env: &[(&str, &std::ffi::OsStr)],
        output: Option<&Path>,
    ) -> Self {
        let app = env_path("GATEHOUSE_APP_BIN");
        let driver_bin = env_path("TAURI_DRIVER");
        let (port, native_port) = (free_port(), free_port());
        // tauri-driver starts WebKitWebDriver, which starts the app: all inherit this environment,
        // so the app uses a temporary data dir and XDG dirs and never touches the user's files.
        let mut command = Command::new(&driver_bin);
        command
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("GATEHOUSE_DATA_DIR", data_dir)
            .env("GATEHOUSE_PORT", gateway_port.to_string())
            .env("GATEHOUSE_KEY_BACKEND", "auto")
            // HOME too: the autostart plugin (auto-launch 0.6) writes $HOME/.config/autostart and
            // ignores XDG_CONFIG_HOME, which therefore points at the same place.
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("xdg-data"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join("xdg-cache"))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .env("NO_AT_BRIDGE", "1")
            .env("GTK_USE_PORTAL", "0")
            .envs(extra_env.iter().copied())
            .stdout(Stdio::null());
        if let Some(output) = output {
            let file = std::fs::File::create(output)
                .unwrap_or_else(|e| panic!("cannot create {output:?}: {e}"));
            let clone = file
                .try_clone()
                .unwrap_or_else(|e| panic!("cannot clone a file handle: {e}"));
            command.stdout(file).stderr(clone);
        }
        let driver = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tauri-driver: {e}"));
        let mut window = Self {
            driver,
            url: format!("http://127.0.0.1:{port}"),
            // Bounded: a WebDriver call that never answers (a webview that stopped painting) fails
            // its test with the call's name instead of holding the whole run.
            http: reqwest::Client::builder()
                .timeout(WEBDRIVER_CALL)
                .build()
                .unwrap_or_else(|e| panic!("cannot build the WebDriver client: {e}")),
            session: String::new(),
            gateway_port,
        };
        // tauri-driver listens at once but forwards every request to WebKitWebDriver, which it
        // starts beside itself; a request that arrives before that one listens is dropped, so the
        // session is opened only once both ports accept connections.
        for (listener, what) in [(port, "tauri-driver"), (native_port, "WebKitWebDriver")] {
            let ready = wait_for(Duration::from_secs(20), || {
                std::net::TcpStream::connect(("127.0.0.1", listener)).ok()
            });
            assert!(
                ready.is_some(),
                "{what} did not start listening on {listener}"
            );
        }
        let session = window
            .call(
                reqwest::Method::POST,
                "/session",
                Some(json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}})),
            )
            .await;
        window.session = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id: {session}"))
            .to_owned();
        window
    }

    /// Ends the session (which ends the app) and waits until the app's gateway has stopped
    /// listening, so that the next test's app is not handed over to this one by the
    /// single-instance plugin.
    async fn close(self) {
        self.call(
            reqwest::Method::DELETE,
            &format!("/session/{}", self.session),
            None,
        )
        .await;
        let port = self.gateway_port;
        let stopped = wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .is_err()
                .then_some(())
        });
        assert!(
            stopped.is_some(),
            "the app kept its gateway on {port} after the session ended"
        );
    }

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

    /// A call on this session: `path` is relative to `/session/{id}`.
    async fn session_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Every element matching `xpath` now (no waiting).
    async fn find_all(&self, xpath: &str) -> Vec<String> {
        let found = self
            .session_call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "xpath", "value": xpath})),
            )
            .await;
        found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_object()?.values().next()?.as_str())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Finds an element, waiting (bounded) for the page to render it: the webview loads the UI
    /// after the session starts, and data arrives after that.
    async fn find(&self, xpath: &str) -> String {
        self.wait_for(xpath, RENDER).await
    }

    /// Finds an element, waiting up to `timeout` for it to be rendered.
    async fn wait_for(&self, xpath: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(id) = self.find_all(xpath).await.into_iter().next() {
                return id;
            }
            assert!(
                Instant::now() < deadline,
                "no element for {xpath} within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until nothing matches `xpath`.
    async fn wait_gone(&self, xpath: &str, why: &str) {
        let deadline = Instant::now() + RENDER;
        while !self.find_all(xpath).await.is_empty() {
            assert!(Instant::now() < deadline, "{why}: {xpath} still there");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element's text, or None when the element went stale (re-rendered) in the meantime.
    async fn try_text(&self, element: &str) -> Option<String> {
        let url = format!(
            "{}/session/{}/element/{element}/text",
            self.url, self.session
        );
        let response = self.http.get(url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let value: Value = response.json().await.ok()?;
        value["value"].as_str().map(str::to_owned)
    }

    /// The text of the first element matching `xpath` (found anew if it re-rendered).
    async fn text_of(&self, xpath: &str) -> String {
        for _ in 0..20 {
            let element = self.find(xpath).await;
            if let Some(text) = self.try_text(&element).await {
                return text;
            }
        }
        panic!("{xpath} kept going stale")
    }

    async fn attribute(&self, element: &str, name: &str) -> String {
        let value = self
            .session_call(
                reqwest::Method::GET,
                &format!("/element/{element}/attribute/{name}"),
                None,
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    async fn is_selected(&self, element: &str) -> bool {
        self.session_call(
            reqwest::Method::GET,
            &format!("/element/{element}/selected"),
            None,
        )
        .await
            == true
    }

    async fn click(&self, element: &str) {
        self.session_call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types `text` into an input (W3C Element Send Keys: real key events, which React sees).
    async fn type_into(&self, element: &str, text: &str) {
        self.session_call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Runs `script` in the page (W3C Execute Script) and returns its value.
    async fn execute(&self, script: &str) -> Value {
        self.session_call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn tab(&self, name: &str) -> String {
        self.find(&format!("//*[@role='tab' and normalize-space(.)='{name}']"))
            .await
    }

    /// Clicks a tab and checks that it is the selected one.
    async fn select_tab(&self, name: &str) {
        let tab = self.tab(name).await;
        self.click(&tab).await;
        assert_eq!(
            self.attribute(&tab, "aria-selected").await,
            "true",
            "the clicked tab {name:?} is selected"
        );
    }

    /// Saves a screenshot once CSS transitions (a tab's underline, a theme change) have finished,
    /// so the picture shows the state the test has just checked rather than a blend.
    async fn screenshot(&self, path: &Path) {
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
    async fn gateway_status(&self) -> String {
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
    async fn mark_document(&self) -> String {
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

    async fn document_mark(&self) -> Option<String> {
        let mark = self
            .execute("return window.__gatehouseTestMark ?? null;")
            .await;
        mark.as_str().map(str::to_owned)
    }

    /// Starts recording the `gatehouse://changed` events the window receives, through the same
    /// Tauri event channel the UI listens on.
    async fn record_changes(&self) {
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
    async fn recorded_changes(&self) -> Vec<String> {
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
    async fn document_theme(&self) -> String {
        let theme = self
            .execute("return document.documentElement.dataset.theme ?? 'system';")
            .await;
        theme.as_str().unwrap_or_default().to_owned()
    }

    /// Picks a theme radio in Settings and waits until the document uses it.
    async fn choose_theme(&self, label: &str, value: &str) {
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

fn env_path(name: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{name} is not set: run this test through `cargo xtask test`"))
}

fn artifacts() -> PathBuf {
    let artifacts = env_path("GATEHOUSE_ARTIFACTS");
    std::fs::create_dir_all(&artifacts).unwrap_or_else(|e| panic!("artifacts dir: {e}"));
    artifacts
}

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

const SLUG: &str = "everything";
const CONNECTION_NAME: &str = "Everything";
const CLIENT_NAME: &str = "Window Test Client";

/// Runs blocking work (the node client, Chromium, the CLI) without stalling the HTTP client's
/// connection tasks on this runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn string_field<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the app binary, Xvfb, a D-Bus session, tauri-driver, node and Chromium: run through `cargo xtask test`"]
async fn window_shows_a_real_grant_live_and_revokes_it() {
    let artifacts = artifacts();
    let shot = |name: &str| artifacts.join(format!("app-window-{name}.png"));
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_dir = home.path().join("data");

    // Before launch: a connection to a real upstream, made with the CLI on the app's data dir.
    let upstream = Everything::start();
    blocking(|| add_connection(&data_dir, SLUG, CONNECTION_NAME, &upstream.mcp_url()));
    let gateway_port = free_port();
    let window = AppWindow::launch(home.path(), &data_dir, gateway_port).await;
    window.gateway_status().await;
    let mark = window.mark_document().await;

    // Light theme, chosen explicitly (Xvfb has no desktop preference to follow).
    window.choose_theme("Light", "light").await;

    // Connections: the real connection, with the local URL of the app's own gateway.
    window.select_tab("Connections").await;
    let connection_card = format!(
        "//*[@data-testid='connection-card'][.//h3[normalize-space(.)='{CONNECTION_NAME}']]"
    );
    let mcp_url = format!("http://127.0.0.1:{gateway_port}/mcp/{SLUG}");
    assert_eq!(
        window
            .text_of(&format!("{connection_card}//*[@data-testid='local-url']"))
            .await,
        mcp_url,
        "the card must show the local URL on the app's gateway port"
    );
    assert!(
        window
            .text_of(&connection_card)
            .await
            .contains("No clients authorized"),
        "no client is authorized yet"
    );

    // Authorized clients, open and empty while the client asks and is approved.
    window.select_tab("Authorized clients").await;
    window.record_changes().await;
    window
        .find("//*[normalize-space(.)='No client is authorized']")
        .await;
    let heading = format!("\u{201c}{CLIENT_NAME}\u{201d}");
    let grant_card =
        format!("//*[@data-testid='grant-card'][.//h3[normalize-space(.)='{heading}']]");
    assert!(
        window.find_all(&grant_card).await.is_empty(),
        "no card before the approval"
    );

    // The real MCP client, approved in Chromium on the consent page served by the app's gateway.
    let mut client = blocking(|| {
        NodeProcess::spawn("sdk-client.mjs", &[&mcp_url, "--client-name", CLIENT_NAME])
    });
    let authorize = blocking(|| client.expect_authorize(STEP));
    assert!(
        authorize.starts_with(&format!("http://127.0.0.1:{gateway_port}/authorize?")),
        "the client must be sent to the app's gateway: {authorize}"
    );
    let approved = blocking(|| consent(&authorize, "approve", "window-test"));
    assert!(
        approved
            .final_url
            .as_deref()
            .is_some_and(|u| query_param(u, "code").is_some()),
        "approve must redirect with a code: {}",
        approved.report
    );
    blocking(|| {
        let connected = client.expect_step("connected", STEP);
        assert_eq!(
            connected["server"]["name"], "mcp-servers/everything",
            "{connected}"
        );
        client.expect_marker("READY", STEP);
    });

    // The card appears in the window that stayed open on this tab: no click, no reload.
    let card = window.find(&grant_card).await;
    assert_eq!(
        window.document_mark().await.as_deref(),
        Some(mark.as_str()),
        "the card must appear without a reload"
    );
    let changes = window.recorded_changes().await;
    assert!(
        changes.iter().any(|c| c == "grants"),
        "the window must have been told of the new grant by a change event: {changes:?}"
    );
    let grant = blocking(|| grant_of(&data_dir, CLIENT_NAME, SLUG));
    assert_eq!(
        window.attribute(&card, "data-grant-id").await,
        string_field(&grant, "id"),
        "the card is the store's grant"
    );
    // Token issue and use reach the open window too: the token health turns valid (at once), and
    // "Last used" replaces "Not used yet" once the proxy's debounced usage write lands (<= 30 s).
    window
        .find(&format!(
            "{grant_card}//*[contains(@class, 'badge') and normalize-space(.)='Token: Valid']"
        ))
        .await;
    window
        .wait_for(
            &format!("{grant_card}//*[@data-testid='grant-times' and contains(., 'Last used')]"),
            Duration::from_secs(45),
        )
        .await;
    let card_text = window.text_of(&grant_card).await;
    assert!(
        card_text.contains(&format!("Authorized to use {CONNECTION_NAME}")),
        "the card must name the connection: {card_text:?}"
    );
    assert!(
        card_text.contains(string_field(&grant, "client_id")),
        "the card must show the client ID: {card_text:?}"
    );
    window.screenshot(&shot("clients-light")).await;

    window.select_tab("Connections").await;
    assert!(
        window
            .text_of(&connection_card)
            .await
            .contains("1 client authorized"),
        "the connection counts its client"
    );
    window.screenshot(&shot("connections-light")).await;

    // "Keep access" closes the dialog and changes nothing.
    window.select_tab("Authorized clients").await;
    let revoke_button = format!("{grant_card}//button[normalize-space(.)='Revoke access…']");
    let dialog = "//*[@data-testid='revoke-dialog']";
    window.click(&window.find(&revoke_button).await).await;
    window.find(dialog).await;
    window.screenshot(&shot("revoke-dialog-light")).await;
    window
        .click(
            &window
                .find(&format!(
                    "{dialog}//button[normalize-space(.)='Keep access']"
                ))
                .await,
        )
        .await;
    window
        .wait_gone(dialog, "Keep access closes the dialog")
        .await;
    window.find(&grant_card).await;
    assert_eq!(
        blocking(|| grant_of(&data_dir, CLIENT_NAME, SLUG))["status"],
        "active",
        "Keep access must not revoke anything"
    );

    window.choose_theme("Dark", "dark").await;
    window.screenshot(&shot("settings-dark")).await;
    window.select_tab("Connections").await;
    window.find(&connection_card).await;
    window.screenshot(&shot("connections-dark")).await;
    window.select_tab("Authorized clients").await;
    window.find(&grant_card).await;
    window.screenshot(&shot("clients-dark")).await;

    // Revoke through the dialog, which must show exactly what the store has for this grant.
    window.click(&window.find(&revoke_button).await).await;
    window.find(dialog).await;
    assert_eq!(
        window
            .text_of(&format!("{dialog}//*[@data-testid='revoke-redirect-uri']"))
            .await,
        string_field(&grant, "redirect_uri"),
        "the dialog must show the grant's exact callback URI"
    );
    assert_eq!(
        window
            .text_of(&format!("{dialog}//*[@data-testid='revoke-client-id']"))
            .await,
        string_field(&grant, "client_id"),
        "the dialog must show the grant's exact client ID"
    );
    window.screenshot(&shot("revoke-dialog-dark")).await;
    let confirm = window
        .find(&format!(
            "{dialog}//button[normalize-space(.)='Revoke access']"
        ))
        .await;
    window.click(&confirm).await;
    window
        .wait_gone(&grant_card, "the revoked grant's card must disappear")
        .await;
    window
        .wait_gone(dialog, "the dialog closes after the revoke")
        .await;
    let after = blocking(|| grants(&data_dir));
    let revoked = after
        .iter()
        .find(|g| g["id"] == grant["id"])
        .unwrap_or_else(|| panic!("the revoked grant is gone from the store: {after:?}"));
    assert_eq!(
        revoked["status"], "revoked",
        "the window's revoke must reach the store"
    );
    window.screenshot(&shot("clients-after-revoke-dark")).await;

    // The client's very next request is refused.
    blocking(|| {
        client.send("CALL");
        let call = client.expect("the call after the revoke", STEP, |l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v["step"] == "call")
        });
        assert_eq!(
            call["status"], 401,
            "a grant revoked in the window must stop working on the next request: {call}"
        );
        let status = client.finish(STEP);
        assert_eq!(
            status.code(),
            Some(5),
            "exit 5 = the final call failed with an auth error\n{}",
            client.transcript()
        );
    });
    assert_eq!(
        window.document_mark().await.as_deref(),
        Some(mark.as_str()),
        "the window must not have reloaded during the test"
    );

    window.close().await;
    drop(upstream);
}

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

const OAUTH_SLUG: &str = "docs";
const OAUTH_NAME: &str = "Upstream Docs";

/// The connection `slug` as `gatehoused connections list --json` shows it.
fn stored_connection(data_dir: &Path, slug: &str) -> Value {
    let listed: Value = serde_json::from_str(&admin(data_dir, &["connections", "list", "--json"]))
        .unwrap_or_else(|e| panic!("connections list --json: {e}"));
    listed
        .as_array()
        .and_then(|all| all.iter().find(|c| c["slug"] == slug).cloned())
        .unwrap_or_else(|| panic!("no connection {slug}: {listed}"))
}

/// A `$BROWSER` that opens nothing: it appends its argument (the authorization URL) to `log` and
/// exits 0. The opener splits `$BROWSER` on whitespace and ':', so its path must have neither.
fn recording_browser(dir: &Path, log: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("record-browser.sh");
    let text = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\nexit 0\n",
        log.display()
    );
    std::fs::write(&script, text).unwrap_or_else(|e| panic!("write {script:?}: {e}"));
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {script:?}: {e}"));
    let shown = script.to_string_lossy();
    assert!(
        !shown.contains(char::is_whitespace) && !shown.contains(':'),
        "the $BROWSER path must be one word: {shown}"
    );
    script
}

/// The URLs the recording browser was asked to open so far.
fn opened_urls(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The upstream sign-in from the window: add an OAuth-protected upstream through the Add connection
/// dialog ("Detect sign-in" picks OAuth), sign in from its card (the app opens the authorization
/// URL with `$BROWSER`, here a script that records it; Playwright then signs in at the real
/// `oidc-provider` in Chromium and lands on the app gateway's loopback callback), see the card turn
/// "Connected as …" live, sign out through the confirmation (revoked at the AS), and find no
/// upstream token or code in anything the app wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the app binary, Xvfb, a D-Bus session, tauri-driver, node and Chromium: run through `cargo xtask test`"]
async fn window_adds_an_oauth_connection_and_signs_in_through_the_browser() {
    let artifacts = artifacts();
    let auth_server = blocking(|| AuthServer::start(300));
    let upstream = blocking(|| UpstreamMcp::start(&auth_server.issuer));
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_dir = home.path().join("data");
    let opened_log = home.path().join("browser-opened.txt");
    let browser = recording_browser(home.path(), &opened_log);
    let app_output = home.path().join("app.out");
    let gateway_port = free_port();
    let window = AppWindow::launch_with(
        home.path(),
        &data_dir,
        gateway_port,
        &[
            ("BROWSER", browser.as_os_str()),
            ("GATEHOUSE_KEY_BACKEND", "file".as_ref()),
            // Everything the app could log, so that the leak check below means something.
            ("RUST_LOG", "debug".as_ref()),
        ],
        Some(&app_output),
    )
    .await;
    window.gateway_status().await;
    window.choose_theme("Light", "light").await;
    window.select_tab("Connections").await;
    let mark = window.mark_document().await;
    window.record_changes().await;

    // Add connection: slug, name, URL; "Detect sign-in" probes the URL and selects OAuth.
    window
        .click(
            &window
                .find("//button[normalize-space(.)='Add connection…']")
                .await,
        )
        .await;
    let dialog = "//*[@data-testid='connection-dialog']";
    let input = |label: &str| {
        format!("{dialog}//input[@id={dialog}//label[normalize-space(.)='{label}']/@for]")
    };
    window
        .type_into(&window.find(&input("Slug")).await, OAUTH_SLUG)
        .await;
    window
        .type_into(&window.find(&input("Name")).await, OAUTH_NAME)
        .await;
    window
        .type_into(&window.find(&input("Server URL")).await, &upstream.url)
        .await;
    let oauth_radio = format!(
        "{dialog}//label[contains(normalize-space(.), 'OAuth sign-in in your browser')]/input[@type='radio']"
    );
    assert!(
        !window.is_selected(&window.find(&oauth_radio).await).await,
        "OAuth must not be selected before the detection"
    );
    window
        .click(
            &window
                .find(&format!(
                    "{dialog}//button[normalize-space(.)='Detect sign-in']"
                ))
                .await,
        )
        .await;
    window
        .find(&format!(
            "{dialog}//*[@role='status' and contains(., 'asks for OAuth sign-in')]"
        ))
        .await;
    assert!(
        window.is_selected(&window.find(&oauth_radio).await).await,
        "the detection of the guarded server must select the OAuth radio"
    );
    let automatic = window
        .find(&format!(
            "{dialog}//select[@id={dialog}//label[normalize-space(.)='Provider']/@for]\
             /option[normalize-space(.)='Automatic: discover and register Gatehouse']"
        ))
        .await;
    assert!(
        window.is_selected(&automatic).await,
        "the provider defaults to automatic discovery and registration"
    );
    window
        .screenshot(&artifacts.join("app-window-oauth-add-dialog.png"))
        .await;
    window
        .click(
            &window
                .find(&format!(
                    "{dialog}//button[@type='submit' and normalize-space(.)='Add connection']"
                ))
                .await,
        )
        .await;
    window.wait_gone(dialog, "adding closes the dialog").await;

    // The new card: sign-in needed, as the store says.
    let card =
        format!("//*[@data-testid='connection-card'][.//h3[normalize-space(.)='{OAUTH_NAME}']]");
    let status = format!("{card}//*[@data-testid='connection-status']");
    window
        .find(&format!("{status}[normalize-space(.)='Sign-in needed']"))
        .await;
    let added = blocking(|| stored_connection(&data_dir, OAUTH_SLUG));
    assert_eq!(added["auth_kind"], "oauth", "{added}");
    assert_eq!(added["status"], "needs_auth", "{added}");
    assert_eq!(added["upstream_url"], upstream.url.as_str(), "{added}");
    assert!(
        opened_urls(&opened_log).is_empty(),
        "nothing is opened in the browser before Sign in is clicked"
    );

    // Sign in…: the app opens the authorization URL with $BROWSER.
    window
        .click(
            &window
                .find(&format!("{card}//button[normalize-space(.)='Sign in…']"))
                .await,
        )
        .await;
    let opened = wait_for(Duration::from_secs(30), || {
        Some(opened_urls(&opened_log)).filter(|urls| !urls.is_empty())
    })
    .unwrap_or_else(|| {
        panic!(
            "Sign in… did not open a browser within 30 s:\n{}",
            std::fs::read_to_string(&app_output).unwrap_or_default()
        )
    });
    assert_eq!(opened.len(), 1, "one click opens one URL: {opened:?}");
    let authorize = opened[0].clone();
    let endpoint = blocking(|| auth_server.metadata())["authorization_endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !endpoint.is_empty() && authorize.starts_with(&format!("{endpoint}?")),
        "the AS's authorization endpoint {endpoint:?}: {authorize}"
    );
    let param = |name: &str| query_param(&authorize, name);
    assert_eq!(
        param("response_type").as_deref(),
        Some("code"),
        "{authorize}"
    );
    assert_eq!(
        param("code_challenge_method").as_deref(),
        Some("S256"),
        "{authorize}"
    );
    for name in ["code_challenge", "state", "client_id"] {
        assert!(
            param(name).is_some_and(|v| !v.is_empty()),
            "{name} is missing: {authorize}"
        );
    }
    assert_eq!(
        param("resource").as_deref(),
        Some(upstream.url.as_str()),
        "RFC 8707: the resource is the upstream MCP server"
    );
    assert_eq!(
        param("redirect_uri"),
        Some(format!("http://127.0.0.1:{gateway_port}/oauth/callback")),
        "the window signs in through the app gateway's loopback callback"
    );
    window
        .find(&format!(
            "//*[@data-testid='connections-announcement' and contains(., \
             'Continue in your browser to sign in to {OAUTH_NAME}')]"
        ))
        .await;

    // The person signs in at the AS; the browser lands on the app gateway's callback.
    let signed = blocking(|| signin(&authorize, "alice", "app-window"));
    assert_eq!(signed.report["ok"], true, "{:?}", signed.report);
    assert!(
        signed
            .final_url
            .starts_with(&format!("http://127.0.0.1:{gateway_port}/oauth/callback?")),
        "the browser ended on the gateway's callback: {}",
        signed.final_url
    );
    assert_eq!(signed.report["final_status"], 200, "{:?}", signed.report);
    let code = query_param(&signed.final_url, "code")
        .unwrap_or_else(|| panic!("no code in {}", signed.final_url));

    // The card turns "Connected as …" in the open window, told by a change event, without a reload.
    let connected_text = window
        .wait_for(
            &format!("{status}[starts-with(normalize-space(.), 'Connected as ')]"),
            Duration::from_secs(60),
        )
        .await;
    let shown = window.try_text(&connected_text).await.unwrap_or_default();
    let stored = blocking(|| stored_connection(&data_dir, OAUTH_SLUG));
    assert_eq!(stored["status"], "connected", "{stored}");
    let account = stored["account_label"].as_str().unwrap_or_default();
    assert!(
        account.contains("alice"),
        "on behalf of the AS's account: {stored}"
    );
    assert_eq!(
        shown.trim(),
        format!("Connected as {account}"),
        "the card names the account the store has"
    );
    assert!(
        window
            .find_all(&format!("{card}//button[normalize-space(.)='Sign in…']"))
            .await
            .is_empty(),
        "a connected card offers no Sign in"
    );
    assert!(
        window
            .recorded_changes()
            .await
            .iter()
            .any(|c| c == "connections"),
        "the window must have been told by a change event: {:?}",
        window.recorded_changes().await
    );
    assert_eq!(
        window.document_mark().await.as_deref(),
        Some(mark.as_str()),
        "the card must change without a reload"
    );
    let stats = blocking(|| auth_server.stats());
    assert_eq!(stats["registrations"], 1, "one DCR registration: {stats}");
    assert_eq!(stats["token"]["authorization_code"], 1, "{stats}");
    window
        .screenshot(&artifacts.join("app-window-oauth-signed-in.png"))
        .await;

    // Sign out…: the confirmation, then the card needs a sign-in again and the AS saw a revocation.
    let revocations_before = stats["revocations"].as_u64().unwrap_or(0);
    window
        .click(
            &window
                .find(&format!("{card}//button[normalize-space(.)='Sign out…']"))
                .await,
        )
        .await;
    let confirm = "//*[@data-testid='confirm-dialog']";
    window
        .find(&format!(
            "{confirm}[.//*[normalize-space(.)='Sign out of {OAUTH_NAME}?']]"
        ))
        .await;
    window
        .click(
            &window
                .find(&format!("{confirm}//button[normalize-space(.)='Sign out']"))
                .await,
        )
        .await;
    window
        .wait_gone(confirm, "signing out closes the dialog")
        .await;
    window
        .find(&format!("{status}[normalize-space(.)='Sign-in needed']"))
        .await;
    window
        .find(&format!("{card}//button[normalize-space(.)='Sign in…']"))
        .await;
    assert_eq!(
        blocking(|| stored_connection(&data_dir, OAUTH_SLUG))["status"],
        "needs_auth"
    );
    let stats = blocking(|| auth_server.stats());
    assert!(
        stats["revocations"].as_u64().unwrap_or(0) > revocations_before,
        "signing out must revoke at the AS (RFC 7009): {stats}"
    );
    window
        .find(&format!(
            "//*[@data-testid='connections-announcement' and normalize-space(.)='Signed out of {OAUTH_NAME}.']"
        ))
        .await;
    window
        .screenshot(&artifacts.join("app-window-oauth-signed-out.png"))
        .await;
    assert_eq!(
        window.document_mark().await.as_deref(),
        Some(mark.as_str()),
        "the window must not have reloaded during the test"
    );
    window.close().await;

    // No upstream token or authorization code in anything the app wrote: its data dir (database,
    // log files) and its output.
    let mut secrets = blocking(|| auth_server.issued_token_values());
    assert!(
        secrets.len() >= 2,
        "the AS issued an access and a refresh token: {}",
        secrets.len()
    );
    secrets.push(code);
    let leaks = files_containing(home.path(), &secrets);
    assert!(
        leaks.is_empty(),
        "an upstream token or code was found in: {leaks:?}"
    );
    let log_dir = data_dir.join("logs");
    assert!(
        std::fs::read_dir(&log_dir).is_ok_and(|mut d| d.next().is_some()),
        "the app must have written its log file in {log_dir:?} (else the leak check proves nothing)"
    );
    assert!(
        std::fs::read_to_string(&app_output).is_ok_and(|out| out.contains("gateway listening")),
        "the app's debug output must be in {app_output:?} (else the leak check proves nothing)"
    );
    drop(upstream);
    drop(auth_server);
}

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
