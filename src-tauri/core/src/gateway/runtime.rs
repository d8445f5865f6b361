//! The gateway's runtime: the one object that owns what the request handlers share (the vault
//! with its store and event bus, the gateway's own authority, the upstream OAuth state with its
//! caches, and the host of local stdio servers) and hands each handler the parts it needs.
//!
//! It is built once per process: by [`super::start`] for a serving gateway (the app, `gatehoused
//! serve`), or on its own by a command-line use case that signs in or out without serving. The
//! handlers (`oauth::server`, `oauth::upstream`, `proxy`) never import it: they take the parts, so
//! the imports point one way, from this composition down to them.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::net::loopback::LocalAuthority;
use crate::oauth::upstream::UpstreamOAuth;
use crate::stdio::StdioHost;
use crate::store::StoreEvent;
use crate::vault::Vault;

/// What the gateway's handlers share, built once.
#[derive(Clone)]
pub struct Runtime {
    pub vault: Vault,
    pub local: LocalAuthority,
    /// Role 2: upstream OAuth sign-ins, tokens and their caches (one per process).
    pub upstream_oauth: Arc<UpstreamOAuth>,
    /// The local stdio servers of stdio connections (started on first use).
    pub stdio: Arc<StdioHost>,
}

impl Runtime {
    /// The runtime of a gateway on `local` over `vault`; stdio servers log next to its database.
    pub fn new(vault: Vault, local: LocalAuthority) -> Self {
        let data_dir = vault.store().path().parent().map_or_else(
            || std::path::PathBuf::from("."),
            std::path::Path::to_path_buf,
        );
        Self {
            upstream_oauth: UpstreamOAuth::new(&vault),
            stdio: StdioHost::new(&data_dir),
            vault,
            local,
        }
    }

    /// The store's events (grants revoked, connections changed, …) from now on, in this process.
    pub fn events(&self) -> broadcast::Receiver<StoreEvent> {
        self.vault.store().subscribe()
    }
}

impl axum::extract::FromRef<Runtime> for LocalAuthority {
    fn from_ref(runtime: &Runtime) -> Self {
        runtime.local
    }
}
