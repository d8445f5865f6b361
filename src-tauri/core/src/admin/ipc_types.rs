//! The one list of every type that crosses the IPC boundary: the commands' arguments and answers
//! and the event payloads. The TypeScript bindings are generated from it (`admin::bindings`), and
//! the no-secret test (`tests/ipc_payloads.rs`) must account for each name in it, so a new DTO
//! cannot reach the window unchecked.

/// Calls `$m!` with every IPC type.
macro_rules! with_ipc_types {
    ($m:ident) => {
        $m!(
            $crate::admin::GatewayStatus,
            $crate::crypto::KeySourceInfo,
            $crate::crypto::KeySourceKind,
            $crate::admin::IpcError,
            $crate::admin::AdminErrorKind,
            $crate::admin::ConnectionView,
            $crate::admin::OAuthView,
            $crate::admin::ConnectionChange,
            $crate::admin::ConnectionRemoved,
            $crate::admin::EditPreview,
            $crate::admin::GrantView,
            $crate::admin::CallerView,
            $crate::admin::PendingRequestView,
            $crate::admin::RequestDecided,
            $crate::admin::Delivery,
            $crate::admin::GrantsRevoked,
            $crate::admin::TokenHealth,
            $crate::admin::ClientView,
            $crate::admin::ClientForgotten,
            $crate::admin::HeaderInput,
            $crate::admin::NewConnectionRequest,
            $crate::admin::OAuthRequest,
            $crate::admin::OAuthTemplateView,
            $crate::admin::ConnectionChangesRequest,
            $crate::admin::ActivityView,
            $crate::admin::Settings,
            $crate::settings::Theme,
            $crate::store::watch::ChangeKind,
            $crate::store::watch::Changed,
            $crate::store::watch::ConsentRequested,
            $crate::admin::SigninCallback,
            $crate::admin::SigninStarted,
            $crate::admin::SignedOut,
            $crate::admin::AuthDetection,
            $crate::admin::SuggestedAuth,
            $crate::admin::DetectedClient,
            $crate::admin::DetectedWorkspaceView,
            $crate::admin::ClientConfigPreview,
            $crate::admin::ClientConfigWritten,
            $crate::admin::ServerLog,
            $crate::admin::EnvInput,
            $crate::admin::NewStdioConnectionRequest,
            $crate::admin::ImportCandidate,
            $crate::admin::ImportPreview,
            $crate::admin::ImportResult,
        )
    };
}
#[cfg(test)]
pub(crate) use with_ipc_types;

/// The TypeScript name of every IPC type, in the order of the list above.
pub fn ipc_type_names() -> Vec<String> {
    let cfg = ts_rs::Config::new();
    macro_rules! names {
        ($($ty:ty),* $(,)?) => {
            vec![$(<$ty as ts_rs::TS>::name(&cfg)),*]
        };
    }
    with_ipc_types!(names)
}
