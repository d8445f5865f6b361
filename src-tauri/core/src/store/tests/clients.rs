//! Clients: a re-registration revokes only when it shrinks what the client may do; forgetting a
//! client revokes its grants and removes it.

use crate::store::clients;
use crate::store::grants::GrantStatus;
use crate::store::test_support::{REDIRECT, fixture, registration};
use crate::store::*;

#[test]
fn client_reregistration_revokes_only_when_it_shrinks() {
    let f = fixture();
    let connection = f.connection("dcr");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);

    let grown = registration(&client, &[REDIRECT, "http://localhost/callback"]);
    let outcome = f
        .store
        .upsert_client(&grown)
        .expect("re-registering must work");
    assert!(
        !outcome.created && !outcome.shrunk && outcome.revocation.is_none(),
        "adding a redirect URI must not revoke"
    );
    let mut renamed = grown;
    renamed.client_name = Some("Another Name".into());
    renamed.redirect_uris.reverse();
    assert!(
        !f.store.upsert_client(&renamed).expect("must work").shrunk,
        "renaming and reordering are cosmetic"
    );
    assert_eq!(
        f.grant(&grant).status,
        GrantStatus::Active,
        "the grant must survive cosmetic changes"
    );
    assert!(
        f.store
            .read_blocking(|c| clients::has_redirect_uri(c, &client, "http://localhost/callback"))
            .expect("lookup"),
        "the added redirect URI must be registered"
    );

    let shrunk = registration(&client, &["http://localhost/callback"]);
    let outcome = f
        .store
        .upsert_client(&shrunk)
        .expect("re-registering must work");
    assert!(outcome.shrunk, "dropping a redirect URI is a shrink");
    assert_eq!(
        outcome.revocation.map(|o| o.revoked),
        Some(vec![grant.clone()]),
        "and revokes the client's grants"
    );
    assert_eq!(
        f.grant(&grant).revoked_reason,
        Some(RevocationReason::ClientMetadataShrunk),
        "with the right reason"
    );
    let stored = f
        .store
        .read_blocking(|c| clients::get(c, &client))
        .expect("get")
        .expect("client kept");
    assert_eq!(
        stored.registration.redirect_uris,
        vec!["http://localhost/callback".to_owned()],
        "the new URIs replace the old"
    );

    let mut fewer_scopes = shrunk.clone();
    fewer_scopes.scope = None;
    assert!(
        clients::shrinks(&shrunk, &fewer_scopes),
        "dropping a scope is a shrink"
    );
    let mut fewer_grant_types = shrunk.clone();
    fewer_grant_types.grant_types.pop();
    assert!(
        clients::shrinks(&shrunk, &fewer_grant_types),
        "dropping a grant type is a shrink"
    );
}

#[test]
fn forgetting_a_client_revokes_and_removes_it() {
    let f = fixture();
    let connection = f.connection("forget");
    let client = f.client();
    let grant = f.active_grant(&client, &connection);
    let outcome = f
        .store
        .forget_client(&client)
        .expect("forgetting must work")
        .expect("the client existed");
    assert_eq!(outcome.revoked, vec![grant], "its grants are revoked first");
    assert_eq!(
        f.store
            .read_blocking(|c| clients::get(c, &client))
            .expect("get"),
        None,
        "the client is gone"
    );
    assert_eq!(
        f.store.forget_client(&client).expect("must work"),
        None,
        "forgetting twice finds nothing"
    );
}
