//! The `dev.gatehouse:` deep link (RFC 8252 §7.1 reverse-DNS private-use scheme). Upstream OAuth
//! callbacks arriving this way are completed by a later issue; for now a link is accepted, counted
//! and logged without its contents (it may carry an authorization code).

use tauri::AppHandle;
use tauri_plugin_deep_link::DeepLinkExt;

pub fn listen(app: &AppHandle) {
    #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
    if let Err(error) = app.deep_link().register_all() {
        tracing::warn!(%error, "cannot register the dev.gatehouse: scheme handler");
    }
    app.deep_link().on_open_url(|event| {
        let schemes: Vec<String> = event.urls().iter().map(|u| u.scheme().to_owned()).collect();
        tracing::info!(?schemes, "deep link received");
    });
}
