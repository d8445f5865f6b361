//! An upstream that starts naming a different authorization server (MCP 2026-07-28 authorization,
//! "Client Registration" / "Authorization Server Binding": a client's credentials belong to the AS
//! whose issuer they were obtained from and are never used with another one; RFC 9728 §7.6: the
//! protected resource's metadata may change which AS it trusts, and a client must not follow it with
//! the credentials of the old one; RFC 9728 §5.2: the 401 that follows carries the
//! `resource_metadata` to read afresh).
//!
//! The sign-in world of `gatehouse_testkit::signin` (real servers on 127.0.0.1:0, a real gateway, a real SQLite store) gives
//! the upstream MCP server and AS #1; this file adds AS #2, the same fake AS on its own socket with
//! its own log, whose token endpoint also tells the upstream to accept what it issues. Switching the
//! upstream's protected resource metadata (`OAuthUpstream::prm_as`) to AS #2 and making the upstream refuse
//! the current access token must:
//!
//! 1. send no token request (so neither the refresh token nor the DCR client) to AS #1 or AS #2;
//! 2. answer the local client with a JSON-RPC error (HTTP 200, never 401) that says to sign in again;
//! 3. leave the connection `reauth_required`, with an event for the app and the reason in the audit
//!    log, and the old tokens dropped;
//! 4. on the next sign-in, register anew at AS #2 (the stored DCR client is AS #1's) and work: the
//!    next proxied call carries a token AS #2 issued.
//!
//! AS #1 stays fully working throughout (it would refresh if asked), so any token request to it is a
//! leak the request logs catch, not a refusal that happens to end in the same state.
//!
//! Both sign-in paths are covered: the app's (the gateway's own `UpstreamOAuth`, whose discovery
//! cache the proxy shares) and the CLI's (`gatehoused signin`: a new process, so a new
//! `UpstreamOAuth` each time). A third test changes the AS without any 401: the access token simply
//! expires, and the refresh finds the new AS on its own.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use gatehouse_core::clock::{Clock, HOUR, ManualClock, SystemClock};
use gatehouse_core::oauth::upstream::UpstreamOAuth;
use gatehouse_core::store::StoreEvent;
use gatehouse_core::store::audit::{self, AuditKind};
use gatehouse_core::store::connections::ConnectionStatus;
use gatehouse_core::store::upstream_credentials::{self, UpstreamCredential};
use gatehouse_testkit::signin::*;
use serde_json::{Value, json};

/// Where AS #2's counters start, so its tokens and client ids never look like AS #1's.
const SECOND_AS_FIRST: usize = 1000;

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------- AS #2

#[derive(Clone)]
struct SecondAs {
    own: Arc<OAuthUpstream>,
    /// The upstream MCP server's world: it accepts the access tokens in its `access` set.
    upstream: Arc<OAuthUpstream>,
}

/// AS #2's token endpoint: `gatehouse_testkit`'s `token` on its own state; then the upstream, which now trusts
/// AS #2, accepts every access token AS #2 has issued.
async fn second_token(
    State(s): State<SecondAs>,
    headers: HeaderMap,
    form: Form<HashMap<String, String>>,
) -> Response {
    let answer = token(State(s.own.clone()), headers, form).await;
    let issued: Vec<String> = locked(&s.own.access).iter().cloned().collect();
    locked(&s.upstream.access).extend(issued);
    answer
}

/// A second authorization server on its own socket: metadata, /register, /authorize, /token,
/// /revoke, /userinfo, every request logged in its own [`OAuthUpstream`].
async fn start_second_as(upstream: &Arc<OAuthUpstream>) -> Arc<OAuthUpstream> {
    let own = Arc::new(OAuthUpstream::default());
    *locked(&own.iss_mode) = "ok";
    *locked(&own.expires_in) = 3600;
    own.counter.store(SECOND_AS_FIRST, Ordering::SeqCst);
    let token_route = Router::new()
        .route("/token", post(second_token))
        .with_state(SecondAs {
            own: own.clone(),
            upstream: upstream.clone(),
        });
    let app = Router::new()
        .route("/.well-known/oauth-authorization-server", get(as_metadata))
        .route("/register", post(register))
        .route("/authorize", get(authorize))
        .route("/revoke", post(revoke))
        .route("/userinfo", get(userinfo))
        .fallback(not_found)
        .with_state(own.clone())
        .merge(token_route);
    *locked(&own.issuer) = serve(app).await;
    own
}

// ---------------------------------------------------------------- the scenario

/// Who starts a sign-in.
#[derive(Clone, Copy, Debug)]
enum SignInPath {
    /// The app's "Sign in" button: the running gateway's own `UpstreamOAuth`.
    App,
    /// `gatehoused signin`: a new process, hence a new `UpstreamOAuth` each time.
    Cli,
}

