//! The IPC surface, declared once: every Tauri command the window may invoke (its arguments and its
//! answer) and every event it may hear (its name and payload). `admin::bindings` generates
//! `ui/src/api/bindings/ipc.ts` from it, so each call the window makes is type-checked against the
//! command it reaches; `tests/architecture.rs` checks that the app's `commands.rs` and its
//! `generate_handler!` list declare exactly these commands, argument for argument, and that its
//! events use these names. Errors are [`IpcError`](super::IpcError), generated with the DTOs.
//!
//! Why declared here and not generated from the app by tauri-specta: the DTOs are typed with
//! ts-rs, which specta would duplicate on every type, and the core must not depend on tauri. The
//! app's command functions stay hand-written (they are the thin shell), checked against this list.

use ts_rs::{Config, TS};

use super::{
    ActivityView, AuthDetection, ClientConfigPreview, ClientConfigWritten, ClientForgotten,
    ClientView, ConnectionChange, ConnectionChangesRequest, ConnectionRemoved, ConnectionView,
    DetectedClient, EditPreview, GatewayStatus, GrantView, GrantsRevoked, ImportCandidate,
    ImportPreview, ImportResult, NewConnectionRequest, NewStdioConnectionRequest,
    OAuthTemplateView, PendingRequestView, RequestDecided, ServerLog, Settings, SignedOut,
    SigninCallback, SigninStarted,
};
use crate::store::watch::{Changed, ConsentRequested};

/// The event the window refreshes on: something in the store changed (`Changed { what }`).
pub const CHANGED_EVENT: &str = "gatehouse://changed";
/// The event of a consent page opened in the browser (`ConsentRequested`).
pub const CONSENT_REQUESTED_EVENT: &str = "gatehouse://consent-requested";

/// A Rust type as the command declares it and as TypeScript sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpcType {
    /// As written in the declaration (compared, whitespace aside, with the app's source).
    pub rust: &'static str,
    pub ts: String,
}

