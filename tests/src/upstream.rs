//! The real third-party upstream for role 2: an OAuth authorization server (`oidc-provider`,
//! `tests/js/upstream/as.mjs`) guarding a real MCP server (the TypeScript SDK's, `mcp-server.mjs`), and
//! Playwright signing in at that AS in Chromium (`signin.mjs`). All on 127.0.0.1, all pinned in
//! `tests/package.json`. Plus the small HTTP pieces a test needs to act as an OAuth client itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

use crate::peers::{NodeProcess, node_script, query_param};

const START: Duration = Duration::from_secs(60);

/// RFC 7636 appendix B's verifier and its S256 challenge: the tests need a valid pair, not a secret one.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Runs a future to completion on a fresh current-thread runtime (the tests are synchronous).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
        .block_on(future)
}

/// `oidc-provider` as the upstream's authorization server (`as.mjs`); killed on drop.
pub struct AuthServer {
    pub process: NodeProcess,
    /// Exactly `http://127.0.0.1:PORT`.
    pub issuer: String,
}

impl AuthServer {
    /// Starts it with access tokens living `access_ttl_secs` seconds.
    pub fn start(access_ttl_secs: u64) -> Self {
        let ttl = access_ttl_secs.to_string();
        let mut process = NodeProcess::spawn("upstream/as.mjs", &["--port", "0", "--ttl", &ttl]);
        let issuer = process.expect("AS_READY", START, |l| {
            l.strip_prefix("AS_READY ").map(str::to_owned)
        });
        Self { process, issuer }
    }

    /// Test-only: revokes every grant (codes, access and refresh tokens) of `sub` at the AS, as an
    /// upstream that withdraws access would. Returns how many grants went.
    pub fn revoke_subject(&self, sub: &str) -> u64 {
        let url = format!("{}/__admin/revoke?sub={sub}", self.issuer);
        let body: Value = block_on(async {
            reqwest::Client::new()
                .post(&url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        })
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        body["revoked_grants"].as_u64().unwrap_or(0)
    }

    /// Counts kept by the AS: `token.authorization_code`, `token.refresh_token`, `token_errors`,
    /// `registrations`, `introspections`, `revocations`, `subjects`.
    pub fn stats(&self) -> Value {
        self.admin_get("stats")
    }

    /// Successful refresh_token grants so far.
    pub fn refreshes(&self) -> u64 {
        self.stats()["token"]["refresh_token"].as_u64().unwrap_or(0)
    }

    /// Every access and refresh token value the AS has issued (for the never-stored/never-logged checks).
    pub fn issued_token_values(&self) -> Vec<String> {
        let issued = self.admin_get("issued");
        ["access_tokens", "refresh_tokens"]
            .iter()
            .flat_map(|k| issued[*k].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    fn admin_get(&self, what: &str) -> Value {
        let url = format!("{}/__admin/{what}", self.issuer);
        block_on(async { reqwest::get(&url).await?.error_for_status()?.json().await })
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// The AS's OpenID discovery document.
    pub fn metadata(&self) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        block_on(async { reqwest::get(&url).await?.error_for_status()?.json().await })
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// Dynamic registration of a native public client with one loopback redirect URI; the response.
    pub fn register_native(&self, redirect_uri: &str, name: &str) -> (u16, Value) {
        let url = format!("{}/reg", self.issuer);
        let body = json!({
            "application_type": "native",
            "client_name": name,
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        block_on(async {
            let r = reqwest::Client::new().post(&url).json(&body).send().await?;
            let status = r.status().as_u16();
            Ok::<_, reqwest::Error>((status, r.json().await?))
        })
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
    }

    /// A POST to the token endpoint with a form; (status, JSON body).
    pub fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        post_form(&format!("{}/token", self.issuer), form)
    }
}

/// A form POST; (status, JSON body or `null`).
pub fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    block_on(async {
        let r = reqwest::Client::new().post(url).form(form).send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok::<_, reqwest::Error>((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    })
    .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// The SDK's MCP server behind the bearer check (`mcp-server.mjs`); killed on drop.
pub struct UpstreamMcp {
    pub process: NodeProcess,
    /// `http://127.0.0.1:PORT/mcp`: the URL to add in Gatehouse and the RFC 8707 resource.
    pub url: String,
}

impl UpstreamMcp {
    pub fn start(issuer: &str) -> Self {
        let mut process = NodeProcess::spawn(
            "upstream/mcp-server.mjs",
            &["--issuer", issuer, "--port", "0"],
        );
        let url = process.expect("MCP_READY", START, |l| {
            l.strip_prefix("MCP_READY ").map(str::to_owned)
        });
        Self { process, url }
    }

    /// Where its RFC 9728 metadata is: `http://127.0.0.1:PORT/.well-known/oauth-protected-resource/mcp`.
    pub fn resource_metadata_url(&self) -> String {
        self.url
            .replacen("/mcp", "/.well-known/oauth-protected-resource/mcp", 1)
    }
}

/// What `signin.mjs` reported.
#[derive(Debug)]
pub struct SignIn {
    pub report: Value,
    /// The callback URL the browser ended on (with `code`, `state`, `iss`).
    pub final_url: String,
    /// The callback page's text.
    pub text: String,
}

/// Runs `signin.mjs <url> --login LOGIN --name NAME`: logs in at the AS, consents, lands on the callback.
pub fn signin(url: &str, login: &str, name: &str) -> SignIn {
    signin_with(url, login, name, &[])
}

/// Like [`signin`], but the redirect to the callback is captured instead of followed
/// (`signin.mjs --capture`): for a private-use-scheme callback such as the app's deep link, which the
/// test then hands to the app itself. [`SignIn::final_url`] is the redirect's Location.
pub fn signin_capturing_redirect(url: &str, login: &str, name: &str) -> SignIn {
    signin_with(url, login, name, &["--capture"])
}

fn signin_with(url: &str, login: &str, name: &str, extra: &[&str]) -> SignIn {
    let output = node_script("upstream/signin.mjs")
        .args([url, "--login", login, "--name", name])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run signin.mjs: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "signin.mjs {url} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
    };
    SignIn {
        report: stdout
            .lines()
            .find_map(|l| serde_json::from_str::<Value>(l).ok())
            .unwrap_or(Value::Null),
        final_url: line("FINAL ")
            .unwrap_or_else(|| panic!("signin.mjs printed no FINAL: {stdout}")),
        text: line("TEXT ").unwrap_or_default(),
    }
}

/// A one-shot loopback redirect target: binds 127.0.0.1:0, answers the first request with a small page
/// and hands over its request target (path and query).
pub struct CallbackServer {
    pub redirect_uri: String,
    received: Receiver<String>,
}

impl CallbackServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"))
            .port();
        let (tx, received) = channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => continue,
                });
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // Drain the headers.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let target = request_line.split(' ').nth(1).unwrap_or("").to_owned();
                if !target.starts_with("/callback") {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                    continue;
                }
                let page = "<!doctype html><title>Callback</title><p>Signed in: the test takes it from here.</p>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.flush();
                let mut rest = [0u8; 0];
                let _ = stream.read(&mut rest);
                if tx.send(target).is_err() {
                    break;
                }
            }
        });
        Self {
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
            received,
        }
    }

    /// The request target of the first callback (e.g. `/callback?code=...&state=...&iss=...`).
    pub fn wait(&self, timeout: Duration) -> String {
        self.received.recv_timeout(timeout).unwrap_or_else(|e| {
            panic!(
                "no request on {} within {timeout:?}: {e}",
                self.redirect_uri
            )
        })
    }
}

