//! Provider templates: the endpoints, default scopes and token endpoint authentication of
//! well-known authorization servers (GitHub, Google, Microsoft, Okta, Auth0, or custom) for a
//! client the person pre-registered there (MCP 2026-07-28 client registration §Pre-registration).
//! They are data (`templates.json`), not code; `{tenant}` in an endpoint is the person's tenant
//! host.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::oauth::upstream::UpstreamError;

/// A provider template: endpoints and default scopes for a pre-registered client.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub scopes: Option<String>,
    #[serde(default)]
    pub iss_supported: bool,
    /// Replaces `{tenant}` when the user gives none.
    pub default_tenant: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
}

const TEMPLATES_JSON: &str = include_str!("../templates.json");

/// Every template by key (`github`, `google`, `microsoft`, `okta`, `auth0`, `custom`).
pub fn templates() -> BTreeMap<String, Template> {
    serde_json::from_str(TEMPLATES_JSON).unwrap_or_default()
}

impl Template {
    /// Whether the endpoints contain the `{tenant}` placeholder.
    pub fn needs_tenant(&self) -> bool {
        [
            &self.issuer,
            &self.authorization_endpoint,
            &self.token_endpoint,
        ]
        .iter()
        .any(|v| v.as_deref().is_some_and(|s| s.contains("{tenant}")))
    }

    /// The tenant that [`Self::for_tenant`] put into `token_endpoint` (read back for an edit form).
    pub fn tenant_in(&self, token_endpoint: &str) -> Option<String> {
        let (prefix, suffix) = self.token_endpoint.as_deref()?.split_once("{tenant}")?;
        let tenant = token_endpoint.strip_prefix(prefix)?.strip_suffix(suffix)?;
        (!tenant.is_empty()).then(|| tenant.to_owned())
    }

    /// The template with `{tenant}` replaced (a host such as `dev-123.okta.com`).
    pub fn for_tenant(&self, tenant: Option<&str>) -> Result<Template, UpstreamError> {
        let tenant = tenant.or(self.default_tenant.as_deref());
        if self.needs_tenant() {
            let Some(t) = tenant else {
                return Err(UpstreamError::Config(format!(
                    "the {} template needs a tenant domain",
                    self.name
                )));
            };
            if t.is_empty()
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(UpstreamError::Config(
                    "the tenant must be a host name such as dev-123.okta.com".into(),
                ));
            }
        }
        let fill = |v: &Option<String>| {
            v.as_ref()
                .map(|s| s.replace("{tenant}", tenant.unwrap_or("")))
        };
        Ok(Template {
            issuer: fill(&self.issuer),
            authorization_endpoint: fill(&self.authorization_endpoint),
            token_endpoint: fill(&self.token_endpoint),
            revocation_endpoint: fill(&self.revocation_endpoint),
            userinfo_endpoint: fill(&self.userinfo_endpoint),
            ..self.clone()
        })
    }
}