/// One argument of a command (Tauri passes it by its camelCase name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpcArg {
    pub name: &'static str,
    pub ty: IpcType,
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpcCommand {
    pub name: &'static str,
    pub args: Vec<IpcArg>,
    pub returns: IpcType,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpcEvent {
    pub name: &'static str,
    pub payload: IpcType,
}

/// The TypeScript name of `T`. JSON has no 64-bit integers: ts-rs says `bigint` for `u64`, but
/// what arrives through Tauri's JSON is a `number`.
fn ts<T: TS>(cfg: &Config) -> String {
    T::name(cfg).replace("bigint", "number")
}

macro_rules! commands {
    ($( $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $ret:ty ; )*) => {
        /// Every command, in the order the app registers them.
        pub fn ipc_commands() -> Vec<IpcCommand> {
            let cfg = Config::new();
            vec![$(IpcCommand {
                name: stringify!($name),
                args: vec![$(IpcArg {
                    name: stringify!($arg),
                    ty: IpcType { rust: stringify!($ty), ts: ts::<$ty>(&cfg) },
                }),*],
                returns: IpcType { rust: stringify!($ret), ts: ts::<$ret>(&cfg) },
            }),*]
        }
    };
}

commands! {
    gateway_status() -> GatewayStatus;
    list_connections() -> Vec<ConnectionView>;
    add_connection(input: NewConnectionRequest) -> ConnectionView;
    detect_auth(url: String, legacy: bool) -> AuthDetection;
    list_oauth_templates() -> Vec<OAuthTemplateView>;
    preview_connection_edit(key: String, changes: ConnectionChangesRequest) -> EditPreview;
    edit_connection(key: String, changes: ConnectionChangesRequest) -> ConnectionChange;
    grants_at_risk(key: String) -> u64;
    set_connection_enabled(key: String, enabled: bool) -> ConnectionChange;
    remove_connection(key: String) -> ConnectionRemoved;
    list_grants(include_inactive: bool) -> Vec<GrantView>;
    revoke_grants(ids: Vec<String>) -> GrantsRevoked;
    list_clients() -> Vec<ClientView>;
    forget_client(client_id: String) -> ClientForgotten;
    list_activity(limit: u32) -> Vec<ActivityView>;
    get_settings() -> Settings;
    update_settings(settings: Settings) -> Settings;
    start_signin(slug_or_id: String, callback: SigninCallback) -> SigninStarted;
    sign_out(slug: String) -> SignedOut;
    list_pending_requests() -> Vec<PendingRequestView>;
    decide_pending_request(id: String, approve: bool, tools: Option<Vec<String>>) -> RequestDecided;
    list_client_apps() -> Vec<DetectedClient>;
    preview_client_config(client: String, key: String, workspace: Option<String>) -> ClientConfigPreview;
    write_client_config(client: String, key: String, workspace: Option<String>, diff: String) -> ClientConfigWritten;
    undo_client_config(client: String) -> ClientConfigWritten;
    server_log(key: String) -> ServerLog;
    add_stdio_connection(input: NewStdioConnectionRequest) -> ConnectionView;
    list_import_candidates(client: String) -> Vec<ImportCandidate>;
    preview_import(client: String, server: String) -> ImportPreview;
    import_from_client(client: String, server: String, diff: String) -> ImportResult;
}

/// Every event the app emits.
pub fn ipc_events() -> Vec<IpcEvent> {
    let cfg = Config::new();
    vec![
        IpcEvent {
            name: CHANGED_EVENT,
            payload: IpcType {
                rust: "Changed",
                ts: ts::<Changed>(&cfg),
            },
        },
        IpcEvent {
            name: CONSENT_REQUESTED_EVENT,
            payload: IpcType {
                rust: "ConsentRequested",
                ts: ts::<ConsentRequested>(&cfg),
            },
        },
    ]
}

/// `snake_case` → `camelCase`, as Tauri names command arguments on the JavaScript side.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `ui/src/api/bindings/ipc.ts`: the command and event maps, importing the DTO bindings it names.
pub fn typescript(known_types: &[String]) -> String {
    let commands = ipc_commands();
    let events = ipc_events();
    let mut used: Vec<&String> = known_types
        .iter()
        .filter(|name| {
            let named = |ts: &str| {
                ts.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .any(|word| word == name.as_str())
            };
            commands
                .iter()
                .any(|c| named(&c.returns.ts) || c.args.iter().any(|a| named(&a.ty.ts)))
                || events.iter().any(|e| named(&e.payload.ts))
        })
        .collect();
    used.sort();
    let mut out = String::from(
        "// Generated from gatehouse-core's admin::ipc_surface by `cargo xtask bindings`; do not edit.\n",
    );
    for name in used {
        out.push_str(&format!("import type {{ {name} }} from \"./{name}\";\n"));
    }
    out.push_str(
        "\n/** Every Tauri command: the arguments the window sends (camelCase, as Tauri maps them) and the answer. */\nexport type IpcCommands = {\n",
    );
    for command in &commands {
        let args = if command.args.is_empty() {
            "Record<string, never>".to_owned()
        } else {
            let fields: Vec<String> = command
                .args
                .iter()
                .map(|a| format!("{}: {}", camel_case(a.name), a.ty.ts))
                .collect();
            format!("{{ {} }}", fields.join("; "))
        };
        out.push_str(&format!(
            "  {}: {{ args: {args}; returns: {} }};\n",
            command.name, command.returns.ts
        ));
    }
    out.push_str(
        "};\n\n/** Every event the app emits, with its payload. */\nexport type IpcEvents = {\n",
    );
    for event in &events {
        out.push_str(&format!("  \"{}\": {};\n", event.name, event.payload.ts));
    }
    out.push_str("};\n\n");
    out.push_str(&format!(
        "export const CHANGED_EVENT = \"{CHANGED_EVENT}\";\nexport const CONSENT_REQUESTED_EVENT = \"{CONSENT_REQUESTED_EVENT}\";\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_unique_and_typed_as_json_sees_them() {
        let commands = ipc_commands();
        let mut names: Vec<_> = commands.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), commands.len(), "no command twice");
        let at_risk = commands
            .iter()
            .find(|c| c.name == "grants_at_risk")
            .expect("declared");
        assert_eq!(
            at_risk.returns.ts, "number",
            "a u64 arrives as a JSON number"
        );
        let decide = commands
            .iter()
            .find(|c| c.name == "decide_pending_request")
            .expect("declared");
        assert_eq!(decide.args[2].ty.ts, "Array<string> | null");
        assert_eq!(camel_case("slug_or_id"), "slugOrId");
        assert_eq!(camel_case("key"), "key");
    }

    #[test]
    fn the_typescript_map_names_arguments_in_camel_case_and_imports_what_it_uses() {
        let ts = typescript(&["SigninStarted".into(), "Unused".into(), "Changed".into()]);
        assert!(ts.contains(
            "start_signin: { args: { slugOrId: string; callback: SigninCallback }; returns: SigninStarted };"
        ), "{ts}");
        assert!(ts.contains("import type { SigninStarted } from \"./SigninStarted\";"));
        assert!(ts.contains("import type { Changed } from \"./Changed\";"));
        assert!(!ts.contains("Unused"));
        assert!(ts.contains("\"gatehouse://changed\": Changed;"));
    }
}
