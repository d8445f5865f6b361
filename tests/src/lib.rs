//! Shared helpers for the black-box tests: find the built binaries, run `gatehoused serve` on a free
//! port in a temporary data directory, and wait for things without fixed sleeps.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Directory of the workspace's debug binaries: `GATEHOUSE_BIN_DIR` (set by `cargo xtask test`), else
/// the workspace target dir after building `gatehoused` on demand.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GATEHOUSE_BIN_DIR") {
        return PathBuf::from(dir);
    }
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--package",
                "gatehouse-core",
                "--bin",
                "gatehoused",
            ])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "building gatehoused for the black-box tests failed"
        );
    });
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("debug")
}

/// Path of a workspace binary such as `gatehoused`.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{path:?} is missing: run `cargo build --workspace --bins` (cargo xtask test does)"
    );
    path
}

/// A `gatehoused` command on a given data directory, with the key kept in a file (tests never touch
/// the user's keyring).
pub fn gatehoused(data_dir: &Path) -> Command {
    let mut cmd = Command::new(bin("gatehoused"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .env("GATEHOUSE_KEY_BACKEND", "file")
        .env_remove("GATEHOUSE_PORT");
    cmd
}

/// `gatehoused serve --port 0` running in the background; killed on drop.
pub struct Gatehoused {
    pub child: Child,
    pub base_url: String,
    pub port: u16,
}

impl Gatehoused {
    /// Starts it and waits for its `listening on http://127.0.0.1:PORT` line.
    pub fn serve(data_dir: &Path) -> Self {
        let mut command = gatehoused(data_dir);
        command.args(["serve", "--port", "0"]).stderr(Stdio::null());
        Self::start(command)
    }

    /// Spawns a prepared `gatehoused serve` command (its stdout is taken over) and waits for its
    /// address line.
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start gatehoused: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("gatehoused stdout is not piped"));
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        assert!(
            read.is_ok_and(|n| n > 0),
            "gatehoused exited before printing its address"
        );
        let base_url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from gatehoused: {line:?}"))
            .to_owned();
        let port = base_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {base_url:?}"));
        assert!(
            base_url.starts_with("http://127.0.0.1:"),
            "the gateway must listen on 127.0.0.1: {base_url}"
        );
        Self {
            child,
            base_url,
            port,
        }
    }
}

impl Drop for Gatehoused {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port: {e}"))
}

pub mod app;
pub mod desktop;
pub mod peers;
pub mod upstream;
