//! Black-box tests of `gatehoused connections|grants|clients`: what scripts rely on (exit codes,
//! `--json` keys, messages on stderr), and that the commands work beside a running `gatehoused serve`
//! on the same data directory.

use std::path::Path;
use std::process::Output;

use gatehouse_e2e::{Gatehoused, gatehoused};
use serde_json::Value;

const SECRET: &str = "sk-cli-canary-0b7e4c51";

fn run(dir: &Path, args: &[&str]) -> Output {
    gatehoused(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gatehoused {args:?}: {e}"))
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "gatehoused {args:?} must succeed; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("stdout is not UTF-8: {e}"))
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let stdout = ok(dir, args);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("gatehoused {args:?} --json printed no JSON ({e}): {stdout}"))
}

/// Runs a command that must fail; returns its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "gatehoused {args:?} must exit 1; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

#[test]
fn connections_add_list_edit_remove() {
    let tmp = tempdir();
    let dir = tmp.path();
    let header = format!("X-API-Key: {SECRET}");
    let stdout = ok(
        dir,
        &[
            "connections",
            "add",
            "--slug",
            "everything",
            "--name",
            "Everything",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--header",
            &header,
        ],
    );
    assert_eq!(
        stdout.trim(),
        "http://127.0.0.1:47474/mcp/everything",
        "add prints the local URL"
    );

    let list = json(dir, &["connections", "list", "--json"]);
    let list = list.as_array().expect("list --json prints an array");
    assert_eq!(list.len(), 1);
    let c = &list[0];
    assert_eq!(c["slug"], "everything");
    assert_eq!(c["name"], "Everything");
    assert_eq!(c["upstream_url"], "http://127.0.0.1:9/mcp");
    assert_eq!(c["local_url"], "http://127.0.0.1:47474/mcp/everything");
    assert_eq!(c["auth_kind"], "header");
    assert_eq!(c["header_name"], "X-API-Key");
    assert_eq!(c["enabled"], true);
    assert_eq!(c["config_version"], 1);
    assert!(
        !c.to_string().contains(SECRET),
        "the header value must never be printed: {c}"
    );

    let edited = json(
        dir,
        &[
            "connections",
            "edit",
            "everything",
            "--name",
            "Renamed",
            "--json",
        ],
    );
    assert_eq!(edited["material"], false, "a rename is cosmetic: {edited}");
    assert_eq!(edited["connection"]["config_version"], 1);
    let edited = json(
        dir,
        &[
            "connections",
            "edit",
            "everything",
            "--url",
            "https://upstream.example/mcp",
            "--json",
        ],
    );
    assert_eq!(edited["material"], true, "a new URL is material: {edited}");
    assert_eq!(edited["connection"]["config_version"], 2);
    assert_eq!(edited["connection"]["name"], "Renamed");

    let disabled = json(dir, &["connections", "disable", "everything", "--json"]);
    assert_eq!(disabled["connection"]["enabled"], false);
    ok(dir, &["connections", "enable", "everything"]);

    let out = ok(dir, &["connections", "remove", "everything"]);
    assert!(out.contains("removed everything"), "{out}");
    let list = json(dir, &["connections", "list", "--json"]);
    assert_eq!(
        list,
        Value::Array(Vec::new()),
        "the connection must be gone"
    );
    let err = fails(dir, &["connections", "remove", "everything"]);
    assert!(err.contains("no connection"), "{err}");
}

