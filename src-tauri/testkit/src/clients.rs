//! Registered MCP clients: a native public client with a loopback redirect URI, as dynamic client
//! registration (RFC 7591) would have stored it.

use gatehouse_core::store::ClientId;
use gatehouse_core::store::clients::{ClientRegistration, RegistrationSource};
use gatehouse_core::vault::Vault;
use serde_json::json;

/// The redirect URI every test client registers.
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// The registration of a public native client `name`, with the authorization code and refresh
/// token grants.
pub fn registration(id: &ClientId, name: &str) -> ClientRegistration {
    ClientRegistration {
        client_id: id.clone(),
        client_name: Some(name.into()),
        client_uri: None,
        software_id: None,
        software_version: None,
        redirect_uris: vec![REDIRECT_URI.into()],
        scope: Some("mcp:access".into()),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: "none".into(),
        application_type: Some("native".into()),
        registration_source: RegistrationSource::Dcr,
        metadata: json!({"client_name": name}),
    }
}

/// Registers a new client `name`; its id.
pub fn register_client(vault: &Vault, name: &str) -> ClientId {
    let id = ClientId::generate();
    vault
        .store()
        .upsert_client(&registration(&id, name))
        .unwrap_or_else(|e| panic!("registering client {name}: {e}"));
    id
}
