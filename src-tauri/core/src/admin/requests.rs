//! What the window sends: the input DTOs of the connection commands. They are `Deserialize` only —
//! a header value travels from the UI to the backend once, is sealed, and never comes back.

use secrecy::SecretString;
use serde::Deserialize;
use ts_rs::TS;

use super::{ConnectionChanges, NewConnectionInput, UpstreamAuth};

/// A fixed header injected into every upstream request (`Authorization: Bearer …`, `X-API-Key: …`).
#[derive(Clone, Deserialize, TS)]
pub struct HeaderInput {
    pub name: String,
    /// The secret. Sealed on arrival; no response ever carries it.
    pub value: String,
}

impl std::fmt::Debug for HeaderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderInput")
            .field("name", &self.name)
            .field("value", &"[redacted]")
            .finish()
    }
}

impl HeaderInput {
    fn into_auth(self) -> UpstreamAuth {
        UpstreamAuth::Header {
            name: self.name,
            value: SecretString::from(self.value),
        }
    }
}

/// A connection to add from the window.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct NewConnectionRequest {
    pub slug: String,
    pub name: String,
    pub upstream_url: String,
    /// `null`: the upstream needs no authentication.
    pub header: Option<HeaderInput>,
    /// The account the connection acts for, as the user names it (shown when the upstream says
    /// nothing about who signed in).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub account_name: Option<String>,
}

/// An edit from the window; a missing or `null` field leaves it as it is. `remove_header: true`
/// switches the connection to no authentication (ignored when `header` is given).
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct ConnectionChangesRequest {
    #[serde(default)]
    #[ts(optional = nullable)]
    pub name: Option<String>,
    #[serde(default)]
    #[ts(optional = nullable)]
    pub upstream_url: Option<String>,
    #[serde(default)]
    #[ts(optional = nullable)]
    pub header: Option<HeaderInput>,
    #[serde(default)]
    #[ts(optional)]
    pub remove_header: Option<bool>,
    /// The user-named account; `""` removes it.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub account_name: Option<String>,
}

impl From<NewConnectionRequest> for NewConnectionInput {
    fn from(request: NewConnectionRequest) -> Self {
        NewConnectionInput {
            slug: request.slug,
            name: request.name,
            upstream_url: request.upstream_url,
            auth: request
                .header
                .map_or(UpstreamAuth::None, HeaderInput::into_auth),
            account_name: request.account_name,
        }
    }
}

impl From<ConnectionChangesRequest> for ConnectionChanges {
    fn from(request: ConnectionChangesRequest) -> Self {
        let auth = match (request.header, request.remove_header) {
            (Some(header), _) => Some(header.into_auth()),
            (None, Some(true)) => Some(UpstreamAuth::None),
            (None, _) => None,
        };
        ConnectionChanges {
            name: request.name,
            upstream_url: request.upstream_url,
            auth,
            account_name: request.account_name,
        }
    }
}
