//! The use-case API that the Tauri commands and the `gatehoused` command line both call, and the
//! data transfer objects they return. Every DTO here derives `ts_rs::TS`; the TypeScript bindings in
//! `ui/src/api/bindings/` are generated from them (`cargo xtask bindings`) and a test fails when the
//! checked-in files are stale. DTOs never carry a token or secret value.
//!
//! The use cases are blocking (they run on the calling thread against the store's blocking API):
//! the CLI calls them directly, the Tauri commands from a blocking task. Field names are snake_case,
//! the same in IPC and in `gatehoused … --json`, because outside scripts read them.
//!
//! **The one door.** The shell (`src-tauri/app`) and the command line (`cli`) reach the core through
//! this module, the gateway they serve, the bridge they run, and the process set-up (`config`,
//! `logging`, `clock`, `crypto`'s key backend, `vault`); the few types from below that they need
//! (the browser opener, the store's change notices, saved settings) are named at the end of this
//! module. `tests/architecture.rs` checks it.

mod activity;
mod client_import;
mod client_setup;
mod clients;
mod connection_auth;
mod connection_input;
mod connections;
mod diagnostics;
mod error;
mod grants;
mod ipc_surface;
mod ipc_types;
mod pending;
mod requests;
mod settings;
mod status;
mod stdio_connections;
mod upstream;

#[cfg(test)]
mod bindings;
#[cfg(test)]
mod tests;

pub use activity::{ActivityView, MAX_ACTIVITY, list_activity};
pub use client_import::{
    ImportCandidate, ImportDone, ImportPlan, ImportPreview, ImportResult, import_candidates,
    import_from_client, import_server, importable, plan_import, preview_import,
};
pub use client_setup::{
    ClientConfigPreview, ClientConfigWritten, DetectedClient, DetectedWorkspaceView,
    bridge_command, connect_client, detect_clients, list_client_apps, preview_client_config,
    preview_client_connect, undo_client, undo_client_config, user_home, workspace_config,
    write_client_config,
};
pub use clients::{
    ClientForgotten, ClientView, add_client, authorized_client_count, forget_client, list_clients,
};
pub use connections::{
    ConnectionChange, ConnectionChanges, ConnectionRemoved, ConnectionView, EditPreview,
    NewConnectionInput, OAuthInput, OAuthView, UpstreamAuth, add_connection, edit_connection,
    get_connection, grants_at_risk, list_connections, local_url, preview_edit, remove_connection,
    set_connection_enabled,
};
pub use error::{AdminError, AdminErrorKind, IpcError};
pub use grants::{CallerView, GrantView, GrantsRevoked, TokenHealth, list_grants, revoke_grants};
pub use ipc_surface::{
    CHANGED_EVENT, CONSENT_REQUESTED_EVENT, IpcArg, IpcCommand, IpcEvent, IpcType, camel_case,
    ipc_commands, ipc_events, typescript as ipc_typescript,
};
pub use ipc_types::ipc_type_names;
pub use pending::{
    Delivery, PendingDecision, PendingRequestView, RequestDecided, decide_pending_request,
    list_pending_requests,
};
pub use requests::{ConnectionChangesRequest, HeaderInput, NewConnectionRequest, OAuthRequest};
pub use settings::{
    Settings, client_metadata_document, client_metadata_url, get_settings, set_client_metadata_url,
    update_settings,
};
pub use status::{GatewayStatus, gateway_status};
pub use stdio_connections::{
    EnvInput, NewStdioConnectionInput, NewStdioConnectionRequest, ServerLog, add_stdio_connection,
    server_log, split_command_line,
};
pub use upstream::{
    AuthDetection, DeepLinkOutcome, OAuthTemplateView, SignedOut, SigninCallback, SigninLaunch,
    SigninStarted, SuggestedAuth, complete_deep_link, detect_auth, disconnect_connection,
    oauth_templates, sign_out, signin_progress, standalone_upstream_oauth, start_signin,
    start_signin_in_browser,
};

// What the shell and the command line take from below admin, named here (see "The one door").
pub use crate::net::browser::open_browser;
pub use crate::oauth::upstream::UpstreamOAuth;
pub use crate::oauth::upstream::flow::SigninProgress;
pub use crate::settings::{StoredSettings, Theme, launch_port, load as load_settings};
pub use crate::store::StoreError;
pub use crate::store::retention::DEFAULT_RETENTION_DAYS;
pub use crate::store::watch::{ChangeKind, Changed, ConsentRequested, Notice, POLL_PERIOD};
pub use diagnostics::record_diagnostic_write;
