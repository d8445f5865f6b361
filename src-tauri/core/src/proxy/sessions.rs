//! Legacy-era sessions (MCP 2025-03-26 … 2025-11-25 `Mcp-Session-Id`), translated at the proxy.
//!
//! The upstream's session id never reaches a client and a client's never reaches the upstream
//! (each side's session is its own): when an upstream response carries one, Gatehouse mints its own id
//! ([`TokenKind::SessionId`]: 256 random bits, base64url, visible ASCII) bound to the grant and
//! connection, and keeps the mapping in memory. A session id is never authentication (MCP security
//! best practices §Session Hijacking): the bearer guard runs first, and a known id presented under
//! another grant's token is answered exactly like an unknown one, 404 (MCP 2025-11-25 transports
//! §Session Management), so it does not reveal that the session exists.
//!
//! The table is bounded: idle sessions expire, and when it is full the least recently used goes.
//! Sessions of revoked grants are dropped when the revocation is announced. The upstream sessions
//! of all of these are ended upstream too ([`super::forgotten_sessions`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

use super::forgotten_sessions::UpstreamSessionId;
use crate::crypto::TokenKind;
use crate::crypto::token::generate;
use crate::store::{ConnectionId, GrantId};

/// Idle time after which a session is forgotten.
pub const SESSION_IDLE: Duration = Duration::from_secs(24 * 60 * 60);
/// Most sessions kept at once.
pub const MAX_SESSIONS: usize = 10_000;

#[derive(Debug, Clone)]
struct Entry {
    grant_id: GrantId,
    connection_id: ConnectionId,
    upstream: String,
    /// The client declared URL-mode elicitation in its `initialize`.
    url_elicitation: bool,
    /// The upstream speaks 2026-07-28 and Gatehouse holds the session itself.
    bridge: Option<Arc<ModernBridge>>,
    last_used: Instant,
}

/// A legacy session Gatehouse holds for a client of a 2026-07-28 upstream (which has no sessions):
/// what the client said in its `initialize`, sent along with each of its requests
/// ([`super::bridge::to_modern`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModernBridge {
    /// The protocol version negotiated with the client.
    pub version: String,
    /// `clientInfo` from its `initialize`.
    pub client_info: serde_json::Value,
    /// The client capabilities the upstream may rely on through the bridge.
    pub client_capabilities: serde_json::Value,
}

/// A known session, as a request of it is forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub local: String,
    pub upstream: String,
    /// The client declared URL-mode elicitation when it opened the session.
    pub url_elicitation: bool,
    /// Held by Gatehouse for a 2026-07-28 upstream (`upstream` is then empty).
    pub bridge: Option<Arc<ModernBridge>>,
}

/// Local session id → upstream session, bound to a grant.
#[derive(Debug, Default)]
pub struct Sessions {
    table: Mutex<HashMap<String, Entry>>,
    /// Upstream sessions of entries that went idle or were pushed out of the full table, until
    /// the proxy's background task ends them upstream ([`Sessions::take_forgotten`]).
    forgotten: Mutex<Vec<UpstreamSessionId>>,
}

impl Entry {
    /// The upstream session this entry maps to (a bridged entry has none).
    fn upstream_session(&self) -> Option<UpstreamSessionId> {
        (self.bridge.is_none() && !self.upstream.is_empty()).then(|| UpstreamSessionId {
            connection_id: self.connection_id.clone(),
            id: self.upstream.clone(),
        })
    }
}

impl Sessions {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn forget(&self, gone: impl IntoIterator<Item = UpstreamSessionId>) {
        let mut forgotten = self
            .forgotten
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        forgotten.extend(gone);
        // Bounded even if nobody takes them: the oldest are given up.
        if forgotten.len() > MAX_SESSIONS {
            let excess = forgotten.len() - MAX_SESSIONS;
            forgotten.drain(..excess);
        }
    }

