//! How Gatehouse signs in to an upstream, as the window's Edit changes it: the account name, OAuth
//! settings with a client secret kept sealed, and switching between a header and OAuth.

use super::*;

#[test]
fn a_user_named_account_is_shown_validated_and_not_material() {
    let f = fixture();
    let mut named = input(
        "named",
        "https://upstream.example/mcp",
        header("X-API-Key", SECRET),
    );
    named.account_name = Some("  Ada (work)  ".into());
    let view = add_connection(&f.vault, PORT, &named).expect("a named account is accepted");
    assert_eq!(
        view.account_label.as_deref(),
        Some("Ada (work)"),
        "with nothing from the upstream, the user's name is the account, trimmed"
    );
    let client = f.client("Claude Code");
    f.grant(&client, &view.id);

    let rename = ConnectionChanges {
        account_name: Some("ada@home".into()),
        ..ConnectionChanges::default()
    };
    let change = edit_connection(&f.vault, PORT, "named", &rename).expect("renaming works");
    assert!(!change.material, "the account name is not material");
    assert_eq!(change.revoked_grants, 0, "grants stay");
    assert_eq!(change.connection.account_label.as_deref(), Some("ada@home"));

    let bad = ConnectionChanges {
        account_name: Some("ada\u{7}".into()),
        ..ConnectionChanges::default()
    };
    let refused = edit_connection(&f.vault, PORT, "named", &bad);
    assert!(
        matches!(
            refused,
            Err(AdminError::InvalidInput {
                field: "account",
                ..
            })
        ),
        "control characters are refused: {refused:?}"
    );

    let clear = ConnectionChanges {
        account_name: Some("  ".into()),
        ..ConnectionChanges::default()
    };
    let cleared = edit_connection(&f.vault, PORT, "named", &clear).expect("clearing works");
    assert_eq!(
        cleared.connection.account_label, None,
        "a blank name removes it"
    );
}

fn okta(client_id: &str, secret: Option<&str>, scopes: Option<&str>) -> UpstreamAuth {
    UpstreamAuth::OAuth(OAuthInput {
        client_id: Some(client_id.to_owned()),
        client_secret: secret.map(|s| SecretString::from(s.to_owned())),
        template: Some("okta".to_owned()),
        tenant: Some("dev-1.okta.com".to_owned()),
        scopes: scopes.map(str::to_owned),
        client_credentials: false,
        legacy_discovery: false,
    })
}

fn edit_auth(f: &Fixture, auth: UpstreamAuth) -> ConnectionChange {
    edit_connection(
        &f.vault,
        PORT,
        "moving",
        &ConnectionChanges {
            auth: Some(auth),
            ..ConnectionChanges::default()
        },
    )
    .expect("the edit is valid")
}

fn sealed_client_secret(f: &Fixture) -> Option<Vec<u8>> {
    crate::admin::connections::find(f.vault.store(), "moving")
        .expect("the connection exists")
        .settings
        .oauth
        .client_secret_sealed
}

/// The window's Edit changes how Gatehouse signs in to the upstream: a header connection becomes
/// an OAuth one (a material change: grants revoked, a new sign-in needed), its OAuth settings are
/// edited with the client secret kept when it is not typed again, an unchanged edit changes
/// nothing, and it can go back to a header.
#[test]
fn oauth_settings_are_edited_and_switching_kinds_is_material() {
    const CLIENT_SECRET: &str = "okta-client-secret-never-stored-in-clear";
    let f = fixture();
    let view = f.add("moving");
    let client = f.client("VS Code");
    f.grant(&client, &view.id);

    let change = edit_auth(&f, okta("0oa1", Some(CLIENT_SECRET), None));
    assert!(change.material, "header → OAuth is material");
    assert_eq!(change.revoked_grants, 1, "the header-era grant is revoked");
    let c = &change.connection;
    assert_eq!(
        (
            c.auth_kind.as_str(),
            c.status.as_str(),
            c.header_name.as_deref()
        ),
        ("oauth", "needs_auth", None),
        "an OAuth connection waits for its sign-in, and the header is gone"
    );
    let oauth = c
        .oauth
        .clone()
        .expect("an OAuth connection shows its settings");
    assert_eq!(
        (
            oauth.template.as_deref(),
            oauth.tenant.as_deref(),
            oauth.client_id.as_deref(),
            oauth.has_client_secret,
            oauth.token_endpoint.as_deref(),
        ),
        (
            Some("okta"),
            Some("dev-1.okta.com"),
            Some("0oa1"),
            true,
            Some("https://dev-1.okta.com/oauth2/default/v1/token"),
        ),
        "the template filled the endpoints and the tenant reads back for the edit form"
    );
    assert!(
        !contains(&f.database_bytes(), CLIENT_SECRET),
        "the client secret is sealed"
    );
    let sealed = sealed_client_secret(&f);

    let same = edit_auth(&f, okta("0oa1", Some(CLIENT_SECRET), None));
    assert!(
        !same.material,
        "the same settings with the same secret typed again change nothing"
    );
    let kept = edit_auth(&f, okta("0oa1", None, Some("openid offline_access")));
    assert!(kept.material, "new scopes are material");
    assert_eq!(
        sealed_client_secret(&f),
        sealed,
        "no secret typed for the same client id: the stored one stays"
    );
    let other = edit_auth(&f, okta("0oa2", None, None));
    assert!(
        !other
            .connection
            .oauth
            .expect("still OAuth")
            .has_client_secret,
        "another client id does not inherit the first client's secret"
    );

    let back = edit_auth(&f, header("X-API-Key", SECRET));
    assert!(back.material);
    assert_eq!(
        (
            back.connection.auth_kind.as_str(),
            back.connection.oauth,
            back.connection.status.as_str()
        ),
        ("header", None, "connected"),
        "back to a header: no OAuth settings left, usable at once"
    );
    assert_eq!(
        sealed_client_secret(&f),
        None,
        "the client secret went with them"
    );
}

#[test]
fn an_edit_naming_a_header_and_oauth_is_refused() {
    let request: ConnectionChangesRequest = serde_json::from_value(serde_json::json!({
        "header": {"name": "X-API-Key", "value": "k"},
        "oauth": {"client_id": "c"}
    }))
    .expect("the request parses");
    let err = request
        .into_changes()
        .expect_err("two kinds of authentication");
    assert_eq!(err.kind(), AdminErrorKind::InvalidInput);
}
