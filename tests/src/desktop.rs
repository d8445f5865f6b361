//! The desktop around the app, for the app tests that `cargo xtask test` runs under Xvfb and a
//! private D-Bus session: what a Linux desktop shell does with Gatehouse's tray icon, notifications
//! and window, done by the test itself with the same protocols.
//!
//! - [`Desktop`] owns `org.kde.StatusNotifierWatcher` (the StatusNotifierItem protocol, which
//!   libayatana-appindicator speaks for Tauri's tray icon) and `org.freedesktop.Notifications` (the
//!   Desktop Notifications Specification 1.2, which tauri-plugin-notification speaks) on the session
//!   bus. It records what the app registers and shows, reads the tray menu through
//!   `com.canonical.dbusmenu` and clicks its items as a panel would.
//! - [`X11`] finds the app's top-level window on the X display and asks it to close the way a
//!   window manager does (ICCCM §4.2.8: a `WM_PROTOCOLS` / `WM_DELETE_WINDOW` client message), and
//!   reads whether it is mapped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, MapState, Window,
};
use x11rb::rust_connection::RustConnection;
use zbus::blocking::Connection;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{ObjectPath, OwnedValue, Structure, Value};

/// A notification as the app sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub app_name: String,
    pub summary: String,
    pub body: String,
}

/// A tray menu entry as a panel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    pub separator: bool,
}

#[derive(Debug, Default)]
struct Seen {
    /// Registered status-notifier items: (bus name, object path).
    items: Vec<(String, String)>,
    notifications: Vec<Notification>,
}

type Shared = Arc<Mutex<Seen>>;

fn lock(seen: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Watcher {
    seen: Shared,
}

/// The watcher side of the StatusNotifierItem protocol, with a host registered (a panel is there).
#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    /// An item registers with its object path (libayatana-appindicator) or its bus name.
    async fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) {
        let sender = header.sender().map(ToString::to_string).unwrap_or_default();
        let (name, path) = if service.starts_with('/') {
            (sender, service.to_owned())
        } else {
            (service.to_owned(), "/StatusNotifierItem".to_owned())
        };
        let registered = format!("{name}{path}");
        lock(&self.seen).items.push((name, path));
        let _ = Self::status_notifier_item_registered(&emitter, &registered).await;
    }

    async fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    async fn registered_status_notifier_items(&self) -> Vec<String> {
        lock(&self.seen)
            .items
            .iter()
            .map(|(name, path)| format!("{name}{path}"))
            .collect()
    }

    #[zbus(property)]
    async fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    async fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(
        emitter: &SignalEmitter<'_>,
        service: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_host_registered(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
}

struct Notifications {
    seen: Shared,
}

/// A notification server that shows nothing and remembers everything.
#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: &str,
        _replaces_id: u32,
        _app_icon: &str,
        summary: &str,
        body: &str,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut seen = lock(&self.seen);
        seen.notifications.push(Notification {
            app_name: app_name.to_owned(),
            summary: summary.to_owned(),
            body: body.to_owned(),
        });
        u32::try_from(seen.notifications.len()).unwrap_or(u32::MAX)
    }

    async fn close_notification(&self, _id: u32) {}

    async fn get_capabilities(&self) -> Vec<String> {
        vec!["body".to_owned()]
    }

    async fn get_server_information(&self) -> (String, String, String, String) {
        (
            "gatehouse-e2e".to_owned(),
            "gatehouse".to_owned(),
            "0.1.0".to_owned(),
            "1.2".to_owned(),
        )
    }
}

/// The watcher and the notification server, on the session bus of `DBUS_SESSION_BUS_ADDRESS`.
pub struct Desktop {
    connection: Connection,
    seen: Shared,
}

