//! What the window sends: the input DTOs of the connection commands. They are `Deserialize` only —
//! a header value travels from the UI to the backend once, is sealed, and never comes back.

use secrecy::SecretString;
use serde::Deserialize;
use ts_rs::TS;

use super::{AdminError, ConnectionChanges, NewConnectionInput, OAuthInput, UpstreamAuth};

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

/// OAuth settings for a new connection (role 2). Every field may be left out: then Gatehouse
/// discovers the authorization server and registers itself (RFC 7591 dynamic registration).
#[derive(Clone, Default, Deserialize, TS)]
pub struct OAuthRequest {
    /// A client id registered with the upstream's authorization server by the user.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub client_id: Option<String>,
    /// Its secret (confidential clients). Sealed on arrival; no response ever carries it.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub client_secret: Option<String>,
    /// A provider template key from `list_oauth_templates` (`github`, `okta`, …).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub template: Option<String>,
    /// The tenant domain for templates that need one (Okta, Auth0, Microsoft).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub tenant: Option<String>,
    /// Scopes to request instead of the discovered ones (space-separated).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub scopes: Option<String>,
    /// Machine to machine (RFC 6749 §4.4): needs a client id and secret; no browser sign-in.
    #[serde(default)]
    #[ts(optional)]
    pub client_credentials: Option<bool>,
    /// For an older (2025-03-26) server that publishes no protected resource metadata: find the
    /// authorization server at the MCP URL's origin, else use its default endpoints.
    #[serde(default)]
    #[ts(optional)]
    pub legacy_discovery: Option<bool>,
}

impl std::fmt::Debug for OAuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthRequest")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("template", &self.template)
            .field("tenant", &self.tenant)
            .field("scopes", &self.scopes)
            .field("client_credentials", &self.client_credentials)
            .field("legacy_discovery", &self.legacy_discovery)
            .finish()
    }
}

/// Blank optional text is no value: a form field left empty means "not given".
fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl OAuthRequest {
    fn into_auth(self) -> UpstreamAuth {
        UpstreamAuth::OAuth(OAuthInput {
            client_id: given(self.client_id),
            client_secret: given(self.client_secret).map(SecretString::from),
            template: given(self.template),
            tenant: given(self.tenant),
            scopes: given(self.scopes),
            client_credentials: self.client_credentials.unwrap_or(false),
            legacy_discovery: self.legacy_discovery.unwrap_or(false),
        })
    }
}

/// A connection to add from the window.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct NewConnectionRequest {
    pub slug: String,
    pub name: String,
    pub upstream_url: String,
    /// A fixed header to inject. With neither `header` nor `oauth` the upstream needs no
    /// authentication; giving both is refused.
    pub header: Option<HeaderInput>,
    /// OAuth (role 2): the connection starts as "Sign-in needed".
    #[serde(default)]
    #[ts(optional = nullable)]
    pub oauth: Option<OAuthRequest>,
    /// The account the connection acts for, as the user names it (shown when the upstream says
    /// nothing about who signed in).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub account_name: Option<String>,
}

impl NewConnectionRequest {
    /// The use case's input; refuses a request naming two kinds of upstream authentication.
    pub fn into_input(self) -> Result<NewConnectionInput, AdminError> {
        let auth = match (self.header, self.oauth) {
            (Some(_), Some(_)) => {
                return Err(AdminError::invalid(
                    "auth",
                    "choose one kind of upstream authentication: a header or OAuth",
                ));
            }
            (Some(header), None) => header.into_auth(),
            (None, Some(oauth)) => oauth.into_auth(),
            (None, None) => UpstreamAuth::None,
        };
        Ok(NewConnectionInput {
            slug: self.slug,
            name: self.name,
            upstream_url: self.upstream_url,
            auth,
            account_name: self.account_name,
        })
    }
}

/// An edit from the window; a missing or `null` field leaves it as it is. `header` or `oauth`
/// replaces the connection's authentication (giving both is refused); `remove_header: true` switches
/// it to none (ignored when either is given).
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
    /// New OAuth settings (role 2). With the same client id and no secret, the stored secret stays.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub oauth: Option<OAuthRequest>,
    #[serde(default)]
    #[ts(optional)]
    pub remove_header: Option<bool>,
    /// The user-named account; `""` removes it.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub account_name: Option<String>,
}

impl ConnectionChangesRequest {
    /// The use case's input; refuses an edit naming two kinds of upstream authentication.
    pub fn into_changes(self) -> Result<ConnectionChanges, AdminError> {
        let auth = match (self.header, self.oauth, self.remove_header) {
            (Some(_), Some(_), _) => {
                return Err(AdminError::invalid(
                    "auth",
                    "choose one kind of upstream authentication: a header or OAuth",
                ));
            }
            (Some(header), None, _) => Some(header.into_auth()),
            (None, Some(oauth), _) => Some(oauth.into_auth()),
            (None, None, Some(true)) => Some(UpstreamAuth::None),
            (None, None, _) => None,
        };
        Ok(ConnectionChanges {
            name: self.name,
            upstream_url: self.upstream_url,
            auth,
            account_name: self.account_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn request(json: serde_json::Value) -> NewConnectionRequest {
        serde_json::from_value(json).unwrap_or_else(|e| panic!("request: {e}"))
    }

    #[test]
    fn oauth_request_becomes_oauth_auth_and_blank_fields_are_not_given() {
        let input = request(serde_json::json!({
            "slug": "linear", "name": "Linear", "upstream_url": "https://mcp.linear.app/mcp",
            "header": null,
            "oauth": {"client_id": " abc ", "client_secret": "s3cret", "template": "", "tenant": "  "}
        }))
        .into_input()
        .unwrap_or_else(|e| panic!("into_input: {e}"));
        let UpstreamAuth::OAuth(oauth) = input.auth else {
            panic!("expected OAuth, got {:?}", input.auth)
        };
        assert_eq!(oauth.client_id.as_deref(), Some("abc"));
        assert_eq!(
            oauth
                .client_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            Some("s3cret".to_owned())
        );
        assert_eq!(oauth.template, None);
        assert_eq!(oauth.tenant, None);
        assert!(!oauth.client_credentials);
    }

    #[test]
    fn without_header_or_oauth_the_upstream_needs_no_auth() {
        let input = request(serde_json::json!({
            "slug": "x", "name": "X", "upstream_url": "http://127.0.0.1:1/mcp", "header": null
        }))
        .into_input()
        .unwrap_or_else(|e| panic!("into_input: {e}"));
        assert!(matches!(input.auth, UpstreamAuth::None));
    }

    #[test]
    fn header_and_oauth_together_are_refused_on_the_auth_field() {
        let err = request(serde_json::json!({
            "slug": "x", "name": "X", "upstream_url": "https://x.example/mcp",
            "header": {"name": "X-API-Key", "value": "k"}, "oauth": {}
        }))
        .into_input()
        .err()
        .unwrap_or_else(|| panic!("both kinds of auth must be refused"));
        assert!(
            matches!(&err, AdminError::InvalidInput { field, .. } if *field == "auth"),
            "{err:?}"
        );
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let oauth = OAuthRequest {
            client_secret: Some("s3cret-value".into()),
            ..OAuthRequest::default()
        };
        let header = HeaderInput {
            name: "X-API-Key".into(),
            value: "hdr-secret".into(),
        };
        let text = format!("{oauth:?} {header:?}");
        assert!(
            !text.contains("s3cret-value") && !text.contains("hdr-secret"),
            "{text}"
        );
    }
}
