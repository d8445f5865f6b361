//! Tauri commands: one line each into `gatehouse-core::admin`, run off the main thread by
//! [`GatewaySlot::run`], errors mapped to the tagged [`IpcError`]. Every payload is a ts-rs DTO;
//! none carries a token, hash or sealed value (`src-tauri/core/tests/ipc_payloads.rs`).

// Tauri hands command arguments (`State`, DTOs) over by value.
#![allow(clippy::needless_pass_by_value)]

use std::sync::Arc;

use gatehouse_core::admin::open_browser;
use gatehouse_core::admin::{
    self, ActivityView, AuthDetection, ClientConfigPreview, ClientConfigWritten, ClientForgotten,
    ClientView, ConnectionChange, ConnectionChangesRequest, ConnectionRemoved, ConnectionView,
    DetectedClient, EditPreview, GatewayStatus, GrantView, GrantsRevoked, ImportCandidate,
    ImportPreview, ImportResult, IpcError, NewConnectionRequest, NewStdioConnectionRequest,
    OAuthTemplateView, PendingDecision, PendingRequestView, RequestDecided, ServerLog, Settings,
    SignedOut, SigninCallback, SigninStarted,
};
use tauri::{AppHandle, State};

use crate::gateway::GatewaySlot;

type Slot<'a> = State<'a, Arc<GatewaySlot>>;

#[tauri::command]
pub fn gateway_status(slot: Slot<'_>) -> Result<GatewayStatus, IpcError> {
    let guard = slot.gateway.lock().map_err(|_| IpcError::Internal {
        message: "gateway state poisoned".into(),
    })?;
    match guard.as_ref() {
        Some(running) => Ok(admin::gateway_status(running)),
        None => Err(IpcError::GatewayNotRunning {
            reason: slot.failure.clone().unwrap_or_else(|| "stopped".to_owned()),
        }),
    }
}

#[tauri::command]
pub async fn list_connections(slot: Slot<'_>) -> Result<Vec<ConnectionView>, IpcError> {
    slot.run(admin::list_connections).await
}

#[tauri::command]
pub async fn add_connection(
    slot: Slot<'_>,
    input: NewConnectionRequest,
) -> Result<ConnectionView, IpcError> {
    let input = input.into_input()?;
    slot.run(move |v, port| admin::add_connection(v, port, &input))
        .await
}

/// How the upstream at `url` signs in (an unauthenticated probe; `legacy`: the 2025-03-26 opt-in).
#[tauri::command]
pub async fn detect_auth(url: String, legacy: bool) -> Result<AuthDetection, IpcError> {
    Ok(admin::detect_auth(&url, legacy).await?)
}

#[tauri::command]
pub fn list_oauth_templates() -> Vec<OAuthTemplateView> {
    admin::oauth_templates()
}

#[tauri::command]
pub async fn preview_connection_edit(
    slot: Slot<'_>,
    key: String,
    changes: ConnectionChangesRequest,
) -> Result<EditPreview, IpcError> {
    slot.run(move |v, _| admin::preview_edit(v, &key, &changes.into_changes()?))
        .await
}

#[tauri::command]
pub async fn edit_connection(
    slot: Slot<'_>,
    key: String,
    changes: ConnectionChangesRequest,
) -> Result<ConnectionChange, IpcError> {
    slot.run(move |v, port| admin::edit_connection(v, port, &key, &changes.into_changes()?))
        .await
}

#[tauri::command]
pub async fn grants_at_risk(slot: Slot<'_>, key: String) -> Result<u64, IpcError> {
    slot.run(move |v, _| admin::grants_at_risk(v, &key)).await
}

#[tauri::command]
pub async fn set_connection_enabled(
    slot: Slot<'_>,
    key: String,
    enabled: bool,
) -> Result<ConnectionChange, IpcError> {
    slot.run(move |v, port| admin::set_connection_enabled(v, port, &key, enabled))
        .await
}

