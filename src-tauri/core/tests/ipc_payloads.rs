//! No secret crosses the IPC boundary: no token value, API key or client secret appears in any IPC
//! payload, so the webview's JavaScript never holds one. Against a real gateway and the fake
//! sign-in world of `gatehouse_testkit::signin`, with every kind of secret Gatehouse holds present at once:
//!
//! - a signed-in OAuth connection: real upstream access and refresh tokens (one rotated by a
//!   refresh), sealed in the store;
//! - a header connection with a known API key;
//! - a pre-registered client secret (a client_credentials connection, connected: its token too);
//! - local tokens: an access token, a refresh token and an authorization code value, and their
//!   hashes.
//!
//! Every admin answer the window can get and every event payload sent to it (the store watch's
//! `Changed` and `ConsentRequested`, which `src-tauri/app/src/events.rs` emits as they are) is
//! produced by the real use case and serialized as IPC serializes it; none may contain a secret, a
//! token prefix, a token hash or a sealed value. The test enumerates `admin::ipc_type_names()`, the
//! list the TypeScript bindings come from: a new DTO fails it until a sample of it is checked here
//! (or it is named as an input the window only sends).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use gatehouse_core::admin::{
    self, ConnectionChanges, NewConnectionInput, OAuthInput, SigninCallback, SigninLaunch,
    UpstreamAuth,
};
use gatehouse_core::crypto::TokenHash;
use gatehouse_core::crypto::token::{self as tok, TokenKind};
use gatehouse_core::oauth::upstream::UpstreamOAuth;
use gatehouse_core::store::refresh_tokens::{self, NewRefreshToken};
use gatehouse_core::store::upstream_credentials;
use gatehouse_core::store::watch::{Changed, Notice};
use gatehouse_core::store::{ClientId, ConnectionId, GrantId, RefreshFamilyId, connections};
use gatehouse_testkit::signin::*;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

const HEADER_SECRET: &str = "sk-header-canary-93c1a7d2";

/// Types the window sends and never receives. They carry secrets by design (a header value, a
/// client secret typed into the form), so they have no place in this test.
const WINDOW_INPUTS: [&str; 6] = [
    "HeaderInput",
    "EnvInput",
    "NewStdioConnectionRequest",
    "NewConnectionRequest",
    "OAuthRequest",
    "ConnectionChangesRequest",
];

/// Serialized samples by TypeScript type name.
#[derive(Default)]
struct Payloads(BTreeMap<String, Vec<String>>);

impl Payloads {
    fn add<T: Serialize + ts_rs::TS>(&mut self, value: &T) {
        let name = <T as ts_rs::TS>::name(&ts_rs::Config::new());
        let json = serde_json::to_string(value)
            .unwrap_or_else(|e| panic!("every IPC payload serializes ({name}): {e}"));
        self.0.entry(name).or_default().push(json);
    }

    fn add_all<T: Serialize + ts_rs::TS>(&mut self, values: &[T]) {
        assert!(!values.is_empty(), "a sample list must not be empty");
        for v in values {
            self.add(v);
        }
    }

