//! `invalid_client` from the upstream token endpoint leads to one re-registration (RFC 6749 §5.2:
//! the client is not known to the authorization server). A DCR registration the authorization
//! server forgot is replaced exactly once, at the next sign-in, whether the refusal came at a code
//! exchange or at a refresh; a replacement refused before it ever worked stops the cycle with a
//! clear error; a pre-registered client is never replaced. Registration counts are taken at the
//! real in-process AS.

use gatehouse_core::admin::{self, NewConnectionInput, OAuthInput, UpstreamAuth};
use gatehouse_core::oauth::upstream::UpstreamError;
use gatehouse_core::store::ConnectionId;
use gatehouse_core::store::audit::{self, AuditKind};
use gatehouse_core::store::connections::ConnectionStatus;
use gatehouse_testkit::signin::*;

fn registrations(env: &Env) -> usize {
    env.upstream.registrations.lock().unwrap().len()
}

/// The client id the authorization server saw on the last authorization request.
fn last_client(env: &Env) -> String {
    env.upstream
        .authorize_queries
        .lock()
        .unwrap()
        .last()
        .map(|q| q["client_id"].clone())
        .unwrap_or_default()
}

/// A sign-in of `id` through the browser and the loopback callback: the page's status and text.
async fn sign_in_to(env: &Env, id: &ConnectionId) -> (u16, String) {
    let callback = env.authorize_connection(id).await;
    let (status, page) = env.deliver(&callback).await;
    (status.as_u16(), page)
}

fn grant_types(env: &Env) -> Vec<String> {
    env.upstream
        .token_forms
        .lock()
        .unwrap()
        .iter()
        .filter_map(|f| f.get("grant_type").cloned())
        .collect()
}

#[tokio::test]
async fn invalid_client_at_the_code_exchange_registers_once_more_then_stops() {
    let env = Env::new().await;
    env.sign_in().await;
    assert_eq!(registrations(&env), 1);
    let first = last_client(&env);

    // The AS forgot the first registration: this sign-in fails, and says what comes next.
    env.upstream
        .refused_clients
        .lock()
        .unwrap()
        .insert(first.clone());
    let (status, page) = sign_in_to(&env, &env.connection).await;
    assert_eq!(status, 502, "{page}");
    assert!(
        page.contains("registers once more"),
        "the page says the next sign-in registers again: {page}"
    );
    assert_eq!(
        registrations(&env),
        1,
        "nothing is registered while the refused sign-in is reported"
    );

    // The next sign-in registers exactly once more, and that client works.
    env.sign_in().await;
    assert_eq!(registrations(&env), 2, "one re-registration");
    let second = last_client(&env);
    assert_ne!(second, first, "the refused client is never sent again");
    assert_eq!(env.row().status, ConnectionStatus::Connected);
    env.sign_in().await;
    assert_eq!(registrations(&env), 2, "the new registration is reused");

    // It worked, so it is an ordinary registration now: forgotten later, it is replaced once more.
    // This time the AS refuses every client, the fresh one too: Gatehouse stops registering.
    env.upstream.refused_clients.lock().unwrap().insert(second);
    let (status, page) = sign_in_to(&env, &env.connection).await;
    assert_eq!(status, 502, "{page}");
    assert_eq!(registrations(&env), 2);
    *env.upstream.refuse_all_clients.lock().unwrap() = true;
    let (status, page) = sign_in_to(&env, &env.connection).await;
    assert_eq!(status, 502, "{page}");
    assert_eq!(registrations(&env), 3, "exactly one more registration");
    assert!(
        page.contains("will not register again"),
        "a refused fresh registration is a clear error: {page}"
    );

    let authorizations = env.upstream.authorize_queries.lock().unwrap().len();
    for _ in 0..2 {
        let err = env
            .cli
            .start_signin(&env.connection, &env.redirect_uri())
            .await
            .err()
            .unwrap_or_else(|| panic!("a sign-in must not start with a refused fresh client"));
        assert!(
            matches!(err, UpstreamError::RegistrationRejectedAgain),
            "{err}"
        );
    }
    assert_eq!(
        registrations(&env),
        3,
        "no registration again and again, however often the user tries"
    );
    assert_eq!(
        env.upstream.authorize_queries.lock().unwrap().len(),
        authorizations,
        "and no browser is sent to the AS for a sign-in that cannot work"
    );
}

#[tokio::test]
async fn invalid_client_at_refresh_means_sign_in_again_which_registers_anew() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    env.upstream
        .refused_clients
        .lock()
        .unwrap()
        .insert(last_client(&env));

    // The upstream rejects the access token: one refresh, refused with invalid_client.
    env.upstream.access.lock().unwrap().clear();
    let answer = env.call(&local).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("open Gatehouse")),
        "the client is told to sign in again: {answer}"
    );
    assert_eq!(
        grant_types(&env).last().map(String::as_str),
        Some("refresh_token"),
        "the refusal came at the refresh"
    );
    assert_eq!(env.row().status, ConnectionStatus::ReauthRequired);
    assert_eq!(registrations(&env), 1, "a refresh never registers");

    env.sign_in().await;
    assert_eq!(registrations(&env), 2, "the next sign-in registers anew");
    assert_eq!(env.row().status, ConnectionStatus::Connected);
    assert_eq!(
        env.call(&local).await["result"]["ok"],
        true,
        "the same local grant works with the new registration"
    );

    // The AS now refuses every client: the refresh again means sign in again, which registers one
    // more time (the second registration had worked) and then stops.
    *env.upstream.refuse_all_clients.lock().unwrap() = true;
    env.upstream.access.lock().unwrap().clear();
    let _ = env.call(&local).await;
    assert_eq!(env.row().status, ConnectionStatus::ReauthRequired);
    let (status, page) = sign_in_to(&env, &env.connection).await;
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("will not register again"), "{page}");
    assert_eq!(registrations(&env), 3);
    assert!(
        env.cli
            .start_signin(&env.connection, &env.redirect_uri())
            .await
            .is_err_and(|e| matches!(e, UpstreamError::RegistrationRejectedAgain)),
        "the clear error stays"
    );
    assert_eq!(registrations(&env), 3);
}

