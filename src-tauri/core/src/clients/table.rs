//! The MCP clients Gatehouse knows how to set up: where each keeps its MCP servers, per OS, and
//! what an entry for a Streamable HTTP server looks like in it. One row per client; everything
//! else in `clients` is generic over this table.
//!
//! Sources: each client's own documentation of its MCP configuration (Claude Code `claude mcp add
//! --transport http` writes `~/.claude.json`; VS Code `mcp.json` with `servers` and `"type":
//! "http"`; Cursor `~/.cursor/mcp.json`; Windsurf `~/.codeium/windsurf/mcp_config.json` with
//! `serverUrl`; Codex CLI `~/.codex/config.toml` `[mcp_servers.NAME] url`; Gemini CLI
//! `~/.gemini/settings.json` with `httpUrl`; Zed `settings.json` `context_servers`; Claude Desktop
//! `claude_desktop_config.json`, which only starts stdio commands).

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
    /// The entry for a Gatehouse URL; `None` when the client cannot reach an HTTP server itself.
    pub entry: fn(&str) -> Option<Value>,
    /// Whether the client needs the stdio bridge (Claude Desktop).
    pub needs_bridge: bool,
    /// A folder whose presence means the client is installed, when that is not the config's own
    /// folder (Claude Code keeps its config in the home folder itself).
    pub marker: Option<fn(&Home) -> PathBuf>,
}

fn http_typed(url: &str) -> Option<Value> {
    Some(json!({"type": "http", "url": url}))
}

fn url_only(url: &str) -> Option<Value> {
    Some(json!({"url": url}))
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
        entry: |_| None,
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
        entry: |url| Some(json!({"serverUrl": url})),
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
        entry: |url| Some(json!({"httpUrl": url})),
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
