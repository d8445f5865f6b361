//! The use-case API that the Tauri commands and the `gatehoused` command line both call, and the
//! data transfer objects they return. Every DTO here derives `ts_rs::TS`; the TypeScript bindings in
//! `ui/src/api/bindings/` are generated from them (`cargo xtask bindings`) and a test fails when the
//! checked-in files are stale. DTOs never carry a token or secret value.

mod error;
mod status;

#[cfg(test)]
mod bindings;

pub use error::IpcError;
pub use status::{GatewayStatus, gateway_status};
