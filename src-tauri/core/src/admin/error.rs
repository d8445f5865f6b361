//! The error every Tauri command returns: tagged `{type, data}` so the UI branches on `type`, never
//! on message text.

use serde::Serialize;
use ts_rs::TS;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[serde(tag = "type", content = "data")]
pub enum IpcError {
    /// The input was refused; `field` names it (`slug`, `upstream_url`, `header`, `port`...).
    #[error("invalid {field}: {message}")]
    InvalidInput { field: String, message: String },
    /// The connection, grant or client named does not exist (any more).
    #[error("{message}")]
    NotFound { message: String },
    /// The change clashes with the current state (a slug in use...).
    #[error("{message}")]
    Conflict { message: String },
    /// The gateway did not start (port taken, data directory unreadable, wrong data key...).
    #[error("the gateway is not running: {reason}")]
    GatewayNotRunning { reason: String },
    /// An upstream (its authorization server, or the MCP server itself) failed or refused: the
    /// message says what, in its own safe words (never a token, a code or a secret).
    #[error("{message}")]
    Upstream { message: String },
    /// Something failed inside the core; the details are in the log, not here.
    #[error("internal error: {message}")]
    Internal { message: String },
}

/// What an admin use case can fail with. [`AdminError::kind`] is the stable name the IPC error and
/// scripts branch on; the message is for people.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input was refused; `field` names the offending input (`slug`, `url`, `header`...).
    #[error("invalid {field}: {message}")]
    InvalidInput {
        field: &'static str,
        message: String,
    },
    #[error("no {what} {key:?}")]
    NotFound { what: &'static str, key: String },
    #[error("{0}")]
    Conflict(String),
    /// A sealed value could not be opened or sealed (wrong data key, tampering).
    #[error("a stored secret could not be opened: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    /// Role 2: discovery, registration, sign-in or the upstream authorization server failed.
    #[error(transparent)]
    Upstream(crate::oauth::upstream::UpstreamError),
}

impl From<crate::oauth::upstream::UpstreamError> for AdminError {
    fn from(err: crate::oauth::upstream::UpstreamError) -> Self {
        match err {
            crate::oauth::upstream::UpstreamError::Store(store) => store.into(),
            other => AdminError::Upstream(other),
        }
    }
}

/// The stable kind of an [`AdminError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AdminErrorKind {
    InvalidInput,
    NotFound,
    Conflict,
    /// The upstream MCP server or its authorization server refused or failed.
    Upstream,
    Internal,
}

impl AdminError {
    pub fn kind(&self) -> AdminErrorKind {
        match self {
            AdminError::InvalidInput { .. } => AdminErrorKind::InvalidInput,
            AdminError::NotFound { .. } => AdminErrorKind::NotFound,
            AdminError::Conflict(_) => AdminErrorKind::Conflict,
            AdminError::Crypto(_) | AdminError::Store(_) | AdminError::Settings(_) => {
                AdminErrorKind::Internal
            }
            AdminError::Upstream(_) => AdminErrorKind::Upstream,
        }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AdminError::InvalidInput {
            field,
            message: message.into(),
        }
    }
}

/// The store's not-found and conflict errors are the caller's business, not internal failures.
impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { kind, id } => AdminError::NotFound {
                what: kind,
                key: id,
            },
            StoreError::Conflict(message) => AdminError::Conflict(message),
            other => AdminError::Store(other),
        }
    }
}

/// What the window receives. Internal causes are logged here and reach the window as a short
/// sentence; no error text ever carries a secret (admin errors name fields and ids, not values).
impl From<AdminError> for IpcError {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::InvalidInput { field, message } => IpcError::InvalidInput {
                field: field.to_owned(),
                message,
            },
            err @ AdminError::NotFound { .. } => IpcError::NotFound {
                message: err.to_string(),
            },
            AdminError::Conflict(message) => IpcError::Conflict { message },
            AdminError::Upstream(err) => {
                tracing::warn!(error = %err, "upstream refused or failed");
                IpcError::Upstream {
                    message: err.to_string(),
                }
            }
            other => {
                tracing::error!(error = %other, "admin command failed");
                IpcError::Internal {
                    message: other.to_string(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::upstream::UpstreamError;

    #[test]
    fn an_upstream_refusal_reaches_the_window_as_upstream_with_its_words() {
        let err: IpcError =
            AdminError::from(UpstreamError::TokenRefused("invalid_grant: expired".into())).into();
        assert_eq!(
            err,
            IpcError::Upstream {
                message: UpstreamError::TokenRefused("invalid_grant: expired".into()).to_string()
            }
        );
        let store: IpcError =
            AdminError::from(UpstreamError::Store(StoreError::Background("x".into()))).into();
        assert!(
            matches!(store, IpcError::Internal { .. }),
            "a store failure under an upstream call stays internal: {store:?}"
        );
    }
}
