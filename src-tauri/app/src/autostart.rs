//! "Start Gatehouse when I log in": the saved `start_at_login` setting made real with
//! tauri-plugin-autostart (a Launch Agent on macOS, the `Run` registry value on Windows, an XDG
//! autostart `Gatehouse.desktop` on Linux, which auto-launch 0.6 writes under `$HOME/.config/autostart`).
//! The window never calls the plugin's own commands, so the capability grants none of them.

use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_autostart::AutoLaunchManager;

/// The name of the login entry (and of the `.desktop` file on Linux).
const ENTRY_NAME: &str = "Gatehouse";

pub fn plugin() -> TauriPlugin<Wry> {
    tauri_plugin_autostart::Builder::new()
        .app_name(ENTRY_NAME)
        .build()
}

/// Registers or removes the login entry as `enabled` says. A failure is logged, not returned: the
/// setting is saved either way, and the next save tries again.
pub fn apply(app: &AppHandle, enabled: bool) {
    let Some(manager) = app.try_state::<AutoLaunchManager>() else {
        tracing::warn!("start at login is unavailable: the autostart plugin did not start");
        return;
    };
    if manager.is_enabled().is_ok_and(|current| current == enabled) {
        return;
    }
    let changed = if enabled {
        manager.enable()
    } else {
        manager.disable()
    };
    match changed {
        Ok(()) => tracing::info!(enabled, "start at login updated"),
        Err(error) => tracing::warn!(%error, enabled, "cannot change start at login"),
    }
}

/// At launch: when start at login is on, writes the login entry again so it names this binary
/// (an app that was moved or updated would otherwise leave an entry pointing at the old path).
pub fn refresh(app: &AppHandle, enabled: bool) {
    if !enabled {
        return;
    }
    let Some(manager) = app.try_state::<AutoLaunchManager>() else {
        return;
    };
    if let Err(error) = manager.enable() {
        tracing::warn!(%error, "cannot refresh the start-at-login entry");
    }
}