/// Removes a connection; an OAuth one is signed out at its upstream first (RFC 7009, best effort).
#[tauri::command]
pub async fn remove_connection(slot: Slot<'_>, key: String) -> Result<ConnectionRemoved, IpcError> {
    let (oauth, _) = slot.oauth()?;
    Ok(admin::remove_connection(&oauth, &key).await?)
}

#[tauri::command]
pub async fn list_grants(
    slot: Slot<'_>,
    include_inactive: bool,
) -> Result<Vec<GrantView>, IpcError> {
    slot.run(move |v, _| admin::list_grants(v, include_inactive))
        .await
}

#[tauri::command]
pub async fn revoke_grants(slot: Slot<'_>, ids: Vec<String>) -> Result<GrantsRevoked, IpcError> {
    slot.run(move |v, _| admin::revoke_grants(v, &ids)).await
}

#[tauri::command]
pub async fn list_clients(slot: Slot<'_>) -> Result<Vec<ClientView>, IpcError> {
    slot.run(|v, _| admin::list_clients(v)).await
}

#[tauri::command]
pub async fn forget_client(slot: Slot<'_>, client_id: String) -> Result<ClientForgotten, IpcError> {
    slot.run(move |v, _| admin::forget_client(v, &client_id))
        .await
}

#[tauri::command]
pub async fn list_activity(slot: Slot<'_>, limit: u32) -> Result<Vec<ActivityView>, IpcError> {
    slot.run(move |v, _| admin::list_activity(v, limit)).await
}

#[tauri::command]
pub async fn get_settings(slot: Slot<'_>) -> Result<Settings, IpcError> {
    slot.run(|v, port| admin::get_settings(v, Some(port))).await
}

/// Saves, then applies what applies at once (the retention period, other OS users, the theme,
/// start at login) and
/// tells the window.
#[tauri::command]
pub async fn update_settings(
    app: AppHandle,
    slot: Slot<'_>,
    settings: Settings,
) -> Result<Settings, IpcError> {
    let saved = slot
        .run(move |v, port| admin::update_settings(v, Some(port), &settings))
        .await?;
    slot.set_retention_days(saved.retention_days);
    slot.set_allow_other_os_users(saved.allow_other_os_users);
    crate::events::settings_saved(&app, &saved);
    Ok(saved)
}

/// Starts an upstream sign-in and opens the authorization URL in the system browser (`$BROWSER`,
/// else the platform opener); the browser comes back through `callback`.
#[tauri::command]
pub async fn start_signin(
    slot: Slot<'_>,
    slug_or_id: String,
    callback: SigninCallback,
) -> Result<SigninStarted, IpcError> {
    let (oauth, port) = slot.oauth()?;
    Ok(admin::start_signin_in_browser(&oauth, port, &slug_or_id, callback, open_browser).await?)
}

/// The consent requests waiting for the person (the window's Requests view).
#[tauri::command]
pub async fn list_pending_requests(slot: Slot<'_>) -> Result<Vec<PendingRequestView>, IpcError> {
    slot.run(|v, _| admin::list_pending_requests(v)).await
}

/// Approves (with every tool, or only `tools`) or denies a pending request; the answer goes to the
/// client's callback.
#[tauri::command]
pub async fn decide_pending_request(
    slot: Slot<'_>,
    id: String,
    approve: bool,
    tools: Option<Vec<String>>,
) -> Result<RequestDecided, IpcError> {
    let (vault, port) = slot.vault()?;
    let decision = if approve {
        PendingDecision::Approve { tools }
    } else {
        PendingDecision::Deny
    };
    Ok(admin::decide_pending_request(&vault, port, &id, decision).await?)
}

/// Signs a connection out: RFC 7009 revocation at the upstream (best effort), local tokens deleted.
#[tauri::command]
pub async fn sign_out(slot: Slot<'_>, slug: String) -> Result<SignedOut, IpcError> {
    let (oauth, _) = slot.oauth()?;
    Ok(admin::sign_out(&oauth, &slug).await?)
}

