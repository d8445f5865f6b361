//! Which protocol era an upstream speaks, found once per connection configuration and remembered
//! (MCP 2026-07-28 basic/versioning §Backward Compatibility with Initialization-Based Versions;
//! Streamable HTTP §Backward Compatibility).
//!
//! Gatehouse probes the way a dual-era client does: a `server/discover` request in the modern shape
//! (`_meta` protocol version, client info and capabilities; `MCP-Protocol-Version` and `Mcp-Method`
//! headers). A `DiscoverResult` that offers 2026-07-28 makes the upstream **modern**; so does a
//! `400` whose body is a recognised modern error (-32020 header mismatch, -32021 missing client
//! capability, -32022 unsupported version naming 2026-07-28). Anything else the upstream says
//! (another 4xx, a JSON-RPC error such as -32601, a body that is not JSON-RPC) makes it **legacy**.
//! Silence is neither: no answer, a 401/403 (the credential, not the era), a redirect or a 5xx leave
//! the era unknown and nothing is remembered, so the request is forwarded as it is and meets the
//! usual error handling.
//!
//! "The era determination is a property of the server": it is remembered per connection and
//! configuration version (a changed URL is a new configuration), and forgotten when an assumption
//! fails ([`Eras::forget`]: a bridged request answered the way only the other era answers), so the
//! next request probes again.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use http::{HeaderMap, HeaderValue, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::Proxy;
use super::forward::{MCP_PROTOCOL_VERSION, MCP_SESSION_ID};
use super::jsonrpc::MODERN_META_KEY;
use super::modern::{HEADER_MISMATCH, UNSUPPORTED_PROTOCOL_VERSION};
use super::own_call::{self, Reply};
use super::upstream::Upstream;
use crate::store::ConnectionId;

/// The stateless revision Gatehouse speaks to modern peers.
pub const MODERN_VERSION: &str = "2026-07-28";
/// `_meta` keys of the modern per-request envelope (2026-07-28 basic/index §_meta).
pub const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
pub const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
pub const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";
/// -32021, `MissingRequiredClientCapabilityError` (2026-07-28 schema).
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;
pub const MCP_METHOD: http::HeaderName = http::HeaderName::from_static("mcp-method");
pub const MCP_NAME: http::HeaderName = http::HeaderName::from_static("mcp-name");

/// An upstream's era.
#[derive(Debug, Clone, PartialEq)]
pub enum Era {
    /// 2026-07-28 only: its `DiscoverResult` (capabilities, server info, instructions).
    Modern(Arc<Value>),
    /// 2026-07-28 and, on the same endpoint, `initialize` sessions (a dual-era server, MCP 2026-07-28
    /// basic/versioning §Backward Compatibility: "A dual-era server MAY serve both eras
    /// concurrently"): each client is forwarded in its own era.
    Dual,
    /// 2025-11-25 and earlier: `initialize` and sessions.
    Legacy,
}

/// What Gatehouse says about itself as a modern client.
pub fn gatehouse_client_info() -> Value {
    json!({ "name": "Gatehouse", "version": env!("CARGO_PKG_VERSION") })
}

/// The modern `_meta` envelope for a request Gatehouse sends (or bridges) to a modern upstream.
pub fn modern_envelope(client_info: &Value, client_capabilities: &Value) -> Value {
    json!({
        MODERN_META_KEY: MODERN_VERSION,
        CLIENT_INFO_KEY: client_info,
        CLIENT_CAPABILITIES_KEY: client_capabilities,
    })
}

/// The headers of a modern request for `method` (routing headers beyond `Mcp-Method` are the
/// caller's).
pub fn modern_headers(method: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        MCP_PROTOCOL_VERSION,
        HeaderValue::from_static(MODERN_VERSION),
    );
    if let Ok(value) = HeaderValue::from_str(method) {
        headers.insert(MCP_METHOD, value);
    }
    headers
}

