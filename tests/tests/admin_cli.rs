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
