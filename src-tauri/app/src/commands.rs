//! Tauri commands: one line each into `gatehouse-core::admin`.

// Tauri hands command arguments (`State`) over by value.
#![allow(clippy::needless_pass_by_value)]

use std::sync::Arc;

use gatehouse_core::admin::{self, GatewayStatus, IpcError};

use crate::gateway::GatewaySlot;

#[tauri::command]
pub fn gateway_status(slot: tauri::State<'_, Arc<GatewaySlot>>) -> Result<GatewayStatus, IpcError> {
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
