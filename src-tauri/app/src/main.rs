// Keep a console window from opening next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // A client config can start the app as Gatehouse's stdio bridge (Claude Desktop): that runs
    // headless and never reaches the single-instance handover or a window.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(bridge) = gatehouse_core::bridge::BridgeArgs::parse(&args) {
        // Gatehouse not running: this program is the app, so the bridge starts it.
        let app = gatehouse_core::bridge::app_to_start(std::env::current_exe().ok());
        if let Err(error) = gatehouse_core::bridge::run_standalone(&bridge, app.as_deref()) {
            eprintln!("gatehouse bridge: {error}");
            std::process::exit(1);
        }
        return;
    }
    gatehouse_app::run();
}