#[tokio::test]
async fn a_pre_registered_client_is_never_re_registered() {
    let env = Env::new().await;
    let url = format!("{}/mcp", env.upstream.mcp_base.lock().unwrap());
    let port = env.gateway.address().port();
    let input = NewConnectionInput {
        slug: "pre".into(),
        name: "Pre-registered".into(),
        upstream_url: url,
        auth: UpstreamAuth::OAuth(OAuthInput {
            client_id: Some("pre-registered-1".into()),
            ..OAuthInput::default()
        }),
        account_name: None,
    };
    let view = admin::add_connection(&env.vault, port, &input).unwrap();
    let id = ConnectionId::parse(&view.id).unwrap();

    let (status, page) = sign_in_to(&env, &id).await;
    assert_eq!(status, 200, "the pre-registered client signs in: {page}");
    assert_eq!(last_client(&env), "pre-registered-1");
    let local_refreshes = || {
        grant_types(&env)
            .iter()
            .filter(|g| *g == "refresh_token")
            .count()
    };

    // Refused at the code exchange: an error naming what to check, never a registration.
    env.upstream
        .refused_clients
        .lock()
        .unwrap()
        .insert("pre-registered-1".into());
    for _ in 0..2 {
        let (status, page) = sign_in_to(&env, &id).await;
        assert_eq!(status, 502, "{page}");
        assert!(
            page.contains("check them"),
            "the page tells the user to check the client id and secret: {page}"
        );
        assert_eq!(last_client(&env), "pre-registered-1");
    }

    // Refused at a refresh: sign in again, with the reason in the audit log.
    env.upstream.refused_clients.lock().unwrap().clear();
    let (status, _) = sign_in_to(&env, &id).await;
    assert_eq!(status, 200);
    env.upstream
        .refused_clients
        .lock()
        .unwrap()
        .insert("pre-registered-1".into());
    let refreshes = local_refreshes();
    let now = env.vault.store().now();
    let cid = id.clone();
    env.vault
        .store()
        .write_blocking(move |tx| {
            let mut c =
                gatehouse_core::store::upstream_credentials::get(tx, &cid)?.expect("signed in");
            c.expires_at = Some(now - 1000);
            gatehouse_core::store::upstream_credentials::put(tx, &c, now)
        })
        .unwrap();
    let err = env
        .cli
        .tokens()
        .access_token(&id, view.config_version)
        .await
        .err()
        .unwrap_or_else(|| panic!("a refused client gets no token"));
    assert!(matches!(err, UpstreamError::ReauthRequired), "{err}");
    assert_eq!(local_refreshes(), refreshes + 1, "one refresh was tried");
    let reason = env
        .vault
        .store()
        .read_blocking(|c| audit::list_recent(c, 50))
        .unwrap()
        .into_iter()
        .find(|e| {
            e.kind == AuditKind::UpstreamReauthRequired && e.connection_id == Some(id.clone())
        })
        .and_then(|e| e.reason)
        .unwrap_or_default();
    assert!(
        reason.contains("client id or secret"),
        "the audit log says why: {reason}"
    );
    assert_eq!(
        registrations(&env),
        0,
        "a pre-registered client is never replaced by a registration"
    );
}

/// The registration response is read within `MAX_REGISTRATION_BYTES` (a size guard on what an
/// outside server sends): an oversized answer is an error, nothing of it is kept, and the next
/// sign-in registers normally.
#[tokio::test]
async fn an_oversized_registration_response_is_refused_and_nothing_is_kept() {
    use gatehouse_core::oauth::upstream::registration::MAX_REGISTRATION_BYTES;

    let env = Env::new().await;
    *env.upstream.register_padding.lock().unwrap() = MAX_REGISTRATION_BYTES;
    let err = env
        .cli
        .start_signin(&env.connection, &env.redirect_uri())
        .await
        .err()
        .unwrap_or_else(|| panic!("an oversized registration must not start a sign-in"));
    assert!(
        err.to_string()
            .contains(&format!("larger than {MAX_REGISTRATION_BYTES} bytes")),
        "the error names the guard: {err}"
    );
    assert!(
        env.upstream.authorize_queries.lock().unwrap().is_empty(),
        "no browser was sent anywhere"
    );
    let id = env.connection.clone();
    let kept = env
        .vault
        .store()
        .read_blocking(move |c| gatehouse_core::store::upstream_credentials::get(c, &id))
        .unwrap()
        .and_then(|c| c.dcr_client_json_sealed);
    assert!(kept.is_none(), "nothing of the oversized answer is stored");

    *env.upstream.register_padding.lock().unwrap() = 0;
    let before = registrations(&env);
    env.sign_in().await;
    assert_eq!(
        registrations(&env),
        before + 1,
        "the next sign-in registers"
    );
}
