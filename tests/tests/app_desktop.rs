//! The app on a desktop: the real debug binary under Xvfb and a private D-Bus session, with the
//! desktop shell's side played by the test (`gatehouse_e2e::desktop`): a status-notifier watcher
//! that the tray icon registers with, a notification server, and the window manager's close
//! request. Run by `cargo xtask test`; ignored by a plain `cargo test`.
//!
//! `the_tray_tells_the_gateway_and_its_clients_and_closing_keeps_it_running` covers the
//! desktop habits: the tray names the gateway's address and how many clients are authorized
//! (and follows a real approval live), a consent request from a real MCP client raises a desktop
//! notification naming the client as it reported itself and the connection, closing the window
//! hides it while the gateway keeps serving, the tray's "Open Gatehouse" brings it back and its
//! "Quit" ends the app and its gateway.
//!
//! `a_gateway_that_cannot_start_is_said_in_the_tray`: with its port taken, the app stays up and its
//! tray says why the gateway is not running, with the icon greyed out.

use std::time::Duration;

use gatehouse_e2e::app::{AppHome, read};
use gatehouse_e2e::desktop::{Desktop, MenuEntry, X11};
use gatehouse_e2e::peers::{Everything, NodeProcess, add_connection, consent, query_param};
use gatehouse_e2e::wait_for;

const STEP: Duration = Duration::from_secs(60);
const CLIENT_NAME: &str = "Tray Test Client";

fn labels(menu: &[MenuEntry]) -> Vec<&str> {
    menu.iter()
        .filter(|e| !e.separator)
        .map(|e| e.label.as_str())
        .collect()
}

/// Waits until the tray menu's entries are `expected` (labels, in order, separators left out).
fn wait_for_menu(desktop: &Desktop, expected: &[&str], why: &str) -> Vec<MenuEntry> {
    wait_for(Duration::from_secs(20), || {
        desktop.tray_menu().filter(|menu| labels(menu) == expected)
    })
    .unwrap_or_else(|| panic!("{why}: the tray menu is {:?}", desktop.tray_menu()))
}