struct Setup {
    env: Env,
    /// The upstream MCP server and AS #1.
    first: Arc<OAuthUpstream>,
    /// AS #2.
    second: Arc<OAuthUpstream>,
    path: SignInPath,
}

impl Setup {
    async fn new(path: SignInPath) -> Self {
        Self::on(Env::new().await, path).await
    }

    async fn on(env: Env, path: SignInPath) -> Self {
        let first = env.upstream.clone();
        let second = start_second_as(&first).await;
        Self {
            env,
            first,
            second,
            path,
        }
    }

    fn issuer(w: &OAuthUpstream) -> String {
        locked(&w.issuer).clone()
    }

    async fn sign_in(&self) {
        let oauth = match self.path {
            SignInPath::App => self.env.gateway.upstream_oauth().clone(),
            SignInPath::Cli => UpstreamOAuth::new(&self.env.vault),
        };
        let callback = self.env.authorize_via(&oauth, &self.env.connection).await;
        let (status, page) = self.env.deliver(&callback).await;
        assert_eq!(
            status, 200,
            "{:?}: the callback completes the sign-in: {page}",
            self.path
        );
        assert!(page.contains("Signed in to Upstream up"), "{page}");
    }

    /// A proxied `tools/list` with the local client's token: HTTP status, `WWW-Authenticate`, body.
    async fn call(&self, local: &str) -> (u16, Option<String>, Value) {
        let r = self
            .env
            .http
            .post(format!("{}/mcp/up", self.env.gateway.base_url()))
            .bearer_auth(local)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(json!({"jsonrpc":"2.0","id":7,"method":"tools/list"}).to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("the gateway answers: {e}"));
        let status = r.status().as_u16();
        let challenge = r
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("the gateway answers JSON: {e}"));
        (status, challenge, body)
    }

    fn credential(&self) -> UpstreamCredential {
        let id = self.env.connection.clone();
        self.env
            .vault
            .store()
            .read_blocking(move |c| upstream_credentials::get(c, &id))
            .unwrap_or_else(|e| panic!("read the upstream credential: {e}"))
            .unwrap_or_else(|| panic!("the connection has an upstream credential row"))
    }

    fn last_bearer(&self) -> String {
        locked(&self.first.mcp_bearers)
            .last()
            .cloned()
            .unwrap_or_else(|| panic!("the upstream saw a bearer token"))
    }

    /// The upstream starts naming AS #2 in its protected resource metadata and stops accepting the
    /// access tokens of AS #1.
    fn switch_to_second_as(&self) {
        *locked(&self.first.prm_as) = Some(Self::issuer(&self.second));
        locked(&self.first.access).clear();
    }

    /// Signed in at AS #1 and one successful proxied call; returns the local client's token.
    async fn signed_in_at_first(&self) -> String {
        self.sign_in().await;
        let first_issuer = Self::issuer(&self.first);
        assert_eq!(locked(&self.first.registrations).len(), 1, "DCR at AS #1");
        assert_eq!(self.env.row().status, ConnectionStatus::Connected);
        assert_eq!(
            self.credential().issuer.as_deref(),
            Some(first_issuer.as_str()),
            "the credential is bound to AS #1's issuer"
        );
        let local = self.env.local_token();
        let (status, _, body) = self.call(&local).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["ok"], true, "the call goes through: {body}");
        local
    }

    /// Everything AS #1 has ever issued as a refresh token (still live or rotated away).
    fn first_refresh_tokens(&self) -> HashSet<String> {
        locked(&self.first.token_forms)
            .iter()
            .filter_map(|f| f.get("refresh_token").cloned())
            .chain(locked(&self.first.refresh).iter().cloned())
            .collect()
    }

    /// Checks 1-3 of the module doc after the call that met the AS change.
    fn assert_reauth_without_leaks(
        &self,
        answer: (u16, Option<String>, Value),
        first_token_requests: usize,
        old_refresh: &HashSet<String>,
    ) {
        let (status, challenge, body) = answer;
        let path = self.path;

        // 1. No token request anywhere: not the old refresh token, not AS #1's client.
        assert_eq!(
            locked(&self.first.token_forms).len(),
            first_token_requests,
            "{path:?}: RFC 9728 §7.6: no token request may go to AS #1 once the upstream names AS #2"
        );
        assert_eq!(
            self.first.refresh_calls.load(Ordering::SeqCst),
            0,
            "{path:?}: RFC 9728 §7.6: no refresh at AS #1"
        );
        assert!(
            locked(&self.second.token_forms).is_empty(),
            "{path:?}: MCP 2026-07-28 authorization server binding: AS #1's refresh token and \
             client must never reach AS #2's token endpoint, yet it got: {:?}",
            locked(&self.second.token_forms)
        );
        for (who, world, skip) in [
            ("AS #1", &self.first, first_token_requests),
            ("AS #2", &self.second, 0),
        ] {
            for form in locked(&world.token_forms).iter().skip(skip) {
                assert!(
                    !form.values().any(|v| old_refresh.contains(v)),
                    "{path:?}: RFC 9728 §7.6: the old refresh token must not be sent, yet it reached \
                     {who}: {form:?}"
                );
            }
        }
        let second_log = locked(&self.second.log).clone();
        assert!(
            second_log
                .iter()
                .any(|p| p == "/.well-known/oauth-authorization-server"),
            "{path:?}: RFC 9728 §5.2: Gatehouse reads the upstream's metadata afresh and finds \
             AS #2 (the refusal comes from seeing the change): {second_log:?}"
        );
        assert!(
            !second_log
                .iter()
                .any(|p| p == "/token" || p == "/register" || p == "/revoke"),
            "{path:?}: nothing but AS #2's metadata may be asked for before the person signs in \
             again: {second_log:?}"
        );
        assert!(
            locked(&self.second.registrations).is_empty(),
            "{path:?}: MCP 2026-07-28 client registration: no registration at AS #2 without the \
             person signing in"
        );

        // 2. The local client is told, in band.
        assert_eq!(
            status, 200,
            "{path:?}: the local client gets a JSON-RPC error over HTTP 200, never HTTP 401: {body}"
        );
        assert!(
            challenge.is_none(),
            "{path:?}: no challenge to the local client (its own token is fine): {challenge:?}"
        );
        assert_eq!(body["id"], 7, "the error answers the request: {body}");
        assert!(body.get("result").is_none(), "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.to_lowercase().contains("sign in again"),
            "{path:?}: the JSON-RPC error tells the person to sign in again: {body}"
        );
        assert!(message.contains("open Gatehouse"), "{message}");

        // 3. The connection needs a new sign-in; the old tokens are gone.
        let row = self.env.row();
        assert_eq!(
            row.status,
            ConnectionStatus::ReauthRequired,
            "{path:?}: the connection is reauth_required after the AS change"
        );
        assert_eq!(row.status_detail.as_deref(), Some("Sign in again"));
        let credential = self.credential();
        assert!(
            credential.access_token_sealed.is_none() && credential.refresh_token_sealed.is_none(),
            "{path:?}: AS #1's tokens are dropped"
        );
        let reason = self
            .env
            .vault
            .store()
            .read_blocking(|c| audit::list_recent(c, 50))
            .unwrap_or_else(|e| panic!("read the audit log: {e}"))
            .into_iter()
            .find(|e| {
                e.kind == AuditKind::UpstreamReauthRequired
                    && e.connection_id.as_ref() == Some(&self.env.connection)
            })
            .and_then(|e| e.reason)
            .unwrap_or_default();
        assert!(
            reason.contains("authorization server changed"),
            "{path:?}: the audit log says the AS changed: {reason:?}"
        );
    }

    /// Check 4 of the module doc: a new sign-in registers at AS #2 and works.
    async fn assert_signs_in_at_second(&self, local: &str, first_client: &str) {
        let path = self.path;
        let first_token_requests = locked(&self.first.token_forms).len();
        self.sign_in().await;

        let registrations = locked(&self.second.registrations).clone();
        assert_eq!(
            registrations.len(),
            1,
            "{path:?}: MCP 2026-07-28 client registration: a new DCR registration at AS #2, since \
             the stored one belongs to AS #1's issuer"
        );
        assert_eq!(
            locked(&self.first.registrations).len(),
            1,
            "{path:?}: nothing registered again at AS #1"
        );
        let query = locked(&self.second.authorize_queries)
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("{path:?}: the browser was sent to AS #2's /authorize"));
        let second_client = query["client_id"].clone();
        assert!(
            second_client
                .strip_prefix("dcr-client-")
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n >= SECOND_AS_FIRST),
            "{path:?}: AS #2's own client id: {second_client}"
        );
        assert_ne!(
            second_client, first_client,
            "{path:?}: AS #1's client id is not used at AS #2"
        );
        assert_eq!(
            locked(&self.first.authorize_queries).len(),
            1,
            "{path:?}: the sign-in did not go to AS #1"
        );
        assert_eq!(
            locked(&self.first.token_forms).len(),
            first_token_requests,
            "{path:?}: no token request at AS #1 during the new sign-in"
        );
        let forms = locked(&self.second.token_forms).clone();
        assert_eq!(forms.len(), 1, "{path:?}: one code exchange at AS #2");
        assert_eq!(forms[0]["grant_type"], "authorization_code");
        assert_eq!(forms[0]["client_id"], second_client);
        let mcp_base = locked(&self.first.mcp_base).clone();
        assert_eq!(
            forms[0]["resource"],
            format!("{mcp_base}/mcp"),
            "RFC 8707: the same resource, now at AS #2"
        );

        let second_issuer = Self::issuer(&self.second);
        assert_eq!(self.env.row().status, ConnectionStatus::Connected);
        assert_eq!(
            self.credential().issuer.as_deref(),
            Some(second_issuer.as_str()),
            "{path:?}: the credential is now bound to AS #2's issuer"
        );

        let (status, _, body) = self.call(local).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["result"]["ok"], true,
            "{path:?}: the same local grant works again through AS #2's token: {body}"
        );
        let bearer = self.last_bearer();
        assert!(
            locked(&self.second.access).contains(&bearer),
            "{path:?}: the upstream saw a token AS #2 issued: {bearer}"
        );
    }
}

