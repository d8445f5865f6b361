//! Adding, editing, disabling and removing a header connection: the secret sealed to its row and
//! never shown, the input refused with clear messages, and which edits revoke the grants.

use super::*;

/// Runs an async use case (one that may talk to an upstream) from a plain test.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime must build")
        .block_on(future)
}

#[test]
fn the_header_secret_is_sealed_to_its_row_and_never_stored_or_shown_in_clear() {
    let f = fixture();
    let view = f.add("secret");
    assert_eq!(view.header_name.as_deref(), Some("X-API-Key"));
    assert_eq!(view.auth_kind, "header");
    assert_eq!(view.local_url, "http://127.0.0.1:47474/mcp/secret");

    let bytes = f.database_bytes();
    assert!(
        !contains(&bytes, SECRET),
        "the header value must not be in the database file or its WAL in clear"
    );
    assert!(
        contains(&bytes, "X-API-Key"),
        "sanity: the search must see plaintext columns, or it proves nothing"
    );

    let json = serde_json::to_string(&list_connections(&f.vault, PORT).expect("list must work"))
        .expect("DTOs serialize");
    assert!(
        !json.contains(SECRET),
        "no DTO may carry the header value: {json}"
    );

    let id = ConnectionId::parse(&view.id).expect("views carry canonical ids");
    let row = f
        .vault
        .store()
        .read_blocking(move |c| connections::get(c, &id))
        .expect("reading must work")
        .expect("the connection exists");
    let sealed = row
        .settings
        .header_value_sealed
        .expect("a header connection has a sealed value");
    let aad = |row_id| Aad {
        table: "connections",
        column: "header_value_sealed",
        row_id,
    };
    let opened = f
        .vault
        .cipher()
        .open_string(&sealed, &aad(&view.id))
        .expect("the value must open with its own row's associated data");
    assert_eq!(opened.expose_secret(), SECRET);
    assert!(
        f.vault
            .cipher()
            .open_string(&sealed, &aad(ConnectionId::new().as_str()))
            .is_err(),
        "the value must be bound to its row: moved to another row it must not open"
    );
}

#[test]
fn validation_refuses_bad_slugs_urls_and_headers_with_clear_messages() {
    let f = fixture();
    let refused = |input: NewConnectionInput, field: &str| {
        let err = add_connection(&f.vault, PORT, &input).expect_err("the input must be refused");
        assert_eq!(err.kind(), AdminErrorKind::InvalidInput, "{err}");
        assert!(
            matches!(&err, AdminError::InvalidInput { field: f, .. } if *f == field),
            "{err} must blame {field}"
        );
        err.to_string()
    };
    let ok = UpstreamAuth::None;
    refused(
        input("Bad_Slug", "https://a.example/mcp", ok.clone()),
        "slug",
    );
    refused(input("-lead", "https://a.example/mcp", ok.clone()), "slug");
    refused(
        input(&"a".repeat(64), "https://a.example/mcp", ok.clone()),
        "slug",
    );
    let msg = refused(input("plain", "http://a.example/mcp", ok.clone()), "url");
    assert!(
        msg.contains("https"),
        "the message must say what to use: {msg}"
    );
    refused(input("rel", "/mcp", ok.clone()), "url");
    refused(input("ftp", "ftp://a.example/mcp", ok.clone()), "url");
    refused(
        input("user", "https://me:pw@a.example/mcp", ok.clone()),
        "url",
    );
    refused(
        input("host", "https://a.example/mcp", header("Host", "x")),
        "header",
    );
    refused(
        input(
            "sess",
            "https://a.example/mcp",
            header("Mcp-Session-Id", "x"),
        ),
        "header",
    );
    refused(
        input("badname", "https://a.example/mcp", header("X Key", "x")),
        "header",
    );
    let msg = refused(
        input(
            "crlf",
            "https://a.example/mcp",
            header("X-Key", "abc\r\nEvil: 1"),
        ),
        "header",
    );
    assert!(
        !msg.contains("abc"),
        "a refused value must not be echoed: {msg}"
    );
    let mut nameless = input("noname", "https://a.example/mcp", ok.clone());
    nameless.name = "  ".into();
    refused(nameless, "name");

    for (slug, url) in [
        ("loop4", "http://127.0.0.1:8931/mcp"),
        ("loopname", "http://localhost:8931/mcp"),
        ("loop6", "http://[::1]:8931/mcp"),
    ] {
        add_connection(&f.vault, PORT, &input(slug, url, ok.clone()))
            .unwrap_or_else(|e| panic!("plain http to loopback {url} must be allowed: {e}"));
    }
    add_connection(
        &f.vault,
        PORT,
        &input(
            "bearer",
            "https://a.example/mcp",
            header("Authorization", "Bearer abc"),
        ),
    )
    .expect("Authorization is where API keys usually go, so it must be allowed");

    let err = add_connection(&f.vault, PORT, &input("loop4", "https://b.example/", ok))
        .expect_err("a second connection with the same slug must be refused");
    assert_eq!(err.kind(), AdminErrorKind::Conflict, "{err}");
}

