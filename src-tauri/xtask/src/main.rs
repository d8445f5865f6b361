//! Developer commands. README.md shows the two that matter:
//! - `cargo xtask run`: install what is missing, build the UI, build and launch the app.
//! - `cargo xtask test`: the same set-up plus the test tools, then every check and test, ending with
//!   a line `N passed, N failed`; the exit code is non-zero on any failure.
//!
//! Also `cargo xtask setup [run|test]`, `cargo xtask bindings` (regenerate the TypeScript types) and
//! `cargo xtask bench` (the proxy benchmark, release build: numbers, never a pass/fail) and
//! `cargo xtask mcpb` (the Claude Desktop extension bundle, `artifacts/gatehouse.mcpb`).
//! No dependencies: this crate must build before anything else is installed.

mod bench;
mod setup;
mod steps;

use std::path::PathBuf;
use std::process::ExitCode;

use setup::Level;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => steps::test(),
        Some("setup") => {
            let level = if args.get(1).map(String::as_str) == Some("run") {
                Level::Run
            } else {
                Level::Test
            };
            setup::setup(level)
        }
        Some("bindings") => steps::bindings(),
        Some("bench") => steps::bench(),
        Some("mcpb") => steps::mcpb(),
        _ => {
            eprintln!("usage: cargo xtask <run|test|setup [run|test]|bindings|bench|mcpb>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask run [-- app args]`: set up, build the UI, then `cargo run` the app.
fn run(extra: &[String]) -> Result<(), String> {
    setup::setup(Level::Run)?;
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        return Err(
            "no display: set DISPLAY or WAYLAND_DISPLAY (or run under xvfb-run) to open the window"
                .into(),
        );
    }
    let mut args = vec!["run", "--package", "gatehouse", "--bin", "gatehouse", "--"];
    args.extend(extra.iter().map(String::as_str));
    steps::command(&cargo(), &args).dir(root()).status_ok()
}

/// The repository root (this crate lives in src-tauri/xtask).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The cargo that runs us.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// The shared target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}