#[test]
fn the_header_can_come_from_the_environment() {
    let tmp = tempdir();
    let dir = tmp.path();
    let out = gatehoused(dir)
        .args([
            "connections",
            "add",
            "--slug",
            "env",
            "--name",
            "From env",
            "--url",
            "https://upstream.example/mcp",
            "--header-from-env",
            "UPSTREAM_HEADER",
            "--json",
        ])
        .env("UPSTREAM_HEADER", format!("Authorization: Bearer {SECRET}"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run gatehoused: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(view["header_name"], "Authorization");
    assert!(!view.to_string().contains(SECRET));
}

#[test]
fn bad_input_exits_1_with_a_clear_message() {
    let tmp = tempdir();
    let dir = tmp.path();
    let add = |slug: &str, url: &str| {
        fails(
            dir,
            &[
                "connections",
                "add",
                "--slug",
                slug,
                "--name",
                "X",
                "--url",
                url,
            ],
        )
    };
    let err = add("Not_A_Slug", "https://a.example/mcp");
    assert!(
        err.contains("invalid slug") && err.contains("lowercase"),
        "the message must say what a slug may contain: {err}"
    );
    let err = add("plain", "http://a.example/mcp");
    assert!(
        err.contains("invalid url") && err.contains("https"),
        "the message must say https is required: {err}"
    );
    let err = add("relative", "not a url");
    assert!(err.contains("invalid url"), "{err}");
    let err = fails(
        dir,
        &[
            "connections",
            "add",
            "--slug",
            "hdr",
            "--name",
            "X",
            "--url",
            "https://a.example/mcp",
            "--header",
            "no colon here",
        ],
    );
    assert!(err.contains("Name: value"), "{err}");
    let list = json(dir, &["connections", "list", "--json"]);
    assert_eq!(
        list,
        Value::Array(Vec::new()),
        "nothing may have been added"
    );
}

#[test]
fn grants_and_clients_commands() {
    let tmp = tempdir();
    let dir = tmp.path();
    let client = json(
        dir,
        &[
            "clients",
            "add",
            "--name",
            "Script client",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--redirect-uri",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
            "--json",
        ],
    );
    let client_id = client["client_id"]
        .as_str()
        .expect("clients add --json has client_id")
        .to_owned();
    assert_eq!(client["registration_source"], "preregistered");
    let plain = ok(
        dir,
        &[
            "clients",
            "add",
            "--name",
            "Other",
            "--redirect-uri",
            "http://localhost/cb",
        ],
    );
    assert!(!plain.trim().is_empty(), "clients add prints the client_id");

    let clients = json(dir, &["clients", "list", "--json"]);
    let clients = clients.as_array().expect("an array");
    assert_eq!(clients.len(), 2);
    let listed = clients
        .iter()
        .find(|c| c["client_id"] == client_id.as_str())
        .unwrap_or_else(|| panic!("the added client must be listed: {clients:?}"));
    assert_eq!(listed["client_name"], "Script client");
    assert_eq!(listed["active_grants"], 0);

    let err = fails(
        dir,
        &[
            "clients",
            "add",
            "--name",
            "Bad",
            "--redirect-uri",
            "javascript:alert(1)",
        ],
    );
    assert!(err.contains("redirect_uri"), "{err}");

    assert_eq!(
        json(dir, &["grants", "list", "--json"]),
        Value::Array(Vec::new())
    );
    assert_eq!(
        json(dir, &["grants", "list", "--all", "--json"]),
        Value::Array(Vec::new())
    );
    let err = fails(
        dir,
        &["grants", "revoke", "00000000-0000-4000-8000-000000000000"],
    );
    assert!(err.contains("no grant"), "{err}");
    let err = fails(dir, &["grants", "revoke", "not-an-id"]);
    assert!(err.contains("no grant"), "{err}");

    ok(dir, &["clients", "forget", &client_id]);
    let err = fails(dir, &["clients", "forget", &client_id]);
    assert!(err.contains("no client"), "{err}");
}

#[test]
fn commands_work_while_the_gateway_serves_the_same_data_dir() {
    let tmp = tempdir();
    let dir = tmp.path();
    let _gateway = Gatehoused::serve(dir);
    ok(
        dir,
        &[
            "connections",
            "add",
            "--slug",
            "live",
            "--name",
            "Live",
            "--url",
            "https://upstream.example/mcp",
        ],
    );
    ok(
        dir,
        &[
            "connections",
            "edit",
            "live",
            "--url",
            "https://b.example/mcp",
        ],
    );
    let list = json(dir, &["connections", "list", "--json"]);
    assert_eq!(list[0]["slug"], "live");
    assert_eq!(list[0]["config_version"], 2);
    ok(
        dir,
        &[
            "clients",
            "add",
            "--name",
            "Live client",
            "--redirect-uri",
            "http://127.0.0.1/cb",
        ],
    );
    assert_eq!(
        json(dir, &["grants", "list", "--json"]),
        Value::Array(Vec::new())
    );
    ok(dir, &["connections", "remove", "live"]);
}

/// `--account NAME` names the account an upstream does not name itself; `--account ""` removes it.
#[test]
fn connections_add_and_edit_take_an_account_name() {
    let tmp = tempdir();
    let dir = tmp.path();
    let added = json(
        dir,
        &[
            "connections",
            "add",
            "--slug",
            "robot",
            "--name",
            "Robot",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--auth",
            "oauth",
            "--account",
            "ops robot",
            "--json",
        ],
    );
    assert_eq!(added["auth_kind"], "oauth", "{added}");
    assert_eq!(added["account_label"], "ops robot", "{added}");
    let edited = json(
        dir,
        &["connections", "edit", "robot", "--account", "ada", "--json"],
    );
    assert_eq!(edited["connection"]["account_label"], "ada", "{edited}");
    assert_eq!(edited["material"], false, "an account name is not material");
    let cleared = json(
        dir,
        &["connections", "edit", "robot", "--account", "", "--json"],
    );
    assert_eq!(
        cleared["connection"]["account_label"],
        Value::Null,
        "{cleared}"
    );
    let stderr = fails(
        dir,
        &["connections", "edit", "robot", "--account", "a\u{1b}[31m"],
    );
    assert!(
        stderr.contains("account"),
        "names the refused field: {stderr}"
    );
}

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
