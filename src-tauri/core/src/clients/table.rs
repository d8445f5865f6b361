//! The MCP clients Gatehouse knows how to set up: where each keeps its MCP servers, per OS, and
//! what an entry for a Streamable HTTP server looks like in it. One row per client; everything
//! else in `clients` is generic over this table.
//!
//! Sources: each client's own documentation of its MCP configuration (Claude Code `claude mcp add
//! --transport http` writes `~/.claude.json`; VS Code `mcp.json` with `servers` and `"type":
//! "http"`; Cursor `~/.cursor/mcp.json`; Windsurf `~/.codeium/windsurf/mcp_config.json` with
//! `serverUrl`; Codex CLI `~/.codex/config.toml` `[mcp_servers.NAME] url`; Gemini CLI
//! `~/.gemini/settings.json` with `httpUrl`; Zed `settings.json` `context_servers`; Claude Desktop
//! `claude_desktop_config.json`, which only starts stdio commands: its entry starts
//! `gatehoused … bridge <slug>`).

use std::path::PathBuf;

use serde_json::{Value, json};

/// The directories a client's config path is relative to (from the environment, or given by a
/// test as a temporary HOME).
#[derive(Debug, Clone)]
pub struct Home {
    pub home: PathBuf,
    /// `~/Library/Application Support` (macOS), `%APPDATA%` (Windows), `$XDG_CONFIG_HOME` or
    /// `~/.config` (Linux).
    pub app_config: PathBuf,
    /// `~/.config` on every OS (clients such as Zed use it on macOS as well).
    pub dot_config: PathBuf,
}

impl Home {
    /// The current user's directories.
    pub fn current() -> Option<Self> {
        let home = dirs::home_dir()?;
        Some(Self::under(home))
    }

    /// The directories of a home at `home`, as this OS lays them out.
    pub fn under(home: PathBuf) -> Self {
        let app_config = if cfg!(target_os = "macos") {
            home.join("Library").join("Application Support")
        } else if cfg!(windows) {
            std::env::var_os("APPDATA")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join("AppData").join("Roaming"))
        } else {
            std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute() && p.starts_with(&home))
                .unwrap_or_else(|| home.join(".config"))
        };
        Self {
            dot_config: home.join(".config"),
            home,
            app_config,
        }
    }
}

/// How a client's config file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON, with comments and trailing commas kept where the client allows them (JSONC).
    Json,
    /// TOML (`toml_edit` keeps comments and layout).
    Toml,
}

/// One client's row.
#[derive(Debug, Clone, Copy)]
pub struct ClientApp {
    /// Stable id used by the CLI and the window (`vscode`, `claude-code`, …).
    pub id: &'static str,
    pub name: &'static str,
    pub format: Format,
    /// The key (JSON) or table (TOML) holding the servers, from the top.
    pub servers_at: &'static [&'static str],
    /// Where the user-level config is.
    pub path: fn(&Home) -> PathBuf,
    /// The entry for a Gatehouse connection; `None` when the client cannot reach it (Claude
    /// Desktop without a bridge command).
    pub entry: fn(&Target<'_>) -> Option<Value>,
    /// Whether the client needs the stdio bridge (Claude Desktop).
    pub needs_bridge: bool,
    /// A folder whose presence means the client is installed, when that is not the config's own
    /// folder (Claude Code keeps its config in the home folder itself).
    pub marker: Option<fn(&Home) -> PathBuf>,
}

/// What an entry points at.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The connection's local URL.
    pub url: &'a str,
    pub slug: &'a str,
    pub port: u16,
    /// How to start `gatehoused` for the stdio bridge: the program and the arguments before
    /// `bridge` (e.g. `--data-dir DIR`), when this Gatehouse has one.
    pub bridge: Option<&'a [String]>,
}

fn http_typed(t: &Target<'_>) -> Option<Value> {
    Some(json!({"type": "http", "url": t.url}))
}

fn url_only(t: &Target<'_>) -> Option<Value> {
    Some(json!({"url": t.url}))
}

