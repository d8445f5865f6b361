//! The tray icon: whether the gateway runs and where (or why not), how many clients are authorized,
//! "Open Gatehouse" and "Quit". The icon itself is dimmed while the gateway is not running, so the
//! state shows without opening the menu. Where no tray can be created the app logs it and goes on;
//! closing the window then quits instead of hiding it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gatehouse_core::admin::{self, IpcError};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};

use crate::gateway::GatewaySlot;

const TRAY_PNG: &[u8] = include_bytes!("../../../icons/tray.png");

/// The second line while no gateway runs.
const NO_GATEWAY: &str = "No client can connect";

/// The tray's two information lines, kept to update them, and whether the icon shows a running
/// gateway (it is built that way).
pub struct Tray {
    status: MenuItem<Wry>,
    clients: MenuItem<Wry>,
    running: AtomicBool,
}

/// Creates the tray; returns whether there is one.
pub fn create(app: &AppHandle) -> bool {
    match build(app) {
        Ok(tray) => {
            app.manage(tray);
            refresh(app);
            true
        }
        Err(error) => {
            tracing::warn!(%error, "no tray icon; closing the window will quit Gatehouse");
            false
        }
    }
}

fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let status = MenuItem::with_id(app, "status", "Gateway starting…", false, None::<&str>)?;
    let clients = MenuItem::with_id(app, "clients", "", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Gatehouse", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&status, &clients, &separator, &open, &quit])?;
    let icon = Image::from_bytes(TRAY_PNG)?;
    TrayIconBuilder::with_id("main")
        .icon(icon)
        .tooltip("Gatehouse")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_window(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_window(tray.app_handle());
            }
        })
        .build(app)?;
    Ok(Tray {
        status,
        clients,
        running: AtomicBool::new(true),
    })
}

/// Brings the main window back (from the tray, or on a second launch).
pub fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Re-reads the gateway state and the number of authorized clients into the tray (off the main
/// thread: it reads the store).
pub fn refresh(app: &AppHandle) {
    if app.try_state::<Tray>().is_none() {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let slot = app.try_state::<Arc<GatewaySlot>>().map(|s| s.vault());
        let running = matches!(slot, Some(Ok(_)));
        let (status, clients) = match slot {
            Some(Ok((vault, port))) => {
                let count = admin::authorized_client_count(&vault);
                (
                    format!("Gateway running on 127.0.0.1:{port}"),
                    match count {
                        Ok(1) => "1 client authorized".to_owned(),
                        Ok(n) => format!("{n} clients authorized"),
                        Err(error) => {
                            tracing::warn!(%error, "cannot count authorized clients");
                            String::new()
                        }
                    },
                )
            }
            Some(Err(IpcError::GatewayNotRunning { reason })) => (
                format!("Gateway not running: {reason}"),
                NO_GATEWAY.to_owned(),
            ),
            _ => ("Gateway not running".to_owned(), NO_GATEWAY.to_owned()),
        };
        let Some(tray) = app.try_state::<Tray>() else {
            return;
        };
        let _ = tray.status.set_text(&status);
        let _ = tray.clients.set_text(&clients);
        if let Some(icon) = app.tray_by_id("main") {
            if tray.running.swap(running, Ordering::Relaxed) != running
                && let Err(error) = icon.set_icon(Some(tray_icon(running)))
            {
                tracing::debug!(%error, "cannot change the tray icon");
            }
            let tooltip = format!("{status} · {clients}");
            let _ = icon.set_tooltip(Some(tooltip));
        }
    });
}

/// The tray icon: as drawn while the gateway runs, else grey at half opacity.
fn tray_icon(running: bool) -> Image<'static> {
    let Ok(icon) = Image::from_bytes(TRAY_PNG) else {
        return Image::new_owned(vec![0; 4], 1, 1);
    };
    let (width, height) = (icon.width(), icon.height());
    let mut rgba = icon.rgba().to_vec();
    if !running {
        for pixel in rgba.chunks_exact_mut(4) {
            let grey =
                u8::try_from((u16::from(pixel[0]) + u16::from(pixel[1]) + u16::from(pixel[2])) / 3)
                    .unwrap_or(u8::MAX);
            pixel[..3].fill(grey);
            pixel[3] /= 2;
        }
    }
    Image::new_owned(rgba, width, height)
}
