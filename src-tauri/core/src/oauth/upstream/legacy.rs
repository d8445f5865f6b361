//! The 2025-03-26 discovery fallback, for a connection that opted in (`--legacy-oauth`): an upstream
//! that asks for OAuth but publishes no protected resource metadata and names none in its challenge
//! is treated as a server of MCP 2025-03-26 (Authorization §2.3.2 "Server Metadata Discovery" and
//! §2.3.3 "Fallbacks for Servers without Metadata Discovery").
//!
//! - The authorization base URL is the MCP URL with its path discarded: its origin.
//! - Its RFC 8414 document is looked for at `<origin>/.well-known/oauth-authorization-server`.
//! - **Which issuer**: RFC 8414 §3.3 wants the document's `issuer` identical to the issuer the
//!   well-known URL was built from. A 2025-03-26 client has no issuer to start from: the spec
//!   locates the document by the MCP server's origin, so the server vouches for what it serves
//!   there. Servers of that era often run their authorization endpoints under a path of their own
//!   origin and name that (`https://mcp.example.com/oauth`). So:
//!   - an `issuer` on the MCP server's own origin is taken as the issuer, with the other checks
//!     unchanged (S256 listed, endpoints https or loopback) — the SDKs of that era use such a
//!     document as it is;
//!   - an `issuer` on another origin is not trusted from this location (that would let the MCP
//!     server's origin speak for another site, which §3.3 exists to prevent) and the document is
//!     set aside as if absent;
//! - With no usable document, the defaults of §2.3.3: `/authorize`, `/token` and `/register` at the
//!   origin. 2025-03-26 made PKCE mandatory (§2.1.1), so S256 is sent to them without a document
//!   saying so.
//!
//! The RFC 8707 `resource` still goes out, as in the current spec.

use serde_json::Value;
use url::Url;

use super::discovery::{
    Challenge, Discovered, DiscoveryError, ServerMetadata, canonical_resource, check_endpoints,
    get_json, origin, validate_server_metadata,
};
use crate::net::outbound::Outbound;

/// Discovery for a 2025-03-26 server (module docs).
pub async fn discover(
    policy: &Outbound,
    mcp_url: &str,
    challenge: Option<&Challenge>,
) -> Result<Discovered, DiscoveryError> {
    let url = Url::parse(mcp_url).map_err(|_| DiscoveryError::InvalidUrl)?;
    let resource = canonical_resource(mcp_url).ok_or(DiscoveryError::InvalidUrl)?;
    let base = origin(&url);
    let well_known = format!("{base}/.well-known/oauth-authorization-server");
    let document = get_json(
        policy,
        &well_known,
        "fetching the authorization server metadata",
    )
    .await?;
    let metadata = match document.and_then(|map| own_issuer(&base, &map).map(|i| (i, map))) {
        Some((issuer, map)) => validate_server_metadata(policy, &issuer, &map)?,
        None => {
            let defaults = default_endpoints(&base);
            check_endpoints(policy, &defaults)?;
            defaults
        }
    };
    Ok(Discovered {
        resource,
        metadata,
        challenged_scope: challenge.and_then(|c| c.scope.clone()),
        resource_scopes: Vec::new(),
    })
}

/// The document's `issuer` when it is on the MCP server's own origin (module docs), else `None`.
fn own_issuer(base: &str, map: &serde_json::Map<String, Value>) -> Option<String> {
    let named = map.get("issuer").and_then(Value::as_str)?;
    let parsed = Url::parse(named).ok()?;
    if origin(&parsed) != base {
        tracing::warn!(
            "the 2025-03-26 metadata at the MCP server's origin names an issuer on another origin; \
             using the default endpoints instead"
        );
        return None;
    }
    Some(named.to_owned())
}