fn health(base_url: &str) -> bool {
    gatehouse_e2e::upstream::block_on(async {
        reqwest::Client::new()
            .get(format!("{base_url}/health"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
    })
    .is_ok_and(|r| r.status().is_success())
}

#[test]
#[ignore = "needs the app binary, Xvfb and a D-Bus session: run through `cargo xtask test`"]
fn the_tray_tells_the_gateway_and_its_clients_and_closing_keeps_it_running() {
    let desktop = Desktop::start();
    let everything = Everything::start();
    let home = AppHome::new();
    add_connection(
        &home.data_dir,
        "everything",
        "Everything",
        &everything.mcp_url(),
    );
    let mut app = home.launch("desktop", &[]);
    let out = || read(&home.output_file("desktop"));

    let item = wait_for(Duration::from_secs(20), || desktop.tray_item());
    assert!(
        item.is_some(),
        "the app must register a tray icon with the status-notifier watcher:\n{}",
        out()
    );
    let coloured = desktop.tray_icon_rgba().is_some_and(|pixels| {
        pixels
            .iter()
            .any(|[r, g, b, a]| *a > 128 && (r != g || g != b))
    });
    assert!(coloured, "a running gateway shows the icon in colour");
    let gateway_line = format!("Gateway running on 127.0.0.1:{}", home.port);
    let menu = wait_for_menu(
        &desktop,
        &[
            &gateway_line,
            "0 clients authorized",
            "Open Gatehouse",
            "Quit",
        ],
        "the tray must say where the gateway runs and that no client is authorized",
    );
    assert!(
        menu.iter()
            .filter(|e| e.label == gateway_line || e.label.ends_with("authorized"))
            .all(|e| !e.enabled),
        "the two state lines are information, not actions: {menu:?}"
    );

    // A real MCP client asks: the consent request raises a notification, the approval counts.
    let local_url = format!("{}/mcp/everything", home.base_url());
    let mut client = NodeProcess::spawn(
        "sdk-client.mjs",
        &[&local_url, "--client-name", CLIENT_NAME],
    );
    let authorize = client.expect_authorize(STEP);
    // The page the browser opens is the consent request.
    let approved = consent(&authorize, "approve", "desktop-tray");
    assert!(
        approved
            .final_url
            .as_deref()
            .is_some_and(|u| query_param(u, "code").is_some()),
        "approve must redirect with a code: {}",
        approved.report
    );
    let notified = wait_for(Duration::from_secs(20), || {
        desktop
            .notifications()
            .into_iter()
            .find(|n| n.body.contains(CLIENT_NAME))
    })
    .unwrap_or_else(|| {
        panic!(
            "a consent request must raise a desktop notification; seen {:?}\n{}",
            desktop.notifications(),
            out()
        )
    });
    assert_eq!(
        (notified.summary.as_str(), notified.body.as_str()),
        (
            "Gatehouse",
            "\u{201c}Tray Test Client\u{201d} asks to use Everything: approve or deny in your browser or under Requests in Gatehouse"
        ),
        "the notification names the client as it reported itself, in quotes, and the connection"
    );
    client.expect_marker("READY", STEP);
    wait_for_menu(
        &desktop,
        &[
            &gateway_line,
            "1 client authorized",
            "Open Gatehouse",
            "Quit",
        ],
        "the tray must count the approved client without a restart",
    );

    // Closing the window hides it; the gateway goes on serving the client.
    let x11 = X11::connect();
    let window = wait_for(Duration::from_secs(20), || {
        x11.windows_titled("Gatehouse")
            .into_iter()
            .find(|&w| x11.is_shown(w))
    })
    .unwrap_or_else(|| panic!("no shown top-level window titled Gatehouse:\n{}", out()));
    x11.request_close(window);
    let hidden = wait_for(Duration::from_secs(20), || {
        (!x11.is_shown(window)).then_some(())
    });
    assert!(hidden.is_some(), "closing must hide the window:\n{}", out());
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        app.is_running(),
        "closing the window must not quit the app:\n{}",
        out()
    );
    assert!(
        health(&home.base_url()),
        "the gateway keeps serving with the window closed"
    );
    client.send("CALL");
    let called = client.expect_step("call", STEP);
    assert_eq!(
        called["ok"], true,
        "the client's call goes through with the window closed: {called}"
    );

    // The tray brings the window back, and quits.
    desktop.click("Open Gatehouse");
    let shown = wait_for(Duration::from_secs(20), || {
        x11.is_shown(window).then_some(())
    });
    assert!(
        shown.is_some(),
        "Open Gatehouse must show the window again:\n{}",
        out()
    );
    desktop.click("Quit");
    let exited = wait_for(Duration::from_secs(20), || {
        app.child.try_wait().ok().flatten()
    });
    let status = exited.unwrap_or_else(|| panic!("Quit must end the app:\n{}", out()));
    assert!(
        status.success(),
        "Quit ends the app cleanly: {status}\n{}",
        out()
    );
    assert!(!health(&home.base_url()), "the gateway stops with the app");
}

#[test]
#[ignore = "needs the app binary, Xvfb and a D-Bus session: run through `cargo xtask test`"]
fn a_gateway_that_cannot_start_is_said_in_the_tray() {
    let desktop = Desktop::start();
    let home = AppHome::new();
    let _taken = std::net::TcpListener::bind(("127.0.0.1", home.port))
        .unwrap_or_else(|e| panic!("cannot take port {}: {e}", home.port));
    let mut app = gatehouse_e2e::app::RunningApp {
        child: home
            .command("blocked", &[])
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the app: {e}")),
    };
    let out = || read(&home.output_file("blocked"));
    let menu = wait_for(Duration::from_secs(30), || {
        desktop.tray_menu().filter(|m| {
            m.first()
                .is_some_and(|e| e.label.starts_with("Gateway not running"))
        })
    })
    .unwrap_or_else(|| {
        panic!(
            "the tray must say the gateway is not running: {:?}\n{}",
            desktop.tray_menu(),
            out()
        )
    });
    let expected = format!(
        "Gateway not running: cannot listen on 127.0.0.1:{}: Address already in use (os error 98)",
        home.port
    );
    assert_eq!(
        labels(&menu),
        [
            expected.as_str(),
            "No client can connect",
            "Open Gatehouse",
            "Quit"
        ],
        "the tray says why, in the words the window's status line uses"
    );
    let dimmed = wait_for(Duration::from_secs(10), || {
        desktop.tray_icon_rgba().filter(|pixels| {
            pixels
                .iter()
                .all(|[r, g, b, a]| r == g && g == b && *a <= 128)
        })
    });
    assert!(
        dimmed.is_some_and(|pixels| pixels.iter().any(|p| p[3] > 0)),
        "the icon itself turns grey and faint while no gateway runs"
    );
    assert!(app.is_running(), "the app stays up to say why:\n{}", out());
}
