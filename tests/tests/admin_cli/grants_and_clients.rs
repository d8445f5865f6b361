//! `gatehoused grants` and `gatehoused clients`, and the commands beside a running `gatehoused serve`
//! on the same data directory.

use super::*;

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
