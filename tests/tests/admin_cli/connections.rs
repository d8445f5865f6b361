//! `gatehoused connections`: add, list, edit and remove a header connection, the header from the
//! environment, the account name, and bad input.

use super::*;

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
