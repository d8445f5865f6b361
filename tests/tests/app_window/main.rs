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
//!
//! This file launches the app and holds the WebDriver client every test drives it with
//! (`webdriver`, and what the tests read on the page in `page`); the tests are in its modules, by
//! what they check.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse_e2e::{free_port, wait_for};
use serde_json::{Value, json};

use webdriver::AppWindow;

mod client_setup;
mod grant;
mod oauth_connection;
mod page;
mod start_at_login;
mod tabs;
mod webdriver;

/// How long a WebDriver lookup waits for React to render what it looks for.
const RENDER: Duration = Duration::from_secs(30);
/// How long one step of the real MCP client may take.
const STEP: Duration = Duration::from_secs(60);
/// The longest one WebDriver call may take (opening the session launches the app).
const WEBDRIVER_CALL: Duration = Duration::from_secs(120);

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

/// Runs blocking work (the node client, Chromium, the CLI) without stalling the HTTP client's
/// connection tasks on this runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
