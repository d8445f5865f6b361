//! The real third-party peers: the MCP reference server (`@modelcontextprotocol/server-everything`) as
//! an upstream, the official TypeScript SDK client and mcp-remote as clients, and Playwright driving
//! Debian's Chromium through the consent page. All pinned in `tests/package.json` and run with `node`
//! from `tests/node_modules` (installed by `cargo xtask setup test`, or on demand here).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{free_port, gatehoused, wait_for};

/// `tests/` (this crate's directory, which holds package.json and js/).
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/node_modules`, installed with `npm ci` on first use when it is missing or older than the
/// lock file (`cargo xtask setup test` does the same up front).
pub fn node_modules() -> PathBuf {
    static INSTALL: Once = Once::new();
    let dir = tests_dir();
    INSTALL.call_once(|| {
        let stamp = dir.join("node_modules/.package-lock.json");
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let stale = match (modified(&dir.join("package-lock.json")), modified(&stamp)) {
            (Some(lock), Some(installed)) => lock > installed,
            _ => true,
        };
        if stale {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "`npm ci` in {dir:?} failed: run `cargo xtask setup test` (needs Node.js 20+ and the npm registry)"
            );
        }
    });
    dir.join("node_modules")
}

/// Where screenshots go: `GATEHOUSE_ARTIFACTS`, else `<workspace>/artifacts/e2e`.
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("GATEHOUSE_ARTIFACTS")
        .map_or_else(|| tests_dir().join("../artifacts/e2e"), PathBuf::from)
}

/// A `node` command running `tests/js/<script>` with `tests/` as working directory.
pub fn node_script(script: &str) -> Command {
    let _ = node_modules();
    let mut cmd = Command::new("node");
    cmd.arg(tests_dir().join("js").join(script))
        .current_dir(tests_dir())
        .env("GATEHOUSE_ARTIFACTS", artifacts_dir());
    cmd
}

/// The MCP reference server in Streamable HTTP mode (`dist/index.js streamableHttp`, `PORT=`), serving
/// `/mcp` without any auth; killed on drop.
pub struct Everything {
    child: Child,
    pub port: u16,
}

impl Everything {
    pub fn start() -> Self {
        let entry = node_modules().join("@modelcontextprotocol/server-everything/dist/index.js");
        assert!(
            entry.is_file(),
            "{entry:?} is missing: run npm ci in tests/"
        );
        let port = free_port();
        let child = Command::new("node")
            .arg(&entry)
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start server-everything (is node installed?): {e}"));
        let mut server = Self { child, port };
        let up = wait_for(Duration::from_secs(30), || {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("server-everything exited early: {status}");
            }
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        assert!(
            up.is_some(),
            "server-everything did not listen on {port} within 30 s"
        );
        server
    }

    /// The upstream MCP endpoint, e.g. `http://127.0.0.1:PORT/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for Everything {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A node script running in the background whose stdout is consumed line by line (the scripts'
/// protocol: `AUTHORIZE <url>`, JSON `{"step":...}` lines, `REFRESHED`, `READY`, `DONE`) and whose
/// stderr is kept for failure messages. Killed on drop.
pub struct NodeProcess {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl NodeProcess {
    /// Spawns `node tests/js/<script> args...`.
    pub fn spawn(script: &str, args: &[&str]) -> Self {
        let mut child = node_script(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node {script}: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("stdout not piped"));
        let stderr_pipe = child
            .stderr
            .take()
            .unwrap_or_else(|| panic!("stderr not piped"));
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        Self {
            name: script.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Everything printed so far, for failure messages.
    pub fn transcript(&self) -> String {
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        let tail: String = stderr
            .chars()
            .rev()
            .take(6000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!(
            "--- {} stdout ---\n{}\n--- stderr (tail) ---\n{tail}",
            self.name,
            self.seen.join("\n")
        )
    }

    /// The next stdout line, or `None` at end of output / timeout.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Reads lines until one satisfies `pick`; panics with the transcript otherwise. A JSON line with
    /// `"ok": false` (a failed step) also ends the wait with a panic unless `pick` accepted it.
    pub fn expect<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = self.next_line(left) else {
                let status = self.child.try_wait().ok().flatten();
                panic!(
                    "{}: no {what} within {timeout:?} (exit status: {status:?})\n{}",
                    self.name,
                    self.transcript()
                );
            };
            if let Some(found) = pick(&line) {
                return found;
            }
            if serde_json::from_str::<Value>(&line).is_ok_and(|v| v["ok"] == false) {
                panic!(
                    "{}: a step failed while waiting for {what}\n{}",
                    self.name,
                    self.transcript()
                );
            }
        }
    }

    /// Waits for `AUTHORIZE <url>` and returns the URL.
    pub fn expect_authorize(&mut self, timeout: Duration) -> String {
        self.expect("AUTHORIZE line", timeout, |l| {
            l.strip_prefix("AUTHORIZE ").map(str::to_owned)
        })
    }

    /// Waits for an exact marker line such as `REFRESHED` or `READY`.
    pub fn expect_marker(&mut self, marker: &str, timeout: Duration) {
        self.expect(marker, timeout, |l| (l.trim() == marker).then_some(()));
    }

    /// Waits for the JSON line `{"step": step, ...}` and returns it.
    pub fn expect_step(&mut self, step: &str, timeout: Duration) -> Value {
        self.expect(&format!("step {step:?}"), timeout, |l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v["step"] == step)
        })
    }