/// Reads the answer to a `server/discover` probe: `None` when it says nothing about the era.
pub fn classify(status: StatusCode, message: Option<&Value>) -> Option<Era> {
    if status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || status.is_redirection()
        || status.is_server_error()
    {
        return None;
    }
    let offers_modern = |versions: Option<&Value>| {
        versions
            .and_then(Value::as_array)
            .is_some_and(|v| v.iter().any(|v| v == MODERN_VERSION))
    };
    if status.is_success()
        && let Some(result) = message.and_then(|m| m.get("result"))
        && offers_modern(result.get("supportedVersions"))
    {
        return Some(Era::Modern(Arc::new(result.clone())));
    }
    if status == StatusCode::BAD_REQUEST
        && let Some(error) = message.and_then(|m| m.get("error"))
    {
        let code = error.get("code").and_then(Value::as_i64);
        let modern = match code {
            Some(HEADER_MISMATCH | MISSING_REQUIRED_CLIENT_CAPABILITY) => true,
            Some(UNSUPPORTED_PROTOCOL_VERSION) => offers_modern(error.pointer("/data/supported")),
            _ => false,
        };
        if modern {
            // Modern, but the probe itself was refused: what it offers is unknown.
            return Some(Era::Modern(Arc::new(json!({
                "supportedVersions": [MODERN_VERSION],
                "capabilities": {},
            }))));
        }
    }
    Some(Era::Legacy)
}

/// The remembered eras, by connection and configuration version.
#[derive(Debug, Default)]
pub struct Eras {
    map: RwLock<HashMap<ConnectionId, (i64, Era)>>,
}

impl Eras {
    pub fn cached(&self, connection: &ConnectionId, config_version: i64) -> Option<Era> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(connection)
            .filter(|(v, _)| *v == config_version)
            .map(|(_, era)| era.clone())
    }

    pub fn remember(&self, connection: &ConnectionId, config_version: i64, era: Era) {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connection.clone(), (config_version, era));
    }

    /// The assumption failed: probe again next time.
    pub fn forget(&self, connection: &ConnectionId) {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(connection);
    }
}

/// The upstream's era: remembered, or probed now (`None`: unknown, see the module doc).
pub(super) async fn era_of(
    proxy: &Proxy,
    upstream: &Upstream,
    bearer: Option<&SecretString>,
) -> Option<Era> {
    if let Some(era) = proxy
        .eras
        .cached(&upstream.connection_id, upstream.config_version)
    {
        return Some(era);
    }
    let probe = json!({
        "jsonrpc": "2.0",
        "id": "gatehouse-era-probe",
        "method": "server/discover",
        "params": { "_meta": modern_envelope(&gatehouse_client_info(), &json!({})) },
    });
    let headers = modern_headers("server/discover");
    let mut era = match own_call::call(proxy, upstream, bearer, headers, &probe).await {
        Ok(Reply {
            status, message, ..
        }) => classify(status, message.as_ref()),
        Err(_) => None,
    }?;
    if matches!(era, Era::Modern(_)) && serves_legacy(proxy, upstream, bearer).await {
        era = Era::Dual;
    }
    tracing::info!(
        connection = %upstream.connection_id,
        era = match era { Era::Modern(_) => "2026-07-28", Era::Dual => "both", Era::Legacy => "legacy" },
        "upstream protocol era detected"
    );
    proxy.eras.remember(
        &upstream.connection_id,
        upstream.config_version,
        era.clone(),
    );
    Some(era)
}

