//! Tests of the admin use cases against a real vault (store file + key file) in a temporary
//! directory, with a manual clock.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tempfile::TempDir;

use super::*;
use crate::clock::{DAY, HOUR, MINUTE, ManualClock};
use crate::crypto::{Aad, KeyBackend};
use crate::oauth::upstream::UpstreamOAuth;
use crate::store::access_tokens::{self, NewAccessToken};
use crate::store::grants::{self, GrantStatus, NewGrant};
use crate::store::refresh_tokens::{self, NewRefreshToken};
use crate::store::{ClientId, ConnectionId, GrantId, RefreshFamilyId, TokenHash, connections};
use crate::vault::Vault;

const T0: i64 = 1_750_004_800_000;
const PORT: u16 = 47_474;
const SECRET: &str = "sk-canary-6f1d2e9a-never-in-the-database";

struct Fixture {
    dir: TempDir,
    vault: Vault,
    clock: ManualClock,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory must be creatable");
    let clock = ManualClock::new(T0);
    let vault = Vault::open(
        &dir.path().join("data"),
        KeyBackend::File,
        Arc::new(clock.clone()),
    )
    .expect("a fresh vault must open with a key file");
    Fixture { dir, vault, clock }
}

fn header(name: &str, value: &str) -> UpstreamAuth {
    UpstreamAuth::Header {
        name: name.to_owned(),
        value: SecretString::from(value.to_owned()),
    }
}

fn input(slug: &str, url: &str, auth: UpstreamAuth) -> NewConnectionInput {
    NewConnectionInput {
        slug: slug.to_owned(),
        name: format!("Connection {slug}"),
        upstream_url: url.to_owned(),
        auth,
        account_name: None,
    }
}

impl Fixture {
    fn add(&self, slug: &str) -> ConnectionView {
        add_connection(
            &self.vault,
            PORT,
            &input(
                slug,
                "https://upstream.example/mcp",
                header("X-API-Key", SECRET),
            ),
        )
        .expect("a valid connection must be added")
    }

    fn client(&self, name: &str) -> ClientId {
        let view = add_client(&self.vault, name, &["http://127.0.0.1/callback".to_owned()])
            .expect("a valid pre-registered client must be added");
        ClientId::new(view.client_id).expect("a minted client id is never empty")
    }

    fn grant(&self, client: &ClientId, connection: &str) -> GrantId {
        let id = GrantId::new();
        let new = NewGrant {
            id: id.clone(),
            client_id: client.clone(),
            connection_id: ConnectionId::parse(connection).expect("views carry canonical ids"),
            redirect_uri: "http://127.0.0.1/callback".into(),
            scopes: "mcp:access".into(),
            tools: Some(vec!["echo".into()]),
        };
        let store = self.vault.store();
        let now = store.now();
        store
            .write_blocking(|tx| grants::create_pending(tx, &new, now))
            .expect("a pending grant for a known client and connection must be created");
        store
            .activate_grant(&id)
            .expect("a fresh pending grant must activate");
        id
    }

    fn access_token(&self, grant: &GrantId, client: &ClientId, tag: u8, ttl: i64) {
        let store = self.vault.store();
        let now = store.now();
        let token = NewAccessToken {
            token_hash: [tag; 32],
            grant_id: grant.clone(),
            client_id: client.clone(),
            resource: "http://127.0.0.1:47474/mcp/x".into(),
            scopes: "mcp:access".into(),
            expires_at: now + ttl,
        };
        store
            .write_blocking(|tx| access_tokens::insert(tx, &token, now))
            .expect("an access token for an active grant must be stored");
    }

    fn refresh_token(&self, grant: &GrantId, client: &ClientId, tag: u8, ttl: i64) {
        let store = self.vault.store();
        let now = store.now();
        let hash: TokenHash = [tag; 32];
        let token = NewRefreshToken {
            token_hash: hash,
            grant_id: grant.clone(),
            family_id: RefreshFamilyId::new(),
            parent_hash: None,
            client_id: client.clone(),
            scopes: "mcp:access".into(),
            expires_at: now + ttl,
        };
        store
            .write_blocking(|tx| refresh_tokens::insert(tx, &token, now))
            .expect("a refresh token for an active grant must be stored");
    }

    fn health(&self, grant: &GrantId) -> TokenHealth {
        list_grants(&self.vault, true)
            .expect("listing grants must work")
            .into_iter()
            .find(|g| g.id == grant.as_str())
            .expect("the grant must be listed")
            .token_health
    }

    fn database_bytes(&self) -> Vec<u8> {
        let db = crate::config::database_path(&self.dir.path().join("data"));
        let mut bytes = std::fs::read(&db).expect("the database file must be readable");
        let wal = db.with_extension("sqlite3-wal");
        if let Ok(more) = std::fs::read(&wal) {
            bytes.extend(more);
        }
        bytes
    }
}

/// Runs an async use case (one that may talk to an upstream) from a plain test.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime must build")
        .block_on(future)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
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

/// Every IPC response DTO, built from a store holding real tokens and a header secret, serialized
/// as the window would receive it: no token plaintext, token hash, token prefix or header secret
/// may appear. (`GatewayStatus` is address, port, data dir, key source and version by construction.)
#[test]
fn activity_tells_what_happened_in_sentences_newest_first() {
    let f = fixture();
    let view = f.add("activity");
    let client = f.client("Claude Code");
    let grant = f.grant(&client, &view.id);
    revoke_grants(&f.vault, &[grant.to_string()]).expect("revoke");
    let events = list_activity(&f.vault, 10).expect("activity");
    assert_eq!(
        events.first().map(|e| e.kind.as_str()),
        Some("grant.revoked"),
        "the newest event comes first"
    );
    assert_eq!(
        events[0].summary,
        "\u{201c}Claude Code\u{201d} lost access to Connection activity (user revoked)."
    );
    assert!(
        events.iter().any(|e| e.summary
            == "\u{201c}Claude Code\u{201d} was authorized to use Connection activity."),
        "the approval is told too: {events:#?}"
    );
}

#[test]
fn settings_are_validated_and_a_port_change_waits_for_the_next_launch() {
    let f = fixture();
    let mut s = get_settings(&f.vault, Some(PORT)).expect("defaults");
    assert_eq!(s.restart_required, Some(false));
    s.port = PORT + 1;
    let saved = update_settings(&f.vault, Some(PORT), &s).expect("save");
    assert_eq!(
        saved.restart_required,
        Some(true),
        "a port other than the listening one applies at the next launch"
    );
    s.retention_days = 0;
    assert_eq!(
        update_settings(&f.vault, Some(PORT), &s)
            .expect_err("zero days is refused")
            .kind(),
        AdminErrorKind::InvalidInput
    );
}

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
    super::connections::find(f.vault.store(), "moving")
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
