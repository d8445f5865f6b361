//! Which OS account may use which route: consent belongs to the person at this desktop.
//!
//! The Host/Origin guard ([`super::guard`]) stops web pages; this layer stops *other OS accounts* on
//! the same computer, identified from the socket ([`crate::net::caller`]), never from anything the
//! peer sends. Routes fall into three classes ([`RouteClass`]):
//! - **Open**: `/health` and the discovery documents (RFC 8414, RFC 9728). Public by design.
//! - **Desktop only**: everything a person's browser does with Gatehouse — `/authorize`, the consent
//!   review and decision, the upstream sign-in started from the consent page, and the upstream
//!   callback. Another account gets 403, always.
//! - **Local clients**: the MCP proxy and the client's own OAuth calls (`/mcp/*`, `/register`,
//!   `/token`, `/revoke`, and any unknown path). Another account gets 403 unless the person allowed
//!   other accounts (Settings, off by default): then it may register and use grants that the
//!   desktop user approved, but still cannot approve anything.
//!
//! A peer whose account cannot be determined (its socket closed before the lookup) is refused like
//! another account: the check fails closed. A request that did not come through a socket (router
//! tests) carries no [`PeerConnection`] and is refused too, unless the test adds one.
//!
//! Each refusal is logged and written to the audit log (`caller.refused`), at most once a minute per
//! account and route class so that a flood cannot fill the log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::clock::UnixMillis;
use crate::net::caller::{PeerConnection, PeerUser};
use crate::oauth::server::consent_page::ErrorPage;
use crate::store::Store;
use crate::store::audit::{self, AuditKind, AuditSubject};

/// How often the same account's refusals on the same class of route are audited.
const AUDIT_EVERY_MS: UnixMillis = 60_000;

/// Who may call a route (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    Open,
    DesktopOnly,
    LocalClient,
}

impl RouteClass {
    /// The class of a request path.
    pub fn of(path: &str) -> RouteClass {
        if path == "/health" || path.starts_with("/.well-known/") {
            RouteClass::Open
        } else if path == "/authorize"
            || path.starts_with("/authorize/")
            || path.starts_with("/oauth/")
        {
            RouteClass::DesktopOnly
        } else {
            RouteClass::LocalClient
        }
    }

    fn name(self) -> &'static str {
        match self {
            RouteClass::Open => "open",
            RouteClass::DesktopOnly => "desktop_only",
            RouteClass::LocalClient => "local_client",
        }
    }
}

/// The policy's state: the setting and the audit throttle.
#[derive(Clone)]
pub struct CallerPolicy {
    store: Store,
    allow_other_users: Arc<AtomicBool>,
    last_audited: Arc<Mutex<HashMap<(String, RouteClass), UnixMillis>>>,
}