async fn as_change_after_a_401(path: SignInPath) {
    let setup = Setup::new(path).await;
    let local = setup.signed_in_at_first().await;
    let first_client = locked(&setup.first.authorize_queries)[0]["client_id"].clone();
    let first_token_requests = locked(&setup.first.token_forms).len();
    let old_refresh = setup.first_refresh_tokens();
    assert!(!old_refresh.is_empty(), "AS #1 issued a refresh token");
    let mut events = setup.env.vault.store().subscribe();

    setup.switch_to_second_as();
    let answer = setup.call(&local).await;
    let mut told = false;
    while let Ok(event) = events.try_recv() {
        told |= matches!(
            event,
            StoreEvent::ConnectionStatusChanged {
                status: ConnectionStatus::ReauthRequired,
                ..
            }
        );
    }
    assert!(
        locked(&setup.first.log)
            .iter()
            .filter(|p| *p == "POST /mcp")
            .count()
            >= 2,
        "the upstream was asked and refused the token"
    );
    setup.assert_reauth_without_leaks(answer, first_token_requests, &old_refresh);
    assert!(
        told,
        "{path:?}: an event tells the app the connection needs a new sign-in"
    );

    // A second call before anyone signs in: still no token request, still the same answer.
    let (status, _, body) = setup.call(&local).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Sign in again"),
        "{body}"
    );
    assert!(locked(&setup.second.token_forms).is_empty());
    assert_eq!(locked(&setup.first.token_forms).len(), first_token_requests);

    setup.assert_signs_in_at_second(&local, &first_client).await;
}