#[test]
fn material_edits_bump_the_version_and_revoke_while_a_rename_does_not() {
    let f = fixture();
    let view = f.add("edits");
    let client = f.client("Claude Code");
    let first = f.grant(&client, &view.id);

    let rename = ConnectionChanges {
        name: Some("Renamed".into()),
        ..ConnectionChanges::default()
    };
    assert_eq!(
        preview_edit(&f.vault, "edits", &rename).expect("preview must work"),
        EditPreview {
            material: false,
            grants_to_revoke: 0
        }
    );
    let change = edit_connection(&f.vault, PORT, "edits", &rename).expect("rename must work");
    assert!(!change.material, "a name is cosmetic");
    assert_eq!(change.revoked_grants, 0);
    assert_eq!(change.connection.config_version, 1);
    assert_eq!(change.connection.name, "Renamed");
    assert_eq!(change.connection.authorized_clients, 1);

    let same_secret = ConnectionChanges {
        auth: Some(header("x-api-key", SECRET)),
        ..ConnectionChanges::default()
    };
    let change =
        edit_connection(&f.vault, PORT, "edits", &same_secret).expect("re-entering must work");
    assert!(
        !change.material,
        "re-entering the same header must not revoke anybody, though sealing gives new bytes"
    );

    let new_url = ConnectionChanges {
        upstream_url: Some("https://moved.example/mcp".into()),
        ..ConnectionChanges::default()
    };
    assert_eq!(
        preview_edit(&f.vault, "edits", &new_url).expect("preview must work"),
        EditPreview {
            material: true,
            grants_to_revoke: 1
        },
        "the UI must be able to warn before a material edit"
    );
    let change = edit_connection(&f.vault, PORT, &view.id, &new_url).expect("edit by id works");
    assert!(change.material);
    assert_eq!(change.revoked_grants, 1, "the one grant must be revoked");
    assert_eq!(change.connection.config_version, 2);
    assert_eq!(change.connection.authorized_clients, 0);
    let revoked = list_grants(&f.vault, true).expect("list must work");
    assert_eq!(revoked[0].id, first.as_str());
    assert_eq!(revoked[0].status, "revoked");
    assert_eq!(
        revoked[0].revoked_reason.as_deref(),
        Some("connection_changed")
    );

    f.grant(&client, &view.id);
    let new_secret = ConnectionChanges {
        auth: Some(header("X-API-Key", "another-secret")),
        ..ConnectionChanges::default()
    };
    let change = edit_connection(&f.vault, PORT, "edits", &new_secret).expect("edit works");
    assert!(change.material, "a new header value is material");
    assert_eq!(change.revoked_grants, 1);
    assert_eq!(change.connection.config_version, 3);

    let none = ConnectionChanges {
        auth: Some(UpstreamAuth::None),
        ..ConnectionChanges::default()
    };
    let change = edit_connection(&f.vault, PORT, "edits", &none).expect("edit works");
    assert!(change.material);
    assert_eq!(change.connection.auth_kind, "none");
    assert_eq!(change.connection.header_name, None);
}

#[test]
fn disable_and_remove_revoke_through_the_store() {
    let f = fixture();
    let view = f.add("gone");
    let client = f.client("VS Code");
    f.grant(&client, &view.id);
    assert_eq!(grants_at_risk(&f.vault, "gone").expect("count works"), 1);

    let change = set_connection_enabled(&f.vault, PORT, "gone", false).expect("disable works");
    assert!(!change.connection.enabled);
    assert_eq!(change.revoked_grants, 1);
    let change = set_connection_enabled(&f.vault, PORT, "gone", true).expect("enable works");
    assert!(change.connection.enabled);
    assert_eq!(change.revoked_grants, 0);

    f.grant(&client, &view.id);
    let removed =
        block_on(remove_connection(&UpstreamOAuth::new(&f.vault), "gone")).expect("remove works");
    assert_eq!(removed.revoked_grants, 1);
    assert_eq!(removed.slug, "gone");
    let err = get_connection(&f.vault, PORT, "gone").expect_err("it is gone");
    assert_eq!(err.kind(), AdminErrorKind::NotFound);
    let err = block_on(remove_connection(&UpstreamOAuth::new(&f.vault), "gone"))
        .expect_err("removing twice fails");
    assert_eq!(err.kind(), AdminErrorKind::NotFound);
}

/// A header the upstream refused (status `error`) is fixed by editing it: the new header makes the
/// connection usable at once, as a new header connection is, not "Sign-in needed" with no sign-in
/// to offer.
#[test]
fn a_new_header_clears_an_upstream_error() {
    let f = fixture();
    let view = f.add("keyed");
    let id = ConnectionId::parse(&view.id).expect("views carry canonical ids");
    let now = f.vault.store().now();
    f.vault
        .store()
        .write_blocking(|tx| {
            connections::set_status(
                tx,
                &id,
                connections::ConnectionStatus::Error,
                Some("the upstream answered HTTP 401 to Gatehouse's credentials"),
                now,
            )
        })
        .expect("recording the upstream's refusal works");
    assert_eq!(
        get_connection(&f.vault, PORT, "keyed")
            .expect("listed")
            .status,
        "error"
    );
    let change = edit_connection(
        &f.vault,
        PORT,
        "keyed",
        &ConnectionChanges {
            auth: Some(header("X-API-Key", "sk-a-fresh-key")),
            ..ConnectionChanges::default()
        },
    )
    .expect("a new header is accepted");
    assert!(change.material, "a new secret is a material change");
    assert_eq!(
        (
            change.connection.status.as_str(),
            change.connection.status_detail
        ),
        ("connected", None),
        "the new header is usable at once and the old error is gone"
    );
}
