//! The WebDriver session on the app's window: tauri-driver started in a temporary home, the W3C
//! calls the tests make (find, click, type, read, run a script), and the app's end.

use std::process::Child;

use super::*;

/// The app, started by WebKitWebDriver through tauri-driver in a temporary home (its own data
/// directory, XDG directories and gateway port), with one WebDriver session open on its window.
pub(crate) struct AppWindow {
    driver: Child,
    url: String,
    http: reqwest::Client,
    session: String,
    pub(crate) gateway_port: u16,
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
    pub(crate) async fn launch(home: &Path, data_dir: &Path, gateway_port: u16) -> Self {
        Self::launch_with(home, data_dir, gateway_port, &[], None).await
    }

    /// Like [`Self::launch`], with `extra_env` set on top of (or overriding) the usual environment
    /// of tauri-driver, WebKitWebDriver and the app, and their stdout and stderr written to
    /// `output` when given (so a test can search what the app printed).
    pub(crate) async fn launch_with(
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
    pub(crate) async fn close(self) {
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
    pub(crate) async fn session_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Every element matching `xpath` now (no waiting).
    pub(crate) async fn find_all(&self, xpath: &str) -> Vec<String> {
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
    pub(crate) async fn find(&self, xpath: &str) -> String {
        self.wait_for(xpath, RENDER).await
    }

    /// Finds an element, waiting up to `timeout` for it to be rendered.
    pub(crate) async fn wait_for(&self, xpath: &str, timeout: Duration) -> String {
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
    pub(crate) async fn wait_gone(&self, xpath: &str, why: &str) {
        let deadline = Instant::now() + RENDER;
        while !self.find_all(xpath).await.is_empty() {
            assert!(Instant::now() < deadline, "{why}: {xpath} still there");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element's text, or None when the element went stale (re-rendered) in the meantime.
    pub(crate) async fn try_text(&self, element: &str) -> Option<String> {
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
    pub(crate) async fn text_of(&self, xpath: &str) -> String {
        for _ in 0..20 {
            let element = self.find(xpath).await;
            if let Some(text) = self.try_text(&element).await {
                return text;
            }
        }
        panic!("{xpath} kept going stale")
    }

    pub(crate) async fn attribute(&self, element: &str, name: &str) -> String {
        let value = self
            .session_call(
                reqwest::Method::GET,
                &format!("/element/{element}/attribute/{name}"),
                None,
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    pub(crate) async fn is_selected(&self, element: &str) -> bool {
        self.session_call(
            reqwest::Method::GET,
            &format!("/element/{element}/selected"),
            None,
        )
        .await
            == true
    }

    pub(crate) async fn click(&self, element: &str) {
        self.session_call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types `text` into an input (W3C Element Send Keys: real key events, which React sees).
    pub(crate) async fn type_into(&self, element: &str, text: &str) {
        self.session_call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Runs `script` in the page (W3C Execute Script) and returns its value.
    pub(crate) async fn execute(&self, script: &str) -> Value {
        self.session_call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    pub(crate) async fn tab(&self, name: &str) -> String {
        self.find(&format!("//*[@role='tab' and normalize-space(.)='{name}']"))
            .await
    }

    /// Clicks a tab and checks that it is the selected one.
    pub(crate) async fn select_tab(&self, name: &str) {
        let tab = self.tab(name).await;
        self.click(&tab).await;
        assert_eq!(
            self.attribute(&tab, "aria-selected").await,
            "true",
            "the clicked tab {name:?} is selected"
        );
    }
}
