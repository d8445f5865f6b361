//! The Gatehouse desktop shell: starts the same gateway as `gatehoused serve` in-process, registers
//! the single-instance, deep-link, notification and autostart plugins, puts an icon in the tray,
//! and exposes `gatehouse-core::admin` to the window as typed commands and events. Logic lives in
//! `gatehouse-core`; this crate only wires it to Tauri.

mod autostart;
mod commands;
mod deep_link;
mod events;
mod gateway;
mod tray;

use std::sync::atomic::{AtomicBool, Ordering};

use tauri::WindowEvent;

/// Whether a tray icon exists to bring a hidden window back.
static HAS_TRAY: AtomicBool = AtomicBool::new(false);

/// Builds and runs the app; returns when the app quits (from the tray, or by closing the window
/// when there is no tray).
pub fn run() {
    let app = tauri::Builder::default()
        // Must be the first plugin: a second launch (e.g. a deep link opened while Gatehouse runs)
        // hands its arguments to this instance and exits. The `deep-link` feature passes a
        // `dev.gatehouse:` argument to the deep-link plugin first, which is how a sign-in callback
        // reaches `deep_link::listen`'s handler.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tray::show_window(app);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(autostart::plugin())
        .setup(|app| {
            gateway::start(app.handle());
            if let Ok(dir) = gatehouse_core::config::resolve_data_dir(None) {
                let saved = gateway::saved_settings(&dir);
                events::apply_theme(app.handle(), saved.theme);
                autostart::refresh(app.handle(), saved.start_at_login);
            }
            deep_link::listen(app.handle());
            events::start(app.handle());
            HAS_TRAY.store(tray::create(app.handle()), Ordering::Relaxed);
            Ok(())
        })
        // Closing the window keeps the gateway running in the tray.
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event
                && HAS_TRAY.load(Ordering::Relaxed)
            {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::gateway_status,
            commands::list_connections,
            commands::add_connection,
            commands::detect_auth,
            commands::list_oauth_templates,
            commands::preview_connection_edit,
            commands::edit_connection,
            commands::grants_at_risk,
            commands::set_connection_enabled,
            commands::remove_connection,
            commands::list_grants,
            commands::revoke_grants,
            commands::list_clients,
            commands::forget_client,
            commands::list_activity,
            commands::get_settings,
            commands::update_settings,
            commands::start_signin,
            commands::sign_out,
            commands::list_pending_requests,
            commands::decide_pending_request,
            commands::list_client_apps,
            commands::preview_client_config,
            commands::write_client_config,
            commands::undo_client_config,
            commands::server_log,
            commands::add_stdio_connection,
            commands::list_import_candidates,
            commands::preview_import,
            commands::import_from_client,
        ])
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|handle, event| {
            if let tauri::RunEvent::Exit = event {
                gateway::stop(handle);
            }
        }),
        Err(error) => {
            eprintln!("gatehouse: cannot start the app: {error}");
            std::process::exit(1);
        }
    }
}
