//! Connections that sign in with OAuth from the command line: a pre-registered client, a provider
//! template, client credentials, and switching a header connection to OAuth and back; the client
//! secret is never printed or stored in clear.

use super::*;

/// The provider templates as shipped (`templates.json` is data, not code): what `--template` fills.
fn template(key: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../src-tauri/core/src/oauth/upstream/templates.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let all: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    all[key].clone()
}

/// Whether any file of the data directory holds `needle` in clear.
fn stored_in_clear(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .any(|e| {
            std::fs::read(e.path())
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
}

/// The OAuth summary of the one connection `slug` in `connections list --json`.
fn listed_oauth(dir: &Path, slug: &str) -> (Value, String) {
    let stdout = ok(dir, &["connections", "list", "--json"]);
    let list: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("list --json printed no JSON ({e}): {stdout}"));
    let c = list
        .as_array()
        .and_then(|l| l.iter().find(|c| c["slug"] == slug))
        .unwrap_or_else(|| panic!("{slug} is not listed: {stdout}"))
        .clone();
    assert_eq!(c["auth_kind"], "oauth", "{c}");
    assert_eq!(
        c["status"], "needs_auth",
        "an OAuth connection starts as Sign-in needed: {c}"
    );
    (c["oauth"].clone(), stdout)
}

#[test]
fn oauth_with_a_pre_registered_client_lists_its_id_but_never_its_secret() {
    const CLIENT_SECRET: &str = "cs-cli-canary-5e0f18aa";
    let tmp = tempdir();
    let dir = tmp.path();
    let added = json(
        dir,
        &[
            "connections",
            "add",
            "--slug",
            "pre",
            "--name",
            "Pre-registered",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--auth",
            "oauth",
            "--client-id",
            "client-123",
            "--client-secret",
            CLIENT_SECRET,
            "--scope",
            "files:read",
            "--json",
        ],
    );
    assert!(!added.to_string().contains(CLIENT_SECRET), "{added}");
    let (oauth, stdout) = listed_oauth(dir, "pre");
    assert_eq!(oauth["client_id"], "client-123", "{oauth}");
    assert_eq!(oauth["has_client_secret"], true, "{oauth}");
    assert_eq!(oauth["grant"], "authorization_code", "{oauth}");
    assert_eq!(
        oauth["source"], "discovered",
        "endpoints come from discovery: {oauth}"
    );
    assert_eq!(oauth["scopes"], "files:read", "{oauth}");
    assert_eq!(oauth["authorization_endpoint"], Value::Null, "{oauth}");
    assert!(
        !stdout.contains(CLIENT_SECRET),
        "the client secret must never be printed: {stdout}"
    );
    assert!(
        !stored_in_clear(dir, CLIENT_SECRET),
        "the client secret is sealed in the store"
    );

    let stderr = fails(
        dir,
        &[
            "connections",
            "add",
            "--slug",
            "lonely",
            "--name",
            "Lonely",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--auth",
            "oauth",
            "--client-secret",
            CLIENT_SECRET,
        ],
    );
    assert!(stderr.contains("needs a client id"), "{stderr}");
    assert!(
        !stderr.contains(CLIENT_SECRET),
        "the refusal does not repeat the secret: {stderr}"
    );
}

#[test]
fn a_template_fills_the_endpoints_from_templates_json() {
    let tmp = tempdir();
    let dir = tmp.path();
    ok(
        dir,
        &[
            "connections",
            "add",
            "--slug",
            "okta",
            "--name",
            "Okta app",
            "--url",
            "https://mcp.corp.example/mcp",
            "--template",
            "okta",
            "--tenant",
            "dev-42.okta.com",
            "--client-id",
            "0oa42",
        ],
    );
    let okta = template("okta");
    let filled = |field: &str| {
        okta[field]
            .as_str()
            .unwrap_or_else(|| panic!("templates.json: okta has no {field}"))
            .replace("{tenant}", "dev-42.okta.com")
    };
    let (oauth, _) = listed_oauth(dir, "okta");
    assert_eq!(oauth["source"], "template", "{oauth}");
    assert_eq!(oauth["template"], "okta", "{oauth}");
    assert_eq!(oauth["client_id"], "0oa42", "{oauth}");
    assert_eq!(oauth["has_client_secret"], false, "{oauth}");
    for field in ["issuer", "authorization_endpoint", "token_endpoint"] {
        assert_eq!(oauth[field], filled(field), "{field}: {oauth}");
    }
    assert_eq!(
        oauth["scopes"], okta["scopes"],
        "the template's default scopes: {oauth}"
    );

    // A template with a default tenant needs none; one without does; an unknown one is refused.
    ok(
        dir,
        &[
            "connections",
            "add",
            "--slug",
            "ms",
            "--name",
            "Microsoft",
            "--url",
            "https://mcp.corp.example/ms",
            "--template",
            "microsoft",
            "--client-id",
            "app-1",
        ],
    );
    let ms = template("microsoft");
    let tenant = ms["default_tenant"].as_str().unwrap_or_default().to_owned();
    let (oauth, _) = listed_oauth(dir, "ms");
    assert_eq!(
        oauth["token_endpoint"],
        ms["token_endpoint"]
            .as_str()
            .unwrap_or_default()
            .replace("{tenant}", &tenant),
        "{oauth}"
    );
    let add = |slug: &str, extra: &[&str]| {
        let mut args = vec![
            "connections",
            "add",
            "--slug",
            slug,
            "--name",
            "X",
            "--url",
            "https://mcp.corp.example/x",
            "--client-id",
            "c",
        ];
        args.extend_from_slice(extra);
        fails(dir, &args)
    };
    let stderr = add("x1", &["--template", "okta"]);
    assert!(stderr.contains("tenant"), "{stderr}");
    let stderr = add("x2", &["--template", "nosuch"]);
    assert!(
        stderr.contains("unknown template") && stderr.contains("okta"),
        "{stderr}"
    );
}

#[test]
fn client_credentials_lists_its_grant_and_needs_a_secret() {
    const M2M_SECRET: &str = "m2m-cli-canary-77b2";
    let tmp = tempdir();
    let dir = tmp.path();
    let out = gatehoused(dir)
        .args([
            "connections",
            "add",
            "--slug",
            "m2m",
            "--name",
            "Machine",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--client-credentials",
            "--client-id",
            "svc",
            "--client-secret-from-env",
            "M2M_SECRET_FOR_TEST",
        ])
        .env("M2M_SECRET_FOR_TEST", M2M_SECRET)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gatehoused: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (oauth, stdout) = listed_oauth(dir, "m2m");
    assert_eq!(oauth["grant"], "client_credentials", "{oauth}");
    assert_eq!(oauth["client_id"], "svc", "{oauth}");
    assert_eq!(oauth["has_client_secret"], true, "{oauth}");
    assert!(!stdout.contains(M2M_SECRET), "{stdout}");
    assert!(!stored_in_clear(dir, M2M_SECRET));

    let stderr = fails(
        dir,
        &[
            "connections",
            "add",
            "--slug",
            "m2m-nosecret",
            "--name",
            "No secret",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--client-credentials",
            "--client-id",
            "svc",
        ],
    );
    assert!(
        stderr.contains("client credentials need"),
        "the refusal says what is missing: {stderr}"
    );
}

#[test]
fn edit_switches_a_header_connection_to_oauth_and_back() {
    const CLIENT_SECRET: &str = "cs-edit-canary-81d2c4";
    let tmp = tempdir();
    let dir = tmp.path();
    json(
        dir,
        &[
            "connections",
            "add",
            "--slug",
            "moving",
            "--name",
            "Moving",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--header",
            "X-API-Key: k-1",
            "--json",
        ],
    );
    let edited = json(
        dir,
        &[
            "connections",
            "edit",
            "moving",
            "--auth",
            "oauth",
            "--template",
            "okta",
            "--tenant",
            "dev-7.okta.com",
            "--client-id",
            "0oa7",
            "--client-secret",
            CLIENT_SECRET,
            "--json",
        ],
    );
    assert_eq!(edited["material"], true, "{edited}");
    assert_eq!(edited["connection"]["status"], "needs_auth", "{edited}");
    let (oauth, stdout) = listed_oauth(dir, "moving");
    assert_eq!(
        (
            &oauth["template"],
            &oauth["tenant"],
            &oauth["client_id"],
            &oauth["has_client_secret"]
        ),
        (
            &Value::from("okta"),
            &Value::from("dev-7.okta.com"),
            &Value::from("0oa7"),
            &Value::from(true)
        ),
        "{oauth}"
    );
    assert!(!stdout.contains(CLIENT_SECRET) && !edited.to_string().contains(CLIENT_SECRET));
    assert!(!stored_in_clear(dir, CLIENT_SECRET), "sealed in the store");

    let stderr = fails(dir, &["connections", "edit", "moving", "--client-id", "x"]);
    assert!(
        stderr.contains("--auth oauth"),
        "OAuth options without --auth oauth are refused: {stderr}"
    );
    let back = json(
        dir,
        &[
            "connections",
            "edit",
            "moving",
            "--header",
            "X-API-Key: k-2",
            "--json",
        ],
    );
    assert_eq!(
        (
            &back["connection"]["auth_kind"],
            &back["connection"]["oauth"],
            &back["connection"]["status"]
        ),
        (
            &Value::from("header"),
            &Value::Null,
            &Value::from("connected")
        ),
        "{back}"
    );
}
