//! What the window's status line shows: where the gateway listens and where the data key lives.

use serde::Serialize;
use ts_rs::TS;

use crate::crypto::KeySourceInfo;
use crate::gateway::RunningGateway;

/// Field names are snake_case, like every DTO (the `gatehoused --json` output is the same DTOs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct GatewayStatus {
    /// The loopback IP the gateway listens on (`127.0.0.1`); with `port` it makes the issuer
    /// `http://127.0.0.1:PORT`, the base of every local MCP URL.
    pub address: String,
    pub port: u16,
    pub data_dir: String,
    pub key_source: KeySourceInfo,
    pub version: String,
}

pub fn gateway_status(gateway: &RunningGateway) -> GatewayStatus {
    GatewayStatus {
        address: gateway.address().ip().to_string(),
        port: gateway.address().port(),
        data_dir: gateway.vault().data_dir().display().to_string(),
        key_source: gateway.vault().key_source().clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}
