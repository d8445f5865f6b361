//! The `dev.gatehouse:` deep link (RFC 8252 §7.1 reverse-DNS private-use scheme): the second way an
//! upstream sign-in comes back (the first is the gateway's loopback callback).
//!
//! A link reaches the app two ways: as the argument of a second launch, which
//! tauri-plugin-single-instance (with its `deep-link` feature) forwards to the running instance, which
//! then exits; or as the argument that started the app (cold start), read once with `get_current()`.
//! `dev.gatehouse:/oauth/callback?…` is handed to [`admin::complete_deep_link`] with the running
//! gateway's upstream OAuth state (state burned first, RFC 9207 `iss` checked, then the RFC 6749
//! §4.1.3 exchange). The store change it makes reaches the window as the usual
//! change event; the window is shown either way, and a failure also raises a desktop notification
//! saying what failed (the browser shows nothing for a `dev.gatehouse:` link). Any other
//! `dev.gatehouse:` link is ignored. A link may carry an authorization code and a state, so no log
//! line ever contains a link or any part of its query.

use std::sync::Arc;

use gatehouse_core::admin::{self, DeepLinkOutcome};
use tauri::{AppHandle, Manager};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::gateway::GatewaySlot;

pub fn listen(app: &AppHandle) {
    #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
    if let Err(error) = app.deep_link().register_all() {
        tracing::warn!(%error, "cannot register the dev.gatehouse: scheme handler");
    }
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            open(&handle, url.as_str());
        }
    });
    // Cold start: the link that launched the app arrived before the listener above existed.
    match app.deep_link().get_current() {
        Ok(Some(urls)) => {
            for url in urls {
                open(app, url.as_str());
            }
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "cannot read the link that started the app"),
    }
}

/// Completes a sign-in callback link on the running gateway; ignores anything else.
fn open(app: &AppHandle, url: &str) {
    let oauth = app
        .try_state::<Arc<GatewaySlot>>()
        .and_then(|slot| slot.oauth().ok())
        .map(|(oauth, _)| oauth);
    let app = app.clone();
    let url = url.to_owned();
    tauri::async_runtime::spawn(async move {
        match admin::complete_deep_link(oauth.as_deref(), &url).await {
            DeepLinkOutcome::Ignored => {
                tracing::info!("deep link ignored: not a sign-in callback");
                return;
            }
            DeepLinkOutcome::SignedIn { connection_id } => {
                tracing::info!(connection = %connection_id, "sign-in completed through the deep link");
            }
            // The message names what failed (unknown state, iss mismatch...), never the code or state.
            DeepLinkOutcome::Failed(message) => {
                tracing::warn!(%message, "sign-in through the deep link failed");
                crate::events::signin_finished(&app, &format!("Sign-in failed: {message}"));
            }
        }
        crate::events::connections_changed(&app);
        crate::tray::show_window(&app);
    });
}
