//! Black-box tests of `gatehoused connections|grants|clients`: what scripts rely on (exit codes,
//! `--json` keys, messages on stderr), and that the commands work beside a running `gatehoused serve`
//! on the same data directory.
//!
//! This file runs `gatehoused` and reads what it prints, for every test; the tests are in its
//! modules, by command.

use std::path::Path;
use std::process::Output;

use gatehouse_e2e::{Gatehoused, gatehoused};
use serde_json::Value;

mod connections;
mod grants_and_clients;
mod oauth_connections;

const SECRET: &str = "sk-cli-canary-0b7e4c51";

fn run(dir: &Path, args: &[&str]) -> Output {
    gatehoused(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gatehoused {args:?}: {e}"))
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "gatehoused {args:?} must succeed; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("stdout is not UTF-8: {e}"))
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let stdout = ok(dir, args);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("gatehoused {args:?} --json printed no JSON ({e}): {stdout}"))
}

/// Runs a command that must fail; returns its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "gatehoused {args:?} must exit 1; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}