impl Desktop {
    /// Takes both well-known names; start it before the app, which looks for them at launch.
    pub fn start() -> Self {
        let seen = Shared::default();
        let connection = zbus::blocking::connection::Builder::session()
            .and_then(|b| b.name("org.kde.StatusNotifierWatcher"))
            .and_then(|b| b.name("org.freedesktop.Notifications"))
            .and_then(|b| b.serve_at("/StatusNotifierWatcher", Watcher { seen: seen.clone() }))
            .and_then(|b| {
                b.serve_at(
                    "/org/freedesktop/Notifications",
                    Notifications { seen: seen.clone() },
                )
            })
            .and_then(zbus::blocking::connection::Builder::build)
            .unwrap_or_else(|e| {
                panic!("cannot serve the tray watcher and notifications on the session bus: {e}")
            });
        Self { connection, seen }
    }

    /// Every notification shown so far.
    pub fn notifications(&self) -> Vec<Notification> {
        lock(&self.seen).notifications.clone()
    }

    /// The first registered tray item: (bus name, object path).
    pub fn tray_item(&self) -> Option<(String, String)> {
        lock(&self.seen).items.first().cloned()
    }

    /// The tray item's menu, top level, as the panel would draw it; `None` until an item is
    /// registered and answers.
    pub fn tray_menu(&self) -> Option<Vec<MenuEntry>> {
        let (name, menu) = self.menu_address()?;
        let reply = self
            .connection
            .call_method(
                Some(name.as_str()),
                menu.as_str(),
                Some("com.canonical.dbusmenu"),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .ok()?;
        let (_revision, root): (u32, LayoutNode) = reply.body().deserialize().ok()?;
        root.2.iter().map(menu_entry).collect()
    }

    /// Clicks the top-level menu entry labelled `label` (`com.canonical.dbusmenu.Event`).
    pub fn click(&self, label: &str) {
        let entry = self
            .tray_menu()
            .and_then(|menu| menu.into_iter().find(|e| e.label == label))
            .unwrap_or_else(|| panic!("no tray menu entry {label:?}: {:?}", self.tray_menu()));
        let (name, menu) = self
            .menu_address()
            .unwrap_or_else(|| panic!("the tray item went away"));
        self.connection
            .call_method(
                Some(name.as_str()),
                menu.as_str(),
                Some("com.canonical.dbusmenu"),
                "Event",
                &(entry.id, "clicked", Value::from(0i32), 0u32),
            )
            .unwrap_or_else(|e| panic!("clicking {label:?} in the tray menu failed: {e}"));
    }

    /// A property of the tray item (`org.kde.StatusNotifierItem`), as a string.
    pub fn tray_property(&self, property: &str) -> Option<String> {
        String::try_from(self.item_property(property)?).ok()
    }

    fn item_property(&self, property: &str) -> Option<OwnedValue> {
        let (name, path) = self.tray_item()?;
        let reply = self
            .connection
            .call_method(
                Some(name.as_str()),
                path.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &("org.kde.StatusNotifierItem", property),
            )
            .ok()?;
        reply.body().deserialize().ok()
    }

    /// The tray icon's pixels as the host would draw them: the PNG file the item names in
    /// `IconName` (libayatana-appindicator takes icons as files), decoded to RGBA.
    pub fn tray_icon_rgba(&self) -> Option<Vec<[u8; 4]>> {
        let path = self.tray_property("IconName")?;
        let file = std::fs::File::open(&path).ok()?;
        let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
        let mut reader = decoder.read_info().ok()?;
        let mut buffer = vec![0; reader.output_buffer_size()?];
        let info = reader.next_frame(&mut buffer).ok()?;
        if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
            return None;
        }
        Some(
            buffer[..info.buffer_size()]
                .chunks_exact(4)
                .map(|p| [p[0], p[1], p[2], p[3]])
                .collect(),
        )
    }

    /// The bus name of the tray item and the object path of its menu.
    fn menu_address(&self) -> Option<(String, String)> {
        let (name, _) = self.tray_item()?;
        let menu = ObjectPath::try_from(self.item_property("Menu")?).ok()?;
        Some((name, menu.to_string()))
    }
}

/// A `com.canonical.dbusmenu` layout node, `(ia{sv}av)`: id, properties, children.
type LayoutNode = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

