//! Both protocol eras, bridged (MCP 2026-07-28 basic/versioning §Backward Compatibility with
//! Initialization-Based Versions and its compatibility matrix).
//!
//! Without Gatehouse a modern (2026-07-28) client fails against a legacy (`initialize`, sessions)
//! server and a legacy client fails against a modern-only one. Gatehouse knows each upstream's era
//! ([`super::era`]) and speaks the other one to it when the client's differs:
//!
//! - [`to_modern`]: a legacy client in front of a 2026-07-28 upstream. Gatehouse answers
//!   `initialize` itself from the upstream's `DiscoverResult` and holds the session; each request of
//!   the session goes upstream statelessly with the client's `initialize` facts in its `_meta` and
//!   the routing headers a modern client sends (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`).
//! - [`to_legacy`]: a 2026-07-28 client in front of a legacy upstream. Gatehouse answers
//!   `server/discover` itself from the upstream's `initialize` result, and forwards each request on
//!   an upstream session it opened for the grant, with the modern `_meta` keys taken out.
//!
//! Server-to-client requests do not cross the bridge: Gatehouse declares no sampling, elicitation or
//! roots capability to either side's upstream on the client's behalf, so a well-behaved upstream does
//! not send them; a 2026-07-28
//! `InputRequiredResult` reaches a legacy client as it is.

pub mod results;
pub mod to_legacy;
pub mod to_modern;

use std::sync::Arc;

use http::HeaderMap;
use secrecy::SecretString;
use serde_json::Value;

use super::Proxy;
use super::bearer::Authorized;
use super::filter::ToolAllowList;
use super::jsonrpc::Message;
use super::upstream::Upstream;

/// One checked client request on its way to an upstream of the other era.
pub(crate) struct Crossing {
    pub proxy: Arc<Proxy>,
    /// The client's request headers.
    pub headers: HeaderMap,
    pub authorized: Authorized,
    /// The parsed body (one message).
    pub body: Value,
    pub message: Message,
    pub tools_list: Option<(ToolAllowList, Vec<Value>)>,
    pub upstream: Arc<Upstream>,
    pub bearer: Option<SecretString>,
}