    fn error(&mut self, err: admin::AdminError) {
        self.add(&err.kind());
        self.add(&admin::IpcError::from(err));
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every way a sealed value could be spelled in JSON.
fn spellings(sealed: &[u8]) -> [String; 3] {
    [
        hex(sealed),
        base64::engine::general_purpose::STANDARD.encode(sealed),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed),
    ]
}

fn connection_id(view: &admin::ConnectionView) -> ConnectionId {
    ConnectionId::parse(&view.id).unwrap_or_else(|| panic!("views carry canonical ids"))
}

#[tokio::test]
async fn no_ipc_payload_carries_a_secret() {
    let env = Env::new().await;
    let port = env.gateway.address().port();
    let store = env.vault.store().clone();

    // The window's event stream, as events.rs forwards it.
    let notices: Arc<Mutex<Vec<Notice>>> = Arc::default();
    let sink = notices.clone();
    let watch_store = store.clone();
    let watch = tokio::spawn(async move {
        watch_store
            .watch(Duration::from_millis(20), move |n| {
                sink.lock().unwrap().push(n);
            })
            .await
    });

    // A signed-in OAuth connection whose access token was refreshed once (rotation).
    env.sign_in().await;
    env.expire_access_token();
    let version = env.row().config_version;
    UpstreamOAuth::new(&env.vault)
        .tokens()
        .access_token(&env.connection, version)
        .await
        .unwrap_or_else(|e| panic!("the refresh must work: {e}"));
    let local_access = env.local_token();
    assert_eq!(env.call(&local_access).await["result"]["ok"], true);

    // A header connection and a client_credentials connection with a pre-registered secret.
    let url = format!("{}/mcp", env.upstream.mcp_base.lock().unwrap());
    let keyed = admin::add_connection(
        &env.vault,
        port,
        &NewConnectionInput {
            slug: "keyed".into(),
            name: "Keyed".into(),
            upstream_url: url.clone(),
            auth: UpstreamAuth::Header {
                name: "X-API-Key".into(),
                value: SecretString::from(HEADER_SECRET.to_owned()),
            },
            account_name: None,
        },
    )
    .unwrap();
    let m2m = admin::add_connection(
        &env.vault,
        port,
        &NewConnectionInput {
            slug: "m2m".into(),
            name: "Machine".into(),
            upstream_url: url.clone(),
            auth: UpstreamAuth::OAuth(OAuthInput {
                client_id: Some("m2m".into()),
                client_secret: Some(SecretString::from(M2M_SECRET.to_owned())),
                client_credentials: true,
                ..OAuthInput::default()
            }),
            account_name: None,
        },
    )
    .unwrap();
    let launched = admin::start_signin(&env.cli, port, "m2m", SigninCallback::Loopback)
        .await
        .unwrap_or_else(|e| panic!("client credentials connect: {e}"));
    assert!(matches!(launched, SigninLaunch::Connected));

    // Local secrets on the OAuth connection's grant: a refresh token and a code value too.
    let grant = admin::list_grants(&env.vault, false)
        .unwrap()
        .into_iter()
        .find(|g| g.connection_slug == "up")
        .unwrap_or_else(|| panic!("local_token made a grant"));
    let grant_id = GrantId::parse(&grant.id).unwrap_or_else(|| panic!("views carry canonical ids"));
    let grant_client = ClientId::new(grant.client_id.clone()).unwrap();
    let local_refresh = tok::generate(TokenKind::RefreshToken);
    let now = store.now();
    let refresh_row = NewRefreshToken {
        token_hash: *TokenHash::of(local_refresh.expose_secret()).as_bytes(),
        grant_id,
        family_id: RefreshFamilyId::new(),
        parent_hash: None,
        client_id: grant_client,
        scopes: "mcp:access".into(),
        expires_at: now + 86_400_000,
    };
    store
        .write_blocking(|tx| refresh_tokens::insert(tx, &refresh_row, now))
        .unwrap();
    let code = tok::generate(TokenKind::AuthorizationCode);

    // A consent request (the window hears of it as an event).
    let client = ClientId::generate();
    store
        .upsert_client(&registration(&client, "Test Client"))
        .unwrap();
    let consent = env
        .http
        .get(format!("{}/authorize", env.gateway.base_url()))
        .query(&[
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", "http://127.0.0.1/callback"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("state", "s"),
            ("resource", &format!("{}/mcp/up", env.gateway.base_url())),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status(), 200, "the consent page is shown");

    // ------------------------------------------------------------------ the secrets
    let mut needles: Vec<String> = vec![
        HEADER_SECRET.to_owned(),
        M2M_SECRET.to_owned(),
        AT_PREFIX.to_owned(),
        RT_PREFIX.to_owned(),
        TokenKind::AccessToken.prefix().to_owned(),
        TokenKind::RefreshToken.prefix().to_owned(),
        TokenKind::AuthorizationCode.prefix().to_owned(),
    ];
    for local in [
        local_access.clone(),
        local_refresh.expose_secret().to_owned(),
        code.expose_secret().to_owned(),
    ] {
        needles.push(hex(TokenHash::of(&local).as_bytes()));
        needles.push(local);
    }
    let upstream_tokens: Vec<String> = {
        let w = &env.upstream;
        let mut all: Vec<String> = w.access.lock().unwrap().iter().cloned().collect();
        all.extend(w.refresh.lock().unwrap().iter().cloned());
        all.extend(w.mcp_bearers.lock().unwrap().iter().cloned());
        all.extend(
            w.token_forms
                .lock()
                .unwrap()
                .iter()
                .filter_map(|f| f.get("refresh_token").cloned()),
        );
        all
    };
    assert!(
        upstream_tokens.len() >= 4,
        "two sign-in tokens, a rotated pair and the m2m token: {}",
        upstream_tokens.len()
    );
    needles.extend(upstream_tokens);
    let sealed: Vec<Vec<u8>> = {
        let ids = [
            env.connection.clone(),
            connection_id(&keyed),
            connection_id(&m2m),
        ];
        store
            .read_blocking(move |c| {
                let mut out = Vec::new();
                for id in &ids {
                    let row = connections::get(c, id)?.expect("the connection exists");
                    out.extend(row.settings.header_value_sealed);
                    out.extend(row.settings.oauth.client_secret_sealed);
                    if let Some(cred) = upstream_credentials::get(c, id)? {
                        out.extend(cred.access_token_sealed);
                        out.extend(cred.refresh_token_sealed);
                        out.extend(cred.dcr_client_json_sealed);
                    }
                }
                Ok(out)
            })
            .unwrap()
    };
    assert!(
        sealed.len() >= 6,
        "header, client secret, two token pairs and a registration are sealed"
    );
    for s in &sealed {
        needles.extend(spellings(s));
    }

    // ------------------------------------------------------------------ every answer
    let mut payloads = Payloads::default();
    let status = admin::gateway_status(&env.gateway);
    payloads.add(&status.key_source.kind);
    payloads.add(&status.key_source);
    payloads.add(&status);
    let views = admin::list_connections(&env.vault, port).unwrap();
    for oauth in views.iter().filter_map(|v| v.oauth.as_ref()) {
        payloads.add(oauth);
    }
    payloads.add_all(&views);
    payloads.add(&admin::get_connection(&env.vault, port, "up").unwrap());
    let rename = ConnectionChanges {
        name: Some("Renamed".into()),
        ..ConnectionChanges::default()
    };
    payloads.add(&admin::preview_edit(&env.vault, "keyed", &rename).unwrap());
    payloads.add(&admin::edit_connection(&env.vault, port, "keyed", &rename).unwrap());
    payloads.add(&admin::set_connection_enabled(&env.vault, port, "keyed", false).unwrap());
    // The program the OS saw behind a client, as the card shows it.
    store
        .write_blocking(|tx| {
            Ok(tx.execute(
                "UPDATE grants SET caller_pid = 4242, caller_exe = '/usr/bin/claude'",
                [],
            )?)
        })
        .unwrap();
    let grant_views = admin::list_grants(&env.vault, true).unwrap();
    for g in &grant_views {
        payloads.add(&g.token_health);
        payloads.add(
            g.caller
                .as_ref()
                .expect("the grant shows the program that redeemed it"),
        );
    }
    payloads.add_all(&grant_views);
    payloads.add_all(&admin::list_clients(&env.vault).unwrap());
    // The consent request above, as the window's Requests view lists it, and a decision on it
    // (denied; nobody listens at its callback, so the delivery fails and says so).
    let pending = admin::list_pending_requests(&env.vault).unwrap();
    payloads.add_all(&pending);
    let decided = admin::decide_pending_request(
        &env.vault,
        port,
        &pending[0].id,
        admin::PendingDecision::Deny,
    )
    .await
    .unwrap();
    payloads.add(&decided.delivery);
    payloads.add(&decided);
    payloads.add_all(&admin::oauth_templates());
    let settings = admin::get_settings(&env.vault, Some(port)).unwrap();
    payloads.add(&settings.theme);
    payloads.add(&settings);
    let detection = admin::detect_auth(&url, false).await.unwrap();
    payloads.add(&detection.suggested);
    payloads.add(&detection);
    let state = Mutex::new(String::new());
    let started =
        admin::start_signin_in_browser(&env.cli, port, "up", SigninCallback::DeepLink, |u| {
            let url = url::Url::parse(u).unwrap();
            if let Some((_, s)) = url.query_pairs().find(|(k, _)| k == "state") {
                *state.lock().unwrap() = s.into_owned();
            }
            Ok(())
        })
        .await
        .unwrap();
    needles.push(state.lock().unwrap().clone());
    payloads.add(&started.callback);
    payloads.add(&started);

    // Client setup in a temporary HOME whose Cursor config already holds the header connection's
    // key for another server: the preview's diff passes by it, and must show it masked.
    let home_dir = tempfile::tempdir().unwrap();
    let home = gatehouse_core::clients::Home::under(home_dir.path().to_owned());
    let cursor = home_dir.path().join(".cursor").join("mcp.json");
    std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
    std::fs::write(
        &cursor,
        format!(
            r#"{{"mcpServers": {{"other": {{"command": "npx", "env": {{"KEY": "{HEADER_SECRET}"}}}}}}}}"#
        ),
    )
    .unwrap();
    // A VS Code workspace folder (from VS Code's recent list) whose own mcp.json holds the key.
    let project = home_dir.path().join("project");
    std::fs::create_dir_all(project.join(".vscode")).unwrap();
    std::fs::write(
        project.join(".vscode").join("mcp.json"),
        format!(
            r#"{{"servers": {{"other": {{"type": "http", "url": "https://x.example/mcp", "headers": {{"Authorization": "Bearer {HEADER_SECRET}"}}}}}}}}"#
        ),
    )
    .unwrap();
    let storage = home.app_config.join("Code/User/globalStorage");
    std::fs::create_dir_all(&storage).unwrap();
    let vscdb = rusqlite::Connection::open(storage.join("state.vscdb")).unwrap();
    vscdb
        .execute_batch("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
        .unwrap();
    vscdb
        .execute(
            "INSERT INTO ItemTable VALUES ('history.recentlyOpenedPathsList', ?1)",
            [serde_json::json!({"entries": [{
                "folderUri": url::Url::from_file_path(&project).unwrap().to_string()
            }]})
            .to_string()],
        )
        .unwrap();
    let apps = admin::list_client_apps(&home, port);
    let workspaces: Vec<_> = apps.iter().flat_map(|c| c.workspaces.clone()).collect();
    assert_eq!(workspaces.len(), 1, "the VS Code folder is found");
    payloads.add_all(&workspaces);
    payloads.add_all(&apps);
    let preview =
        admin::preview_client_config(&home, &env.vault, port, "cursor", "keyed", None, None)
            .unwrap();
    assert!(preview.diff.contains("[secret]"), "{}", preview.diff);
    payloads.add(&preview);
    let written = admin::write_client_config(
        &home,
        &env.vault,
        port,
        "cursor",
        "keyed",
        None,
        &preview.diff,
        None,
    )
    .unwrap();
    payloads.add(&written);
    payloads.add(&admin::undo_client_config(&env.vault, "cursor").unwrap());
    // Importing that server moves the key into Gatehouse: the list, the preview (the removed
    // lines pass by the key) and the result show it nowhere.
    payloads.add_all(&admin::import_candidates(&home, "cursor").unwrap());
    let import = admin::preview_import(&home, &env.vault, port, "cursor", "other", None).unwrap();
    assert!(import.diff.contains("[secret]"), "{}", import.diff);
    payloads.add(&import);
    let imported = admin::import_from_client(
        &home,
        &env.vault,
        port,
        "cursor",
        "other",
        &import.diff,
        None,
    )
    .unwrap();
    assert!(
        !std::fs::read_to_string(&cursor)
            .unwrap()
            .contains(HEADER_SECRET),
        "the key left the client's config"
    );
    payloads.add(&imported);

    // A local stdio server whose environment holds the key, and a log that has it in the clear
    // (as a log written before the value was sealed would): the window gets it masked.
    let stdio = admin::add_stdio_connection(
        &env.vault,
        port,
        &admin::NewStdioConnectionInput {
            slug: "local".into(),
            name: "Local".into(),
            program: "/bin/true".into(),
            args: vec![],
            cwd: None,
            env: vec![(
                "API_KEY".into(),
                SecretString::from(HEADER_SECRET.to_owned()),
            )],
        },
    )
    .unwrap();
    let log = gatehouse_core::stdio::log_path(
        env.vault.store().path().parent().unwrap(),
        &ConnectionId::parse(&stdio.id).unwrap(),
    );
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, format!("starting with {HEADER_SECRET}\n")).unwrap();
    let server_log = admin::server_log(&env.vault, "local").unwrap();
    assert_eq!(server_log.lines, vec!["starting with [sealed]".to_owned()]);
    payloads.add(&server_log);

    // Errors, including ones that quote what was typed or what the upstream said.
    payloads.error(
        admin::add_connection(
            &env.vault,
            port,
            &NewConnectionInput {
                slug: "bad".into(),
                name: "Bad".into(),
                upstream_url: url.clone(),
                auth: UpstreamAuth::Header {
                    name: "Host".into(),
                    value: SecretString::from(HEADER_SECRET.to_owned()),
                },
                account_name: None,
            },
        )
        .expect_err("a reserved header name is refused"),
    );
    env.upstream
        .refused_clients
        .lock()
        .unwrap()
        .insert("m2m".into());
    *env.upstream.refuse_all_clients.lock().unwrap() = true;
    payloads.error(
        admin::start_signin(&env.cli, port, "m2m", SigninCallback::Loopback)
            .await
            .err()
            .unwrap_or_else(|| panic!("a refused client cannot connect")),
    );
    payloads.error(
        admin::sign_out(env.gateway.upstream_oauth(), "keyed")
            .await
            .expect_err("a header connection has no sign-out"),
    );

    // The destructive ones last.
    payloads.add(
        &admin::sign_out(env.gateway.upstream_oauth(), "m2m")
            .await
            .unwrap(),
    );
    payloads.add(&admin::revoke_grants(&env.vault, std::slice::from_ref(&grant.id)).unwrap());
    payloads.add(&admin::forget_client(&env.vault, client.as_str()).unwrap());
    payloads.add(
        &admin::remove_connection(env.gateway.upstream_oauth(), "up")
            .await
            .unwrap(),
    );
    payloads.add_all(&admin::list_activity(&env.vault, admin::MAX_ACTIVITY).unwrap());

    // ------------------------------------------------------------------ every event
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !notices
        .lock()
        .unwrap()
        .iter()
        .any(|n| matches!(n, Notice::ConsentRequested(_)))
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watch.abort();
    for notice in notices.lock().unwrap().iter() {
        match notice {
            Notice::Changed(what) => {
                payloads.add(what);
                payloads.add(&Changed { what: *what });
            }
            Notice::ConsentRequested(request) => payloads.add(request),
        }
    }

    // ------------------------------------------------------------------ the checks
    let mut unaccounted = Vec::new();
    for name in admin::ipc_type_names() {
        if !payloads.0.contains_key(&name) && !WINDOW_INPUTS.contains(&name.as_str()) {
            unaccounted.push(name);
        }
    }
    assert!(
        unaccounted.is_empty(),
        "IPC types with no sample checked here: {unaccounted:?}; add one (or list a window input)"
    );
    assert!(
        payloads.0["ConnectionView"]
            .iter()
            .any(|p| p.contains("\"slug\":\"up\"") && p.contains("\"status\":\"connected\"")),
        "the sample really holds the signed-in OAuth connection"
    );
    for (name, samples) in &payloads.0 {
        for payload in samples {
            for needle in needles.iter().filter(|n| !n.is_empty()) {
                assert!(
                    !payload.contains(needle.as_str()),
                    "a {name} payload for the window carries a secret ({}…): {payload}",
                    &needle[..needle.len().min(6)]
                );
            }
        }
    }
}