/// One `(ia{sv}av)` layout node.
fn menu_entry(node: &OwnedValue) -> Option<MenuEntry> {
    let structure = Structure::try_from(node.try_clone().ok()?).ok()?;
    let [id, properties, _children] = structure.fields() else {
        return None;
    };
    let Value::I32(id) = id else { return None };
    let properties: HashMap<String, OwnedValue> = match properties {
        Value::Dict(dict) => HashMap::try_from(dict.try_clone().ok()?).ok()?,
        _ => return None,
    };
    let text = |key: &str| {
        properties
            .get(key)
            .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
    };
    let enabled = properties
        .get("enabled")
        .and_then(|v| bool::try_from(v).ok())
        .unwrap_or(true);
    Some(MenuEntry {
        id: *id,
        label: text("label").unwrap_or_default().replace('_', ""),
        enabled,
        separator: text("type").as_deref() == Some("separator"),
    })
}

/// The X display of `DISPLAY`, as a window manager sees it.
pub struct X11 {
    connection: RustConnection,
    root: Window,
    wm_protocols: Atom,
    wm_delete_window: Atom,
    net_wm_name: Atom,
    utf8_string: Atom,
}

impl X11 {
    pub fn connect() -> Self {
        let (connection, screen) =
            x11rb::connect(None).unwrap_or_else(|e| panic!("cannot open the X display: {e}"));
        let root = connection.setup().roots[screen].root;
        let atom = |name: &str| {
            connection
                .intern_atom(false, name.as_bytes())
                .ok()
                .and_then(|cookie| cookie.reply().ok())
                .map(|reply| reply.atom)
                .unwrap_or_else(|| panic!("cannot intern the atom {name}"))
        };
        let (wm_protocols, wm_delete_window, net_wm_name, utf8_string) = (
            atom("WM_PROTOCOLS"),
            atom("WM_DELETE_WINDOW"),
            atom("_NET_WM_NAME"),
            atom("UTF8_STRING"),
        );
        Self {
            connection,
            root,
            wm_protocols,
            wm_delete_window,
            net_wm_name,
            utf8_string,
        }
    }

    /// Top-level windows titled `title` (`_NET_WM_NAME`, else `WM_NAME`).
    pub fn windows_titled(&self, title: &str) -> Vec<Window> {
        let children = self
            .connection
            .query_tree(self.root)
            .ok()
            .and_then(|cookie| cookie.reply().ok())
            .map(|tree| tree.children)
            .unwrap_or_default();
        children
            .into_iter()
            .filter(|&window| {
                let name = |property: Atom, kind: Atom| {
                    self.connection
                        .get_property(false, window, property, kind, 0, 1024)
                        .ok()
                        .and_then(|cookie| cookie.reply().ok())
                        .map(|reply| String::from_utf8_lossy(&reply.value).into_owned())
                        .filter(|name| !name.is_empty())
                };
                name(self.net_wm_name, self.utf8_string)
                    .or_else(|| name(AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()))
                    .is_some_and(|name| name == title)
            })
            .collect()
    }

    /// Whether `window` is mapped and viewable (shown).
    pub fn is_shown(&self, window: Window) -> bool {
        self.connection
            .get_window_attributes(window)
            .ok()
            .and_then(|cookie| cookie.reply().ok())
            .is_some_and(|attributes| attributes.map_state == MapState::VIEWABLE)
    }

    /// Asks `window` to close, as a window manager's close button does.
    pub fn request_close(&self, window: Window) {
        let event = ClientMessageEvent::new(
            32,
            window,
            self.wm_protocols,
            [self.wm_delete_window, x11rb::CURRENT_TIME, 0, 0, 0],
        );
        self.connection
            .send_event(false, window, EventMask::NO_EVENT, event)
            .map_err(|e| e.to_string())
            .and_then(|_| self.connection.flush().map_err(|e| e.to_string()))
            .unwrap_or_else(|e| panic!("cannot send WM_DELETE_WINDOW: {e}"));
    }
}
