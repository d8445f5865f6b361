//! Backend → window events. The core's store watch (in-process events and writes by `gatehoused`
//! in other processes) becomes `gatehouse://changed {what}`; a consent request becomes
//! `gatehouse://consent-requested {client_name, connection_name}` and a desktop notification.
//! The window pulls current state after it starts listening: events sent before that are lost.

use std::sync::Arc;

use gatehouse_core::admin::Settings;
use gatehouse_core::admin::{ChangeKind, Changed, ConsentRequested, Notice, POLL_PERIOD, Theme};
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::gateway::GatewaySlot;

/// The event names of the IPC surface (`admin::ipc_surface`).
pub const CHANGED: &str = gatehouse_core::admin::CHANGED_EVENT;
pub const CONSENT_REQUESTED: &str = gatehouse_core::admin::CONSENT_REQUESTED_EVENT;

/// Starts forwarding store changes to the window (nothing to watch when the gateway is down).
pub fn start(app: &AppHandle) {
    let Some(slot) = app.try_state::<Arc<GatewaySlot>>() else {
        return;
    };
    let Ok((vault, _)) = slot.vault() else {
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let store = vault.store().clone();
        let watched = store
            .watch(POLL_PERIOD, |notice| match notice {
                Notice::Changed(what) => changed(&app, what),
                Notice::ConsentRequested(request) => consent_requested(&app, &request),
            })
            .await;
        if let Err(error) = watched {
            tracing::error!(%error, "the store watch stopped; the window will not update live");
        }
    });
}

fn changed(app: &AppHandle, what: ChangeKind) {
    if let Err(error) = app.emit(CHANGED, Changed { what }) {
        tracing::warn!(%error, "cannot emit {CHANGED}");
    }
    if what == ChangeKind::Grants {
        crate::tray::refresh(app);
    }
}

fn consent_requested(app: &AppHandle, request: &ConsentRequested) {
    if let Err(error) = app.emit(CONSENT_REQUESTED, request) {
        tracing::warn!(%error, "cannot emit {CONSENT_REQUESTED}");
    }
    let client = request.client_name.as_deref().map_or_else(
        || "An unverified MCP client".to_owned(),
        |n| format!("\u{201c}{n}\u{201d}"),
    );
    let body = format!(
        "{client} asks to use {}: approve or deny in your browser or under Requests in Gatehouse",
        request.connection_name
    );
    if let Err(error) = app
        .notification()
        .builder()
        .title("Gatehouse")
        .body(body)
        .show()
    {
        tracing::warn!(%error, "cannot show the consent notification");
    }
}

/// Says how a sign-in that came back through the deep link ended, as a desktop notification: the
/// browser shows nothing for a `dev.gatehouse:` link, so this is where a failure is seen. `text` names
/// what failed (unknown or expired state, issuer mismatch, the server's refusal), never a code or state.
pub fn signin_finished(app: &AppHandle, text: &str) {
    if let Err(error) = app
        .notification()
        .builder()
        .title("Gatehouse")
        .body(text)
        .show()
    {
        tracing::warn!(%error, "cannot show the sign-in notification");
    }
}

/// Tells the window the connections changed (a deep-link sign-in finished, well or not: a failure
/// writes nothing the store watch reports).
pub fn connections_changed(app: &AppHandle) {
    changed(app, ChangeKind::Connections);
}

/// Applies what takes effect at once after settings are saved (the theme, start at login) and
/// tells the window.
pub fn settings_saved(app: &AppHandle, settings: &Settings) {
    apply_theme(app, settings.theme);
    crate::autostart::apply(app, settings.start_at_login);
    if let Err(error) = app.emit(
        CHANGED,
        Changed {
            what: ChangeKind::Settings,
        },
    ) {
        tracing::warn!(%error, "cannot emit {CHANGED}");
    }
}

/// Sets the window's theme; the webview's `prefers-color-scheme` follows it, and the UI's CSS
/// follows that. `System` hands the choice back to the desktop.
pub fn apply_theme(app: &AppHandle, theme: Theme) {
    let theme = match theme {
        Theme::System => None,
        Theme::Light => Some(tauri::Theme::Light),
        Theme::Dark => Some(tauri::Theme::Dark),
    };
    if let Some(window) = app.get_webview_window("main")
        && let Err(error) = window.set_theme(theme)
    {
        tracing::warn!(%error, "cannot set the window theme");
    }
}