// ---------------------------------------------------------------- tests

/// The app path: the gateway's own `UpstreamOAuth` signs in, proxies, meets the 401, signs in again.
#[tokio::test]
async fn app_sign_in_an_as_change_needs_a_new_sign_in_that_registers_at_the_new_as() {
    as_change_after_a_401(SignInPath::App).await;
}

/// The CLI path: each `gatehoused signin` is a new process with its own discovery.
#[tokio::test]
async fn cli_sign_in_an_as_change_needs_a_new_sign_in_that_registers_at_the_new_as() {
    as_change_after_a_401(SignInPath::Cli).await;
}

/// No 401 this time: the access token expires after the upstream switched AS (and after the
/// discovery cache's 5 minutes), so the proxy's own refresh discovers AS #2 and must not send AS #1's
/// refresh token there (RFC 9728 §7.6; MCP 2026-07-28 authorization server binding).
#[tokio::test]
async fn an_expiring_token_does_not_carry_the_refresh_token_to_the_new_as() {
    let clock = ManualClock::new(SystemClock.now());
    let env =
        Env::in_front_of_with_clock(start_oauth_upstream().await, Arc::new(clock.clone())).await;
    let setup = Setup::on(env, SignInPath::App).await;
    setup.signed_in_at_first().await;
    let first_client = locked(&setup.first.authorize_queries)[0]["client_id"].clone();
    let first_token_requests = locked(&setup.first.token_forms).len();
    let old_refresh = setup.first_refresh_tokens();

    setup.switch_to_second_as();
    clock.advance(HOUR);
    // The earlier local token lived an hour too: the client got a new one.
    let local = setup.env.local_token();
    let bearers_before = locked(&setup.first.mcp_bearers).len();
    let answer = setup.call(&local).await;
    assert_eq!(
        locked(&setup.first.mcp_bearers).len(),
        bearers_before,
        "the expired token was not sent; the refresh stopped before any upstream request"
    );
    setup.assert_reauth_without_leaks(answer, first_token_requests, &old_refresh);
    setup.assert_signs_in_at_second(&local, &first_client).await;
}