impl CallerPolicy {
    pub fn new(store: Store) -> Self {
        CallerPolicy {
            store,
            allow_other_users: Arc::new(AtomicBool::new(false)),
            last_audited: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Whether other OS accounts may use the MCP proxy and client endpoints (Settings; default off).
    pub fn set_allow_other_users(&self, allow: bool) {
        self.allow_other_users.store(allow, Ordering::Relaxed);
    }

    pub fn allows_other_users(&self) -> bool {
        self.allow_other_users.load(Ordering::Relaxed)
    }

    /// Whether `user` may call a route of `class`.
    pub fn admits(&self, class: RouteClass, user: &PeerUser) -> bool {
        match class {
            RouteClass::Open => true,
            RouteClass::DesktopOnly => user.is_desktop(),
            RouteClass::LocalClient => {
                user.is_desktop()
                    || (self.allows_other_users() && matches!(user, PeerUser::Other { .. }))
            }
        }
    }

    fn should_audit(&self, who: &str, class: RouteClass, now: UnixMillis) -> bool {
        let Ok(mut last) = self.last_audited.lock() else {
            return false;
        };
        if last.len() > 1024 {
            last.retain(|_, at| now - *at < AUDIT_EVERY_MS);
        }
        let key = (who.to_owned(), class);
        match last.get(&key) {
            Some(at) if now - *at < AUDIT_EVERY_MS => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }

    async fn audit_refusal(&self, user: &PeerUser, class: RouteClass, path: &str) {
        let who = user.describe();
        let now = self.store.now();
        if !self.should_audit(&who, class, now) {
            return;
        }
        let detail = serde_json::json!({
            "caller": who,
            "account": match user { PeerUser::Other { account } => Some(account.clone()), _ => None },
            "route": class.name(),
            "path": path,
        });
        let reason = String::from("other_os_user");
        let written = self
            .store
            .write(move |tx| {
                audit::append(
                    tx,
                    now,
                    AuditKind::CallerRefused,
                    &AuditSubject {
                        reason: Some(&reason),
                        detail: Some(&detail),
                        ..AuditSubject::default()
                    },
                )
            })
            .await;
        if let Err(error) = written {
            tracing::warn!(%error, "cannot audit a refused caller");
        }
    }
}

/// The middleware: resolves the peer's account when the route needs it and refuses what the policy
/// does not admit.
pub async fn enforce(State(policy): State<CallerPolicy>, request: Request, next: Next) -> Response {
    let class = RouteClass::of(request.uri().path());
    if class == RouteClass::Open {
        return next.run(request).await;
    }
    let user = match PeerConnection::of_request(request.extensions()) {
        Some(peer) => peer.user().await,
        None => PeerUser::Unknown,
    };
    if policy.admits(class, &user) {
        return next.run(request).await;
    }
    let path = request.uri().path();
    tracing::warn!(caller = %user.describe(), %path, "request refused: not the desktop user");
    policy.audit_refusal(&user, class, path).await;
    refusal(class)
}

fn refusal(class: RouteClass) -> Response {
    match class {
        RouteClass::DesktopOnly => ErrorPage {
            status: StatusCode::FORBIDDEN,
            title: "Only the person at this desktop can do this",
            message: String::from(
                "This request came from a program running as another user of this computer (or one \
                 Gatehouse could not identify). Consent and sign-in belong to the person logged in here.",
            ),
        }
        .into_response(),
        _ => (
            StatusCode::FORBIDDEN,
            [(http::header::CACHE_CONTROL, "no-store")],
            axum::Json(serde_json::json!({
                "error": "access_denied",
                "error_description": "Gatehouse only serves programs of the user logged in at this desktop; \
                                      other OS accounts are not allowed (Settings can allow them)",
            })),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classified_by_what_they_do() {
        assert_eq!(RouteClass::of("/health"), RouteClass::Open);
        assert_eq!(
            RouteClass::of("/.well-known/oauth-authorization-server"),
            RouteClass::Open
        );
        for desktop in [
            "/authorize",
            "/authorize/decision",
            "/authorize/review",
            "/oauth/upstream-signin",
            "/oauth/callback",
            "/oauth/connections/docs/signin",
        ] {
            assert_eq!(
                RouteClass::of(desktop),
                RouteClass::DesktopOnly,
                "{desktop}"
            );
        }
        for client in ["/mcp/docs", "/register", "/token", "/revoke", "/nope"] {
            assert_eq!(RouteClass::of(client), RouteClass::LocalClient, "{client}");
        }
        assert_eq!(
            RouteClass::of("/authorizex"),
            RouteClass::LocalClient,
            "a prefix is not the route"
        );
    }

    #[test]
    fn another_account_never_decides_and_uses_clients_routes_only_when_allowed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(
            &dir.path().join("g.db"),
            Arc::new(crate::clock::SystemClock),
        )
        .expect("store");
        let policy = CallerPolicy::new(store);
        let other = PeerUser::Other {
            account: String::from("uid 4242"),
        };
        assert!(policy.admits(RouteClass::DesktopOnly, &PeerUser::Desktop));
        assert!(!policy.admits(RouteClass::DesktopOnly, &other));
        assert!(
            !policy.admits(RouteClass::LocalClient, &other),
            "default off"
        );
        assert!(!policy.admits(RouteClass::LocalClient, &PeerUser::Unknown));
        policy.set_allow_other_users(true);
        assert!(
            policy.admits(RouteClass::LocalClient, &other),
            "allowed by the setting"
        );
        assert!(
            !policy.admits(RouteClass::DesktopOnly, &other),
            "the setting never lets another account approve"
        );
        assert!(
            !policy.admits(RouteClass::LocalClient, &PeerUser::Unknown),
            "unknown still fails closed"
        );
    }

    #[test]
    fn refusals_are_audited_at_most_once_a_minute_per_account_and_class() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(
            &dir.path().join("g.db"),
            Arc::new(crate::clock::SystemClock),
        )
        .expect("store");
        let policy = CallerPolicy::new(store);
        assert!(policy.should_audit("uid 1", RouteClass::LocalClient, 0));
        assert!(!policy.should_audit("uid 1", RouteClass::LocalClient, 59_999));
        assert!(policy.should_audit("uid 1", RouteClass::DesktopOnly, 1));
        assert!(policy.should_audit("uid 2", RouteClass::LocalClient, 1));
        assert!(policy.should_audit("uid 1", RouteClass::LocalClient, 60_000));
    }
}