    /// The upstream sessions of entries that went idle or were pushed out, to be ended upstream.
    pub fn take_forgotten(&self) -> Vec<UpstreamSessionId> {
        std::mem::take(
            &mut *self
                .forgotten
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Mints a local id for `upstream` and remembers it with what the client declared.
    pub fn open(
        &self,
        grant_id: &GrantId,
        connection_id: &ConnectionId,
        upstream: String,
        url_elicitation: bool,
    ) -> String {
        self.insert(grant_id, connection_id, upstream, url_elicitation, None)
    }

    /// Mints a local id for a session Gatehouse holds itself in front of a 2026-07-28 upstream.
    pub fn open_bridged(
        &self,
        grant_id: &GrantId,
        connection_id: &ConnectionId,
        bridge: ModernBridge,
        url_elicitation: bool,
    ) -> String {
        self.insert(
            grant_id,
            connection_id,
            String::new(),
            url_elicitation,
            Some(Arc::new(bridge)),
        )
    }

    fn insert(
        &self,
        grant_id: &GrantId,
        connection_id: &ConnectionId,
        upstream: String,
        url_elicitation: bool,
        bridge: Option<Arc<ModernBridge>>,
    ) -> String {
        let local = generate(TokenKind::SessionId).expose_secret().to_owned();
        let now = Instant::now();
        let mut table = self.table();
        let mut gone = Vec::new();
        table.retain(|_, e| {
            let idle = now.duration_since(e.last_used) >= SESSION_IDLE;
            if idle {
                gone.extend(e.upstream_session());
            }
            !idle
        });
        if table.len() >= MAX_SESSIONS
            && let Some(oldest) = table
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
        {
            gone.extend(table.remove(&oldest).and_then(|e| e.upstream_session()));
        }
        table.insert(
            local.clone(),
            Entry {
                grant_id: grant_id.clone(),
                connection_id: connection_id.clone(),
                upstream,
                url_elicitation,
                bridge,
                last_used: now,
            },
        );
        drop(table);
        self.forget(gone);
        local
    }

    /// The session `local`, if it exists and belongs to this grant and connection.
    pub fn find(
        &self,
        local: &str,
        grant_id: &GrantId,
        connection_id: &ConnectionId,
    ) -> Option<Session> {
        let mut table = self.table();
        let entry = table.get_mut(local)?;
        if &entry.grant_id != grant_id || &entry.connection_id != connection_id {
            return None;
        }
        if entry.last_used.elapsed() >= SESSION_IDLE {
            let gone = table.remove(local).and_then(|e| e.upstream_session());
            drop(table);
            self.forget(gone);
            return None;
        }
        entry.last_used = Instant::now();
        Some(Session {
            local: local.to_owned(),
            upstream: entry.upstream.clone(),
            url_elicitation: entry.url_elicitation,
            bridge: entry.bridge.clone(),
        })
    }

    /// Forgets `local` (DELETE, or the upstream said the session is gone).
    pub fn close(&self, local: &str) {
        self.table().remove(local);
    }

    /// Forgets every session of these grants, and returns the upstream sessions they mapped to
    /// (a bridged session has none upstream), to be ended there ([`super::forgotten_sessions`]).
    pub fn drop_grants(&self, grant_ids: &[GrantId]) -> Vec<UpstreamSessionId> {
        let mut ended = Vec::new();
        self.table().retain(|_, e| {
            let keep = !grant_ids.contains(&e.grant_id);
            if !keep {
                ended.extend(e.upstream_session());
            }
            keep
        });
        ended
    }

    /// The grants that hold sessions (once per session).
    pub fn grants(&self) -> Vec<GrantId> {
        self.table().values().map(|e| e.grant_id.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.table().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge() -> ModernBridge {
        ModernBridge {
            version: "2025-06-18".into(),
            client_info: serde_json::json!({"name": "c"}),
            client_capabilities: serde_json::json!({}),
        }
    }

    #[test]
    fn a_session_pushed_out_of_the_full_table_is_handed_on_to_be_ended_upstream() {
        let sessions = Sessions::default();
        let (grant, c) = (GrantId::new(), ConnectionId::new());
        let oldest = sessions.open(&grant, &c, "up-oldest".into(), false);
        sessions.open_bridged(&grant, &c, bridge(), false);
        for n in 2..MAX_SESSIONS {
            sessions.open(&grant, &c, format!("up-{n}"), false);
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(
            sessions.take_forgotten().is_empty(),
            "nothing pushed out yet"
        );

        sessions.open(&grant, &c, "up-newest".into(), false);
        assert_eq!(sessions.len(), MAX_SESSIONS, "still bounded");
        assert_eq!(
            sessions.find(&oldest, &grant, &c),
            None,
            "the least recently used went"
        );
        let pushed_out = UpstreamSessionId {
            connection_id: c.clone(),
            id: "up-oldest".into(),
        };
        assert_eq!(sessions.take_forgotten(), [pushed_out]);
        assert!(sessions.take_forgotten().is_empty(), "taken once");

        // A bridged session pushed out has nothing upstream to end.
        sessions.open(&grant, &c, "up-after".into(), false);
        assert!(sessions.take_forgotten().is_empty());
    }

    #[test]
    fn ids_are_bound_to_their_grant() {
        let sessions = Sessions::default();
        let (g1, g2, c) = (GrantId::new(), GrantId::new(), ConnectionId::new());
        let local = sessions.open(&g1, &c, "up-1".into(), true);
        assert!(
            local.bytes().all(|b| (0x21..=0x7e).contains(&b)) && local.len() >= 43,
            "visible ASCII with at least 256 random bits: {local}"
        );
        let found = sessions.find(&local, &g1, &c);
        assert_eq!(
            found.as_ref().map(|s| s.upstream.as_str()),
            Some("up-1"),
            "the owner gets the mapping"
        );
        assert_eq!(
            found.map(|s| s.url_elicitation),
            Some(true),
            "with what the client declared"
        );
        assert_eq!(
            sessions.find(&local, &g2, &c),
            None,
            "another grant cannot ride the session"
        );
        let bridged = sessions.open_bridged(&g1, &c, bridge(), false);
        let other = sessions.open(&g2, &c, "up-2".into(), false);
        let ended = sessions.drop_grants(std::slice::from_ref(&g1));
        let up_1 = UpstreamSessionId {
            connection_id: c.clone(),
            id: "up-1".into(),
        };
        assert_eq!(
            ended,
            [up_1],
            "the upstream session to end; a bridged one has none"
        );
        assert_eq!(sessions.find(&bridged, &g1, &c), None);
        assert!(
            sessions.find(&other, &g2, &c).is_some(),
            "other grants keep theirs"
        );
        assert_eq!(
            sessions.find(&local, &g1, &c),
            None,
            "a revoked grant's sessions are gone"
        );
    }
}