/// Whether a modern upstream also answers a legacy `initialize` (a discover result lists only
/// modern versions even on a dual-era server, so only asking tells). The session it may open is
/// ended at once.
async fn serves_legacy(proxy: &Proxy, upstream: &Upstream, bearer: Option<&SecretString>) -> bool {
    let initialize = json!({
        "jsonrpc": "2.0", "id": "gatehouse-era-probe-initialize", "method": "initialize",
        "params": {
            "protocolVersion": LEGACY_PROBE_VERSION,
            "capabilities": {},
            "clientInfo": gatehouse_client_info(),
        },
    });
    let Ok(reply) = own_call::call(proxy, upstream, bearer, HeaderMap::new(), &initialize).await
    else {
        return false;
    };
    let legacy = reply.status.is_success()
        && reply
            .message
            .as_ref()
            .and_then(|m| m.pointer("/result/protocolVersion"))
            .and_then(Value::as_str)
            .is_some_and(|v| v != MODERN_VERSION);
    if let Some(session) = reply.headers.get(MCP_SESSION_ID) {
        let mut headers = HeaderMap::new();
        headers.insert(MCP_SESSION_ID, session.clone());
        if let Some(token) = bearer {
            super::upstream::set_bearer(&mut headers, token);
        }
        let end = upstream
            .request(&proxy.http, http::Method::DELETE, headers)
            .send();
        let _ = tokio::time::timeout(proxy.options.response_start_timeout, end).await;
    }
    legacy
}

/// The version asked for when probing for legacy service.
const LEGACY_PROBE_VERSION: &str = "2025-11-25";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discover_result_offering_2026_07_28_is_modern() {
        // 2026-07-28 server/discover §Response.
        let answer = json!({"jsonrpc": "2.0", "id": 1, "result": {
            "resultType": "complete", "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}}, "_meta": {SERVER_INFO_KEY: {"name": "s", "version": "1"}}}});
        let Some(Era::Modern(result)) = classify(StatusCode::OK, Some(&answer)) else {
            panic!("modern expected");
        };
        assert_eq!(result["capabilities"], json!({"tools": {}}));
    }

    #[test]
    fn a_recognised_modern_error_on_400_is_modern_anything_else_legacy() {
        // Streamable HTTP §Backward Compatibility: inspect the 400's body before falling back.
        let error = |code: i64, data: Value| json!({"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": "m", "data": data}});
        for (answer, modern) in [
            (error(-32020, Value::Null), true),
            (error(-32021, Value::Null), true),
            (
                error(
                    -32022,
                    json!({"supported": ["2026-07-28"], "requested": "x"}),
                ),
                true,
            ),
            // Offers only versions Gatehouse does not speak: not a modern peer for Gatehouse.
            (error(-32022, json!({"supported": ["2099-01-01"]})), false),
            // The TypeScript SDK's legacy servers: "Server not initialized" / no session.
            (error(-32000, Value::Null), false),
        ] {
            let era = classify(StatusCode::BAD_REQUEST, Some(&answer));
            assert_eq!(
                matches!(era, Some(Era::Modern(_))),
                modern,
                "{answer} → {era:?}"
            );
        }
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, None),
            Some(Era::Legacy),
            "an empty 400 body falls back to initialize"
        );
        let method_not_found =
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no"}});
        assert_eq!(
            classify(StatusCode::OK, Some(&method_not_found)),
            Some(Era::Legacy),
            "a server that does not know server/discover is legacy (servers MUST implement it)"
        );
        assert_eq!(classify(StatusCode::NOT_FOUND, None), Some(Era::Legacy));
    }

    #[test]
    fn credentials_and_outages_say_nothing_about_the_era() {
        for status in [
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::FOUND,
            StatusCode::BAD_GATEWAY,
        ] {
            assert_eq!(classify(status, None), None, "{status}");
        }
    }

    #[test]
    fn the_era_is_remembered_per_configuration_and_forgotten_on_failure() {
        let eras = Eras::default();
        let c = ConnectionId::new();
        eras.remember(&c, 3, Era::Legacy);
        assert_eq!(eras.cached(&c, 3), Some(Era::Legacy));
        assert_eq!(eras.cached(&c, 4), None, "a new configuration probes again");
        eras.forget(&c);
        assert_eq!(eras.cached(&c, 3), None);
    }
}
