//! Removing an OAuth connection revokes its upstream tokens (RFC 7009), as disconnecting does: the
//! one admin use case the window and the command line both call signs the connection out at its
//! upstream first (RFC 7009, best effort), records the outcome in the audit log, and leaves no
//! upstream token behind in the store. Against the real in-process AS of `gatehouse_testkit::upstream::oauth`.

use gatehouse_core::admin;
use gatehouse_core::store::audit::{self, AuditEvent, AuditKind};
use gatehouse_core::store::connections;
use gatehouse_core::store::{ConnectionId, upstream_credentials};
use gatehouse_testkit::signin::*;

/// The audit rows about `id`, oldest first.
fn audit_of(env: &Env, id: &ConnectionId) -> Vec<AuditEvent> {
    let mut events = env
        .vault
        .store()
        .read_blocking(|c| audit::list_recent(c, 1000))
        .unwrap();
    events.retain(|e| e.connection_id.as_ref() == Some(id));
    events.reverse();
    events
}

fn revoke_calls(env: &Env) -> usize {
    env.upstream
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|p| *p == "/revoke")
        .count()
}

fn stored(env: &Env, id: &ConnectionId) -> (bool, bool) {
    let id = id.clone();
    env.vault
        .store()
        .read_blocking(move |c| {
            Ok((
                connections::get(c, &id)?.is_some(),
                upstream_credentials::get(c, &id)?.is_some(),
            ))
        })
        .unwrap()
}

#[tokio::test]
async fn removing_a_signed_in_connection_revokes_its_upstream_tokens_first() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    assert_eq!(
        env.call(&local).await["result"]["ok"],
        true,
        "the connection works before it is removed"
    );
    let live: Vec<String> = env
        .upstream
        .access
        .lock()
        .unwrap()
        .iter()
        .chain(env.upstream.refresh.lock().unwrap().iter())
        .cloned()
        .collect();
    assert_eq!(live.len(), 2, "one access and one refresh token are live");
    assert_eq!(stored(&env, &env.connection), (true, true));

    let removed = admin::remove_connection(env.gateway.upstream_oauth(), "up")
        .await
        .unwrap_or_else(|e| panic!("removal must succeed: {e}"));
    assert_eq!(removed.slug, "up");
    assert_eq!(removed.revoked_grants, 1, "the local grant went with it");

    assert_eq!(
        revoke_calls(&env),
        2,
        "RFC 7009: one revocation request per token"
    );
    let revoked = env.upstream.revoked.lock().unwrap().clone();
    for token in &live {
        assert!(
            revoked.contains(token),
            "the upstream was asked to revoke every live token"
        );
    }
    assert!(
        env.upstream.access.lock().unwrap().is_empty()
            && env.upstream.refresh.lock().unwrap().is_empty(),
        "nothing Gatehouse held is still valid at the authorization server"
    );
    assert_eq!(
        stored(&env, &env.connection),
        (false, false),
        "the connection and its sealed upstream tokens are gone from the store"
    );

    let events = audit_of(&env, &env.connection);
    let kinds: Vec<AuditKind> = events.iter().map(|e| e.kind).collect();
    let signed_out = kinds
        .iter()
        .position(|k| *k == AuditKind::UpstreamSignedOut)
        .unwrap_or_else(|| panic!("no sign-out row: {kinds:?}"));
    let deleted = kinds
        .iter()
        .position(|k| *k == AuditKind::ConnectionDeleted)
        .unwrap_or_else(|| panic!("no deletion row: {kinds:?}"));
    assert!(signed_out < deleted, "revoked before deleted: {kinds:?}");
    assert_eq!(
        events[signed_out].reason.as_deref(),
        Some("revoked"),
        "the audit row records what the upstream said"
    );

    let status = env
        .http
        .post(format!("{}/mcp/up", env.gateway.base_url()))
        .bearer_auth(&local)
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap()
        .status();
    assert!(
        status.is_client_error(),
        "the removed connection serves nobody: HTTP {status}"
    );
}

/// Best effort: an authorization server that cannot revoke does not keep a connection alive, and
/// the audit log says the revocation failed. A connection that never signed in has nothing to
/// revoke and sends nothing.
#[tokio::test]
async fn removal_goes_ahead_when_revocation_fails_and_says_so() {
    let env = Env::new().await;
    env.sign_in().await;
    let url = format!("{}/mcp", env.upstream.mcp_base.lock().unwrap());
    let never = add_oauth_connection(&env.vault, "never", &url);
    *env.upstream.revoke_fails.lock().unwrap() = true;

    admin::remove_connection(env.gateway.upstream_oauth(), "up")
        .await
        .unwrap_or_else(|e| panic!("a failed revocation must not block removal: {e}"));
    assert!(revoke_calls(&env) >= 1, "the revocation was attempted");
    assert_eq!(
        stored(&env, &env.connection),
        (false, false),
        "the local tokens are deleted whatever the upstream said"
    );
    let reason = audit_of(&env, &env.connection)
        .into_iter()
        .find(|e| e.kind == AuditKind::UpstreamSignedOut)
        .and_then(|e| e.reason);
    assert_eq!(reason.as_deref(), Some("revoke_failed"));

    let before = revoke_calls(&env);
    admin::remove_connection(env.gateway.upstream_oauth(), never.as_str())
        .await
        .unwrap_or_else(|e| panic!("removing by id works: {e}"));
    assert_eq!(
        revoke_calls(&env),
        before,
        "no token, no revocation request"
    );
    let reason = audit_of(&env, &never)
        .into_iter()
        .find(|e| e.kind == AuditKind::UpstreamSignedOut)
        .and_then(|e| e.reason);
    assert_eq!(reason.as_deref(), Some("nothing_to_revoke"));
    assert_eq!(stored(&env, &never), (false, false));
}