    /// Writes one line to the script's stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self
            .stdin
            .as_mut()
            .unwrap_or_else(|| panic!("{}: stdin already closed", self.name));
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{}: cannot write {line:?}: {e}", self.name));
    }

    /// Closes stdin and waits for the exit status (drains remaining stdout into the transcript).
    pub fn finish(&mut self, timeout: Duration) -> ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        loop {
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: did not exit within {timeout:?}\n{}",
                    self.name,
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Lines printed so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `approve.mjs` reported.
#[derive(Debug)]
pub struct Consent {
    /// Its JSON line (`mode`, `consent_status`, `params` of the final URL without the code, or for
    /// `frame`: `blocked`, `buttons_in_frame`, `refused`).
    pub report: Value,
    /// The URL the browser ended on (the client's redirect URI with `code`/`error`, `state`, `iss`).
    pub final_url: Option<String>,
}

/// Runs `approve.mjs <url> <mode> --name <name>` (mode `approve`, `deny` or `frame`) in Chromium.
pub fn consent(url: &str, mode: &str, name: &str) -> Consent {
    let output = node_script("approve.mjs")
        .args([url, mode, "--name", name])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run approve.mjs: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "approve.mjs {mode} {url} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout
        .lines()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| panic!("approve.mjs printed no report: {stdout}"));
    let final_url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FINAL ").map(str::to_owned));
    Consent { report, final_url }
}

/// The first value of query parameter `name` in `url` (percent-decoded enough for tests: `+` and `%XX`).
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `gatehoused <args>` on `data_dir`, asserting success; returns stdout.
pub fn admin(data_dir: &Path, args: &[&str]) -> String {
    let output = gatehoused(data_dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("gatehoused {args:?}: {e}"));
    assert!(
        output.status.success(),
        "gatehoused {args:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `gatehoused connections add --slug SLUG --name NAME --url URL`.
pub fn add_connection(data_dir: &Path, slug: &str, name: &str, url: &str) {
    admin(
        data_dir,
        &[
            "connections",
            "add",
            "--slug",
            slug,
            "--name",
            name,
            "--url",
            url,
        ],
    );
}

/// `gatehoused grants list --all --json`: every grant, revoked ones included.
pub fn grants(data_dir: &Path) -> Vec<Value> {
    let stdout = admin(data_dir, &["grants", "list", "--all", "--json"]);
    match serde_json::from_str(&stdout) {
        Ok(Value::Array(items)) => items,
        Ok(other) => panic!("grants list --json must print an array of grants, got {other}"),
        Err(e) => panic!("grants list --json is not JSON ({e}): {stdout}"),
    }
}

/// The connection slug of a grant as listed (`slug`, `connection_slug` or `connection`).
pub fn grant_slug(grant: &Value) -> Option<&str> {
    ["slug", "connection_slug", "connection"]
        .iter()
        .find_map(|k| grant.get(*k).and_then(Value::as_str))
}

/// The grant of `client_name` on `slug`, waiting briefly for it to appear.
pub fn grant_of(data_dir: &Path, client_name: &str, slug: &str) -> Value {
    wait_for(Duration::from_secs(5), || {
        grants(data_dir)
            .into_iter()
            .find(|g| g["client_name"] == client_name && grant_slug(g) == Some(slug))
    })
    .unwrap_or_else(|| {
        panic!(
            "no grant for client {client_name:?} on {slug:?}: {:?}",
            grants(data_dir)
        )
    })
}

/// `gatehoused grants revoke ID`.
pub fn revoke_grant(data_dir: &Path, id: &str) {
    admin(data_dir, &["grants", "revoke", id]);
}