/// This program started as the stdio bridge, for clients that only start commands (Claude
/// Desktop): `<app> --data-dir DIR bridge <slug> --port P` (see `main.rs`).
fn bridge(vault: &gatehouse_core::vault::Vault) -> Option<Vec<String>> {
    std::env::current_exe()
        .ok()
        .map(|exe| admin::bridge_command(vault, &exe))
}

/// The MCP clients on this computer and the servers in their configs.
#[tauri::command]
pub async fn list_client_apps(slot: Slot<'_>) -> Result<Vec<DetectedClient>, IpcError> {
    slot.run(|_, port| Ok(admin::list_client_apps(&admin::user_home()?, port)))
        .await
}

/// What connecting `client` to the connection `key` would change in its config.
#[tauri::command]
pub async fn preview_client_config(
    slot: Slot<'_>,
    client: String,
    key: String,
    workspace: Option<String>,
) -> Result<ClientConfigPreview, IpcError> {
    slot.run(move |v, port| {
        admin::preview_client_config(
            &admin::user_home()?,
            v,
            port,
            &client,
            &key,
            workspace.as_deref(),
            bridge(v).as_deref(),
        )
    })
    .await
}

/// Makes the previewed change (`diff` is what the person saw).
#[tauri::command]
pub async fn write_client_config(
    slot: Slot<'_>,
    client: String,
    key: String,
    workspace: Option<String>,
    diff: String,
) -> Result<ClientConfigWritten, IpcError> {
    slot.run(move |v, port| {
        admin::write_client_config(
            &admin::user_home()?,
            v,
            port,
            &client,
            &key,
            workspace.as_deref(),
            &diff,
            bridge(v).as_deref(),
        )
    })
    .await
}

/// Puts back a client's config as it was before Gatehouse's last change.
#[tauri::command]
pub async fn undo_client_config(
    slot: Slot<'_>,
    client: String,
) -> Result<ClientConfigWritten, IpcError> {
    slot.run(move |v, _| admin::undo_client_config(v, &client))
        .await
}

/// The end of a local stdio server's log (its stderr, secrets masked).
#[tauri::command]
pub async fn server_log(slot: Slot<'_>, key: String) -> Result<ServerLog, IpcError> {
    slot.run(move |v, _| admin::server_log(v, &key)).await
}

/// Adds a connection whose upstream is a local command (stdio); its environment values are sealed.
#[tauri::command]
pub async fn add_stdio_connection(
    slot: Slot<'_>,
    input: NewStdioConnectionRequest,
) -> Result<ConnectionView, IpcError> {
    let input = input.into_input()?;
    slot.run(move |v, port| admin::add_stdio_connection(v, port, &input))
        .await
}

/// The servers of a client's config and whether each can move behind Gatehouse.
#[tauri::command]
pub async fn list_import_candidates(
    slot: Slot<'_>,
    client: String,
) -> Result<Vec<ImportCandidate>, IpcError> {
    slot.run(move |_, _| admin::import_candidates(&admin::user_home()?, &client))
        .await
}

/// What importing a client's server would do.
#[tauri::command]
pub async fn preview_import(
    slot: Slot<'_>,
    client: String,
    server: String,
) -> Result<ImportPreview, IpcError> {
    slot.run(move |v, port| {
        admin::preview_import(
            &admin::user_home()?,
            v,
            port,
            &client,
            &server,
            bridge(v).as_deref(),
        )
    })
    .await
}

/// Imports a client's server as previewed (`diff`: what the person saw).
#[tauri::command]
pub async fn import_from_client(
    slot: Slot<'_>,
    client: String,
    server: String,
    diff: String,
) -> Result<ImportResult, IpcError> {
    slot.run(move |v, port| {
        admin::import_from_client(
            &admin::user_home()?,
            v,
            port,
            &client,
            &server,
            &diff,
            bridge(v).as_deref(),
        )
    })
    .await
}
