//! The tools chosen on the consent page are stored on a pending grant only.

use super::super::test_support::fixture;
use super::*;

#[test]
fn sets_tools_of_a_pending_grant_only() {
    let f = fixture();
    let connection = f.connection("docs");
    let client = f.client();
    let id = f.pending_grant(&client, &connection, "mcp:access");
    let tools = vec![String::from("search"), String::from("fetch")];
    let now = f.clock_now();
    f.store
        .write_blocking(|tx| set_pending_tools(tx, &id, Some(&tools)))
        .unwrap_or_else(|e| panic!("a pending grant takes a tool list: {e}"));
    assert_eq!(
        f.grant(&id).tools,
        Some(vec![String::from("fetch"), String::from("search")]),
        "stored sorted, like create_pending"
    );
    f.store
        .write_blocking(|tx| activate(tx, &id, now).map(|_| ()))
        .unwrap_or_else(|e| panic!("activation works: {e}"));
    let result = f
        .store
        .write_blocking(|tx| set_pending_tools(tx, &id, None));
    assert!(
        matches!(result, Err(StoreError::GrantState { .. })),
        "an active grant's tools never change: {result:?}"
    );
    assert!(
        f.grant(&id).tools.is_some(),
        "the active grant kept its list"
    );
}
