//! Installs what the build and the tests need, and nothing that is already there.
//! Debian/Ubuntu: apt packages (with sudo when not root), `npm ci`, the UI build, and for tests
//! `npm ci` in tests/ (the real MCP peers) and tauri-driver. macOS and Windows: say what to install when something is missing.

use std::path::Path;
use std::process::Command;

use crate::steps::command;
use crate::{cargo, root};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Run,
    Test,
}

/// Debian packages the app build needs (tauri's WebKitGTK stack; libdbus for the Secret Service key store).
const BUILD_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "libwebkit2gtk-4.1-dev",
    "libsoup-3.0-dev",
    "libjavascriptcoregtk-4.1-dev",
    "libdbus-1-dev",
    // The tray icon (tauri `tray-icon`) links libayatana-appindicator3 on Linux.
    "libayatana-appindicator3-dev",
];

/// What the tests add: a virtual display, the WebKit WebDriver, a session bus with a keyring, Chromium.
const TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    // xdg-open and gio open: the desktop's way to a scheme handler (the deep-link test).
    "xdg-utils",
    "libglib2.0-bin",
    "desktop-file-utils",
    "dbus",
    "dbus-x11",
    "gnome-keyring",
    "chromium",
];

/// tauri-driver, pinned: the W3C WebDriver bridge for the app-window test.
const TAURI_DRIVER_VERSION: &str = "2.1.0";

pub fn setup(level: Level) -> Result<(), String> {
    system_packages(level)?;
    node_modules(&root().join("ui"))?;
    build_ui()?;
    if level == Level::Test {
        // The real MCP peers the black-box tests drive (SDK client, mcp-remote, the reference server,
        // playwright-core), pinned in tests/package.json.
        node_modules(&root().join("tests"))?;
    }
    if level == Level::Test && cfg!(target_os = "linux") {
        tauri_driver()?;
    }
    Ok(())
}

fn system_packages(level: Level) -> Result<(), String> {
    if cfg!(target_os = "macos") {
        if !succeeds("xcode-select", &["-p"]) {
            return Err(
                "install the Xcode command line tools first: xcode-select --install".into(),
            );
        }
        return Ok(());
    }
    if cfg!(target_os = "windows") {
        eprintln!(
            "xtask: on Windows the build needs the MSVC build tools and WebView2 (preinstalled on Windows 11)"
        );
        return Ok(());
    }
    if !succeeds("dpkg-query", &["--version"]) {
        eprintln!(
            "xtask: not a Debian/Ubuntu system; install WebKitGTK 4.1, libsoup 3, libdbus and pkg-config development \
             packages with your package manager"
        );
        return Ok(());
    }
    let mut wanted: Vec<&str> = BUILD_PACKAGES.to_vec();
    if level == Level::Test {
        wanted.extend_from_slice(TEST_PACKAGES);
    }
    let missing: Vec<&str> = wanted.into_iter().filter(|p| !dpkg_installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let (program, mut prefix): (&str, Vec<&str>) = if root_user {
        ("apt-get", vec![])
    } else {
        ("sudo", vec!["apt-get"])
    };
    let mut update = prefix.clone();
    update.extend(["update", "-qq"]);
    command(program, &update)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status_ok()?;
    prefix.extend(["install", "-y", "-qq"]);
    prefix.extend(missing.iter().copied());
    command(program, &prefix)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status_ok()
}

/// `npm ci` in `dir` (ui/ or tests/) when its lock file is newer than what is installed.
fn node_modules(dir: &Path) -> Result<(), String> {
    if !succeeds("npm", &["--version"]) {
        return Err("Node.js 20+ with npm is required to build the UI: install it first".into());
    }
    let installed = dir.join("node_modules/.package-lock.json");
    let fresh = std::env::var("CI").is_ok_and(|v| v == "true")
        || newer(&dir.join("package-lock.json"), &installed);
    if fresh {
        command("npm", &["ci", "--no-audit", "--no-fund"])
            .dir(dir)
            .status_ok()?;
    }
    Ok(())
}

/// The UI's packages and its build (ui/dist), without the system packages: what the benchmark's
/// release app embeds.
pub fn ui() -> Result<(), String> {
    node_modules(&root().join("ui"))?;
    build_ui()
}

fn build_ui() -> Result<(), String> {
    command("npm", &["run", "build"])
        .dir(root().join("ui"))
        .status_ok()
}

fn tauri_driver() -> Result<(), String> {
    if crate::steps::tauri_driver_path().is_some() {
        return Ok(());
    }
    eprintln!("xtask: installing tauri-driver {TAURI_DRIVER_VERSION}");
    command(
        &cargo(),
        &[
            "install",
            "tauri-driver",
            "--locked",
            "--version",
            TAURI_DRIVER_VERSION,
        ],
    )
    .status_ok()
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).contains("install ok installed")
        })
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// True when `source` is newer than `stamp`, or `stamp` is missing.
fn newer(source: &Path, stamp: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(source), modified(stamp)) {
        (Some(s), Some(t)) => s > t,
        _ => true,
    }
}