/// `gatehoused … bridge <slug> --port <port>` as a stdio command entry.
fn bridge_command(t: &Target<'_>) -> Option<Value> {
    let (program, before) = t.bridge?.split_first()?;
    let mut args: Vec<String> = before.to_vec();
    args.extend([
        "bridge".into(),
        t.slug.into(),
        "--port".into(),
        t.port.to_string(),
    ]);
    Some(json!({"command": program, "args": args}))
}

/// Whether `entry` starts Gatehouse's stdio bridge for `slug`.
pub fn is_bridge_entry(entry: &Value, slug: Option<&str>) -> bool {
    let args: Vec<&str> = entry["args"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let command = entry["command"].as_str().unwrap_or_default();
    let bridged = args.windows(2).find(|w| w[0] == "bridge").map(|w| w[1]);
    command.contains("gatehoused") && bridged.is_some_and(|s| slug.is_none_or(|want| want == s))
}

pub const CLIENTS: &[ClientApp] = &[
    ClientApp {
        id: "claude-code",
        name: "Claude Code",
        format: Format::Json,
        servers_at: &["mcpServers"],
        path: |h| h.home.join(".claude.json"),
        entry: http_typed,
        needs_bridge: false,
        marker: Some(|h| h.home.join(".claude")),
    },
    ClientApp {
        id: "claude-desktop",
        name: "Claude Desktop",
        format: Format::Json,
        servers_at: &["mcpServers"],
        path: |h| {
            h.app_config
                .join("Claude")
                .join("claude_desktop_config.json")
        },
        entry: bridge_command,
        needs_bridge: true,
        marker: None,
    },
    ClientApp {
        id: "vscode",
        name: "VS Code",
        format: Format::Json,
        servers_at: &["servers"],
        path: |h| h.app_config.join("Code").join("User").join("mcp.json"),
        entry: http_typed,
        needs_bridge: false,
        marker: None,
    },
    ClientApp {
        id: "cursor",
        name: "Cursor",
        format: Format::Json,
        servers_at: &["mcpServers"],
        path: |h| h.home.join(".cursor").join("mcp.json"),
        entry: url_only,
        needs_bridge: false,
        marker: None,
    },
    ClientApp {
        id: "windsurf",
        name: "Windsurf",
        format: Format::Json,
        servers_at: &["mcpServers"],
        path: |h| {
            h.home
                .join(".codeium")
                .join("windsurf")
                .join("mcp_config.json")
        },
        entry: |t| Some(json!({"serverUrl": t.url})),
        needs_bridge: false,
        marker: None,
    },
    ClientApp {
        id: "codex",
        name: "Codex CLI",
        format: Format::Toml,
        servers_at: &["mcp_servers"],
        path: |h| h.home.join(".codex").join("config.toml"),
        entry: url_only,
        needs_bridge: false,
        marker: None,
    },
    ClientApp {
        id: "gemini",
        name: "Gemini CLI",
        format: Format::Json,
        servers_at: &["mcpServers"],
        path: |h| h.home.join(".gemini").join("settings.json"),
        entry: |t| Some(json!({"httpUrl": t.url})),
        needs_bridge: false,
        marker: None,
    },
    ClientApp {
        id: "zed",
        name: "Zed",
        format: Format::Json,
        servers_at: &["context_servers"],
        path: |h| {
            if cfg!(windows) {
                h.app_config.join("Zed").join("settings.json")
            } else {
                h.dot_config.join("zed").join("settings.json")
            }
        },
        entry: url_only,
        needs_bridge: false,
        marker: None,
    },
];

/// The client with this id.
pub fn client(id: &str) -> Option<&'static ClientApp> {
    CLIENTS.iter().find(|c| c.id == id)
}

/// The workspace-level VS Code config (`.vscode/mcp.json` in a folder).
pub fn vscode_workspace(folder: &std::path::Path) -> PathBuf {
    folder.join(".vscode").join("mcp.json")
}