/// §2.3.3: the default endpoints at the origin.
fn default_endpoints(base: &str) -> ServerMetadata {
    ServerMetadata {
        authorization_endpoint: format!("{base}/authorize"),
        token_endpoint: format!("{base}/token"),
        registration_endpoint: Some(format!("{base}/register")),
        revocation_endpoint: None,
        userinfo_endpoint: None,
        scopes_supported: Vec::new(),
        iss_supported: false,
        token_endpoint_auth_methods: Vec::new(),
        client_id_metadata_document_supported: false,
        issuer: base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Json, Router, routing::get};
    use serde_json::json;

    /// A 2025-03-26 server on 127.0.0.1:0 serving `document` (if any) at the root well-known, where
    /// `{base}` in the document is replaced by its own origin. Returns the MCP URL.
    async fn run_server(document: Option<Value>) -> String {
        let (listener, base) = crate::net::test_server::loopback_listener().await;
        let mut app = Router::new();
        if let Some(document) = document {
            let text = document.to_string().replace("{base}", &base);
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            app = app.route(
                "/.well-known/oauth-authorization-server",
                get(move || async move { Json(body) }),
            );
        }
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("{base}/mcp")
    }

    fn document(issuer: &str, endpoints: &str) -> Value {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{endpoints}/authorize"),
            "token_endpoint": format!("{endpoints}/token"),
            "registration_endpoint": format!("{endpoints}/register"),
            "code_challenge_methods_supported": ["S256"],
        })
    }

    async fn run(mcp: &str) -> Result<Discovered, DiscoveryError> {
        discover(&Outbound::for_upstream(mcp, 64 * 1024), mcp, None).await
    }

    #[tokio::test]
    async fn an_issuer_under_a_path_of_the_servers_own_origin_is_used_2025_03_26_section_2_3_2() {
        let mcp = run_server(Some(document("{base}/oauth", "{base}/oauth"))).await;
        let found = run(&mcp).await.unwrap_or_else(|e| panic!("discovery: {e}"));
        let base = mcp.trim_end_matches("/mcp");
        assert_eq!(found.metadata.issuer, format!("{base}/oauth"));
        assert_eq!(
            found.metadata.registration_endpoint.as_deref(),
            Some(format!("{base}/oauth/register").as_str()),
            "the document's endpoints, not the defaults"
        );
        assert_eq!(found.resource, mcp, "RFC 8707 resource still sent");
    }

    #[tokio::test]
    async fn the_origin_as_issuer_is_used_as_rfc_8414_section_3_3_wants() {
        let mcp = run_server(Some(document("{base}", "{base}/as"))).await;
        let found = run(&mcp).await.unwrap_or_else(|e| panic!("discovery: {e}"));
        assert_eq!(
            found.metadata.token_endpoint,
            format!("{}/as/token", mcp.trim_end_matches("/mcp"))
        );
    }

    #[tokio::test]
    async fn an_issuer_on_another_origin_is_set_aside_for_the_default_endpoints_section_2_3_3() {
        let mcp = run_server(Some(document(
            "https://elsewhere.example",
            "https://elsewhere.example",
        )))
        .await;
        let found = run(&mcp).await.unwrap_or_else(|e| panic!("discovery: {e}"));
        let base = mcp.trim_end_matches("/mcp");
        assert_eq!(found.metadata.issuer, base);
        assert_eq!(
            found.metadata.authorization_endpoint,
            format!("{base}/authorize")
        );
        assert_eq!(found.metadata.token_endpoint, format!("{base}/token"));
    }

    #[tokio::test]
    async fn without_a_document_the_default_endpoints_are_used_section_2_3_3() {
        let mcp = run_server(None).await;
        let found = run(&mcp).await.unwrap_or_else(|e| panic!("discovery: {e}"));
        let base = mcp.trim_end_matches("/mcp");
        assert_eq!(
            found.metadata.registration_endpoint.as_deref(),
            Some(format!("{base}/register").as_str())
        );
    }

    #[tokio::test]
    async fn a_document_of_its_own_origin_without_s256_is_still_refused() {
        let mut doc = document("{base}/oauth", "{base}/oauth");
        doc["code_challenge_methods_supported"] = json!(["plain"]);
        let mcp = run_server(Some(doc)).await;
        assert_eq!(run(&mcp).await, Err(DiscoveryError::NoS256));
    }
}