/// One JSON-RPC request over Streamable HTTP (JSON or SSE answer) with an optional bearer token and
/// session id: (HTTP status, `WWW-Authenticate`, `Mcp-Session-Id`, the JSON-RPC response if any).
pub fn mcp_post(
    url: &str,
    bearer: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> (u16, Option<String>, Option<String>, Option<Value>) {
    block_on(async {
        let mut request = reqwest::Client::new()
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(id) = session {
            request = request.header("mcp-session-id", id);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let www = header("www-authenticate");
        let sid = header("mcp-session-id");
        let text = response.text().await?;
        let message = serde_json::from_str::<Value>(&text).ok().or_else(|| {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .find(|v| v.get("id").is_some())
        });
        Ok::<_, reqwest::Error>((status, www, sid, message))
    })
    .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// initialize + notifications/initialized with `token`; the session id, or the failing status.
pub fn mcp_session(url: &str, token: &str) -> Result<String, u16> {
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "gatehouse-e2e-rust", "version": "0.1.0"}
        }
    });
    let (status, _, sid, _) = mcp_post(url, Some(token), None, &init);
    if status != 200 {
        return Err(status);
    }
    let sid = sid.unwrap_or_else(|| panic!("no Mcp-Session-Id from a stateful server"));
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (status, ..) = mcp_post(url, Some(token), Some(&sid), &note);
    assert_eq!(status, 202, "notifications/initialized");
    Ok(sid)
}

/// `tools/call whoami`: (HTTP status, the parsed `{"sub","email","client_id"}` when it worked).
pub fn whoami(url: &str, token: &str, session: &str) -> (u16, Option<Value>) {
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}}});
    let (status, _, _, message) = mcp_post(url, Some(token), Some(session), &call);
    let who = message.and_then(|m| {
        m["result"]["content"][0]["text"]
            .as_str()
            .and_then(|t| serde_json::from_str(t).ok())
    });
    (status, who)
}

/// The authorization URL for a code + PKCE S256 + resource request.
pub fn authorization_url(
    metadata: &Value,
    client_id: &str,
    redirect_uri: &str,
    resource: &str,
    state: &str,
) -> String {
    let endpoint = metadata["authorization_endpoint"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorization_endpoint: {metadata}"));
    let mut url = url_with(endpoint);
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid email mcp")
        .append_pair("resource", resource)
        .append_pair("code_challenge", PKCE_CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", state);
    url.into()
}

fn url_with(base: &str) -> reqwest::Url {
    reqwest::Url::parse(base).unwrap_or_else(|e| panic!("{base}: {e}"))
}

/// A parameter of a callback target such as `/callback?code=...`.
pub fn callback_param(target: &str, name: &str) -> Option<String> {
    query_param(&format!("http://127.0.0.1{target}"), name)
}

/// `gatehoused serve --port 0` like [`crate::Gatehoused::serve`], but with `RUST_LOG=debug` and its
/// stderr (the log lines) written to `stderr_file`, so a test can search it for secrets.
pub fn serve_logging_to(
    data_dir: &std::path::Path,
    stderr_file: &std::path::Path,
) -> crate::Gatehoused {
    let log = std::fs::File::create(stderr_file)
        .unwrap_or_else(|e| panic!("cannot create {stderr_file:?}: {e}"));
    let mut command = crate::gatehoused(data_dir);
    command
        .args(["serve", "--port", "0"])
        .env("RUST_LOG", "debug")
        .stderr(log);
    crate::Gatehoused::start(command)
}

/// Files under `dir` (recursively) whose bytes contain any of `needles`: (file, needle prefix).
pub fn files_containing(
    dir: &std::path::Path,
    needles: &[String],
) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if let Ok(bytes) = std::fs::read(&path) {
            for needle in needles.iter().filter(|n| n.len() >= 16) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push((path.clone(), needle.chars().take(6).collect()));
                }
            }
        }
    }
    found
}
