//! The error every Tauri command returns: tagged `{type, data}` so the UI branches on `type`, never
//! on message text.

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[serde(tag = "type", content = "data")]
pub enum IpcError {
    /// The gateway did not start (port taken, data directory unreadable, wrong data key...).
    #[error("the gateway is not running: {reason}")]
    GatewayNotRunning { reason: String },
    /// Something failed inside the core; the details are in the log, not here.
    #[error("internal error: {message}")]
    Internal { message: String },
}
