//! The Gatehouse desktop shell: starts the same gateway as `gatehoused serve` in-process, registers
//! the single-instance and deep-link plugins, and exposes `gatehouse-core::admin` to the window as
//! typed commands. Logic lives in `gatehouse-core`; this crate only wires it to Tauri.

mod commands;
mod deep_link;
mod gateway;

use tauri::Manager;

/// Builds and runs the app; returns when the last window closes.
pub fn run() {
    let app = tauri::Builder::default()
        // Must be the first plugin: a second launch (e.g. a deep link opened while Gatehouse runs)
        // hands its arguments to this instance and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .setup(|app| {
            gateway::start(app.handle());
            deep_link::listen(app.handle());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![commands::gateway_status])
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
