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

use std::ffi::OsString;
use std::path::PathBuf;

use serde_json::{Value, json};

/// The operating systems whose layouts the table knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    /// The OS this build runs on (the BSDs lay out a home like Linux).
    pub const CURRENT: Os = if cfg!(target_os = "macos") {
        Os::MacOs
    } else if cfg!(windows) {
        Os::Windows
    } else {
        Os::Linux
    };
}

/// The directories a client's config path is relative to (from the environment, or given by a
/// test as a temporary HOME).
#[derive(Debug, Clone)]
pub struct Home {
    /// Whose layout this is (a test can lay out another OS's home on this one).
    pub os: Os,
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
        Self::laid_out(Os::CURRENT, home, |name| std::env::var_os(name))
    }

    /// The directories of a home at `home` as `os` lays them out, reading `APPDATA` (Windows) and
    /// `XDG_CONFIG_HOME` (Linux; only when it is inside `home`, so a test's temporary HOME is not
    /// escaped) through `var`.
    pub fn laid_out(os: Os, home: PathBuf, var: impl Fn(&str) -> Option<OsString>) -> Self {
        let app_config = match os {
            Os::MacOs => home.join("Library").join("Application Support"),
            Os::Windows => var("APPDATA")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join("AppData").join("Roaming")),
            Os::Linux => var("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute() && p.starts_with(&home))
                .unwrap_or_else(|| home.join(".config")),
        };
        Self {
            os,
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
            if h.os == Os::Windows {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Where `client` keeps its config on `os`, relative to the home (`~`) or to the OS's
    /// application-config folder, as a `/`-separated string (so one table reads for every OS).
    fn relative(os: Os, client_id: &str) -> String {
        let home = PathBuf::from("/h");
        let appdata = PathBuf::from("/appdata/Roaming");
        let laid = Home::laid_out(os, home.clone(), |name| {
            (name == "APPDATA").then(|| appdata.clone().into_os_string())
        });
        let path = (client(client_id).expect("known client").path)(&laid);
        let (base, rest) = if let Ok(rest) = path.strip_prefix(&appdata) {
            ("%APPDATA%", rest.to_owned())
        } else {
            (
                "~",
                path.strip_prefix(&home).expect("under home").to_owned(),
            )
        };
        let parts: Vec<String> = std::iter::once(base.to_owned())
            .chain(rest.iter().map(|p| p.to_string_lossy().into_owned()))
            .collect();
        parts.join("/")
    }

    /// The paths each client documents, per OS (Claude Desktop: modelcontextprotocol.io "Connect
    /// to local MCP servers"; VS Code: "MCP servers in VS Code", user `mcp.json` in the profile's
    /// User folder; Zed: "Configuring Zed", `~/.config/zed` on macOS and Linux, `%APPDATA%\Zed` on
    /// Windows; the others keep one dot-folder in the home on every OS).
    #[test]
    fn each_client_has_its_documented_path_on_each_os() {
        let expected: &[(&str, [&str; 3])] = &[
            (
                "claude-desktop",
                [
                    "~/.config/Claude/claude_desktop_config.json",
                    "~/Library/Application Support/Claude/claude_desktop_config.json",
                    "%APPDATA%/Claude/claude_desktop_config.json",
                ],
            ),
            (
                "vscode",
                [
                    "~/.config/Code/User/mcp.json",
                    "~/Library/Application Support/Code/User/mcp.json",
                    "%APPDATA%/Code/User/mcp.json",
                ],
            ),
            (
                "zed",
                [
                    "~/.config/zed/settings.json",
                    "~/.config/zed/settings.json",
                    "%APPDATA%/Zed/settings.json",
                ],
            ),
            ("claude-code", ["~/.claude.json"; 3]),
            ("cursor", ["~/.cursor/mcp.json"; 3]),
            ("windsurf", ["~/.codeium/windsurf/mcp_config.json"; 3]),
            ("codex", ["~/.codex/config.toml"; 3]),
            ("gemini", ["~/.gemini/settings.json"; 3]),
        ];
        assert_eq!(
            expected.len(),
            CLIENTS.len(),
            "every client is in the table"
        );
        for (id, [linux, macos, windows]) in expected {
            assert_eq!(relative(Os::Linux, id), *linux, "{id} on Linux");
            assert_eq!(relative(Os::MacOs, id), *macos, "{id} on macOS");
            assert_eq!(relative(Os::Windows, id), *windows, "{id} on Windows");
        }
    }

    #[test]
    fn windows_without_appdata_uses_the_roaming_folder_and_linux_honours_xdg_inside_home() {
        let windows = Home::laid_out(Os::Windows, PathBuf::from("/h"), |_| None);
        assert_eq!(windows.app_config, Path::new("/h/AppData/Roaming"));
        let inside = Home::laid_out(Os::Linux, PathBuf::from("/h"), |name| {
            (name == "XDG_CONFIG_HOME").then(|| "/h/cfg".into())
        });
        assert_eq!(inside.app_config, Path::new("/h/cfg"));
        let outside = Home::laid_out(Os::Linux, PathBuf::from("/h"), |name| {
            (name == "XDG_CONFIG_HOME").then(|| "/elsewhere".into())
        });
        assert_eq!(
            outside.app_config,
            Path::new("/h/.config"),
            "an XDG folder outside the home is not followed"
        );
    }
}
