//! The authorized clients and their grants: the tray's count, token health, listing and revoking
//! grants, and pre-registering and forgetting clients.

use super::*;

/// The tray's "N clients authorized": distinct clients with an active grant, whatever the number
/// of their grants; a revoke lowers it.
#[test]
fn the_authorized_client_count_counts_clients_with_an_active_grant() {
    let f = fixture();
    let docs = f.add("docs");
    let mail = f.add("mail");
    let code = f.client("VS Code");
    let cursor = f.client("Cursor");
    assert_eq!(authorized_client_count(&f.vault).expect("count works"), 0);
    f.grant(&code, &docs.id);
    f.grant(&code, &mail.id);
    assert_eq!(
        authorized_client_count(&f.vault).expect("count works"),
        1,
        "one client on two connections is one client"
    );
    let on_mail = f.grant(&cursor, &mail.id);
    assert_eq!(authorized_client_count(&f.vault).expect("count works"), 2);
    f.vault
        .store()
        .revoke_grants(
            std::slice::from_ref(&on_mail),
            crate::store::RevocationReason::UserRevoked,
        )
        .expect("revoking works");
    assert_eq!(
        authorized_client_count(&f.vault).expect("count works"),
        1,
        "a revoked grant no longer counts"
    );
}

#[test]
fn token_health_follows_the_grants_live_tokens() {
    let f = fixture();
    let view = f.add("health");
    let client = f.client("Cursor");

    let never = f.grant(&client, &view.id);
    assert_eq!(f.health(&never), TokenHealth::None, "no token was issued");

    // Each grant needs its own redirect URI binding or activation would supersede the last one.
    let other = |name| f.client(name);
    let with_refresh = f.grant(&other("a"), &view.id);
    f.refresh_token(&with_refresh, &client_of(&f, &with_refresh), 1, 30 * DAY);
    assert_eq!(f.health(&with_refresh), TokenHealth::Valid);

    let long_access = f.grant(&other("b"), &view.id);
    f.access_token(&long_access, &client_of(&f, &long_access), 2, HOUR);
    assert_eq!(f.health(&long_access), TokenHealth::Valid);

    let short_access = f.grant(&other("c"), &view.id);
    f.access_token(&short_access, &client_of(&f, &short_access), 3, 4 * MINUTE);
    assert_eq!(f.health(&short_access), TokenHealth::ExpiringSoon);

    f.clock.advance(HOUR + MINUTE);
    assert_eq!(
        f.health(&long_access),
        TokenHealth::Expired,
        "an expired access token without a refresh token is expired"
    );
    assert_eq!(f.health(&short_access), TokenHealth::Expired);
    assert_eq!(
        f.health(&with_refresh),
        TokenHealth::Valid,
        "a refresh token keeps the client signed in after its access token is gone"
    );

    revoke_grants(&f.vault, &[with_refresh.to_string()]).expect("revoke works");
    assert_eq!(
        f.health(&with_refresh),
        TokenHealth::Expired,
        "revoked tokens are not usable"
    );
}

fn client_of(f: &Fixture, grant: &GrantId) -> ClientId {
    let id = grant.clone();
    f.vault
        .store()
        .read_blocking(move |c| grants::get(c, &id))
        .expect("reading works")
        .expect("the grant exists")
        .client_id
}

#[test]
fn grants_are_listed_with_names_and_revoked_all_or_nothing() {
    let f = fixture();
    let view = f.add("listing");
    let client = f.client("Claude Code");
    let grant = f.grant(&client, &view.id);

    let listed = list_grants(&f.vault, false).expect("list works");
    assert_eq!(listed.len(), 1);
    let g = &listed[0];
    assert_eq!(g.client_name.as_deref(), Some("Claude Code"));
    assert_eq!(g.client_id, client.as_str());
    assert_eq!(g.connection_slug, "listing");
    assert_eq!(g.connection_name, "Connection listing");
    assert_eq!(g.redirect_uri, "http://127.0.0.1/callback");
    assert_eq!(g.scopes, vec!["mcp:access"]);
    assert_eq!(g.tools, Some(vec!["echo".to_owned()]));
    assert_eq!(g.status, GrantStatus::Active.as_str());

    let json = serde_json::to_value(g).expect("a view serializes");
    for key in [
        "id",
        "status",
        "client_id",
        "client_name",
        "connection_slug",
        "redirect_uri",
        "scopes",
        "tools",
        "created_at",
        "last_used_at",
        "token_health",
    ] {
        assert!(json.get(key).is_some(), "scripts read {key}: {json}");
    }

    let unknown = GrantId::new().to_string();
    let err = revoke_grants(&f.vault, &[grant.to_string(), unknown])
        .expect_err("an unknown id must fail the whole revoke");
    assert_eq!(err.kind(), AdminErrorKind::NotFound, "{err}");
    let err = revoke_grants(&f.vault, &[grant.to_string(), "nonsense".into()])
        .expect_err("a malformed id must fail the whole revoke");
    assert_eq!(err.kind(), AdminErrorKind::NotFound, "{err}");
    assert_eq!(
        list_grants(&f.vault, false).expect("list works").len(),
        1,
        "nothing may be revoked when one id is unknown"
    );

    let outcome = revoke_grants(&f.vault, &[grant.to_string()]).expect("revoke works");
    assert_eq!(outcome.revoked, vec![grant.to_string()]);
    assert!(list_grants(&f.vault, false).expect("list works").is_empty());
    let all = list_grants(&f.vault, true).expect("list works");
    assert_eq!(all[0].revoked_reason.as_deref(), Some("user_revoked"));
    assert_eq!(all[0].revoked_at, Some(T0));
}

#[test]
fn clients_are_preregistered_strictly_and_forgetting_revokes() {
    let f = fixture();
    let err = add_client(
        &f.vault,
        "Bad",
        &[
            "http://127.0.0.1/cb".to_owned(),
            "javascript:alert(1)".to_owned(),
        ],
    )
    .expect_err("a refused redirect URI must be reported, not dropped");
    assert_eq!(err.kind(), AdminErrorKind::InvalidInput, "{err}");
    let err = add_client(&f.vault, " ", &["http://127.0.0.1/cb".to_owned()])
        .expect_err("a client needs a name");
    assert_eq!(err.kind(), AdminErrorKind::InvalidInput, "{err}");

    let added = add_client(
        &f.vault,
        "Script",
        &[
            "HTTP://LOCALHOST:80/cb".to_owned(),
            "cursor://anysphere.cursor-retrieval/oauth/callback".to_owned(),
        ],
    )
    .expect("valid URIs must be accepted");
    assert_eq!(added.registration_source, "preregistered");
    assert_eq!(
        added.redirect_uris,
        vec![
            "http://localhost/cb".to_owned(),
            "cursor://anysphere.cursor-retrieval/oauth/callback".to_owned()
        ],
        "redirect URIs are stored normalized"
    );

    let view = f.add("clients");
    f.clock.advance(1_000);
    let client = f.client("Forget me");
    f.grant(&client, &view.id);
    let listed = list_clients(&f.vault).expect("list works");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[1].client_id,
        client.as_str(),
        "clients are listed oldest first"
    );
    assert_eq!(listed[1].active_grants, 1);

    let forgotten = forget_client(&f.vault, client.as_str()).expect("forget works");
    assert_eq!(forgotten.revoked_grants, 1);
    assert_eq!(list_clients(&f.vault).expect("list works").len(), 1);
    let err = forget_client(&f.vault, client.as_str()).expect_err("forgetting twice fails");
    assert_eq!(err.kind(), AdminErrorKind::NotFound);
}
