//! Connections: an edit bumps the config version (and revokes) only when it is material; deleting a
//! connection revokes its grants before they go.

use crate::clock::HOUR;
use crate::store::audit::{self, AuditKind};
use crate::store::connections::{self, AuthKind, ConnectionEdit, ConnectionStatus};
use crate::store::test_support::{T0, fixture, settings};
use crate::store::upstream_credentials::{self, UpstreamCredential};
use crate::store::*;

#[test]
fn connection_edits_bump_config_version_only_when_material() {
    let f = fixture();
    let id = f.connection("edit");
    let client = f.client();
    let grant = f.active_grant(&client, &id);
    let a = f.artefacts(&grant);
    f.store
        .write_blocking(|tx| {
            upstream_credentials::put(
                tx,
                &UpstreamCredential {
                    connection_id: id.clone(),
                    access_token_sealed: Some(vec![7; 40]),
                    refresh_token_sealed: None,
                    expires_at: Some(T0 + HOUR),
                    scopes: Some("read".into()),
                    issuer: None,
                    token_type: Some("Bearer".into()),
                    dcr_client_json_sealed: None,
                    updated_at: 0,
                },
                T0,
            )
        })
        .expect("storing a credential must work");

    let cosmetic = f
        .store
        .update_connection(
            &id,
            &ConnectionEdit {
                name: Some("Renamed".into()),
                slug: Some("renamed".into()),
                settings: None,
            },
        )
        .expect("a rename must work");
    assert_eq!(
        (cosmetic.material, cosmetic.config_version),
        (false, 1),
        "a rename is not material"
    );
    assert!(
        f.access(&a.access).is_usable(T0),
        "a rename must not break tokens"
    );
    let by_slug = f
        .store
        .read_blocking(|c| connections::get_by_slug(c, "renamed"))
        .expect("get")
        .expect("found by new slug");
    assert_eq!(by_slug.name, "Renamed", "the edit must be stored");

    let mut new_settings = settings("https://moved.example/mcp");
    new_settings.auth_kind = AuthKind::OAuth;
    let material = f
        .store
        .update_connection(
            &id,
            &ConnectionEdit {
                settings: Some(new_settings),
                ..ConnectionEdit::default()
            },
        )
        .expect("a material edit must work");
    assert_eq!(
        (material.material, material.config_version),
        (true, 2),
        "a URL change is material and bumps the version"
    );
    assert_eq!(
        material.revocation.map(|o| o.revoked),
        Some(vec![grant.clone()]),
        "the grant must be revoked"
    );
    assert_eq!(
        f.grant(&grant).revoked_reason,
        Some(RevocationReason::ConnectionChanged),
        "with the right reason"
    );
    let row = f
        .store
        .read_blocking(|c| connections::get(c, &id))
        .expect("get")
        .expect("still there");
    assert_eq!(
        row.status,
        ConnectionStatus::NeedsAuth,
        "new upstream settings need a new sign-in"
    );
    assert_eq!(
        f.store
            .read_blocking(|c| upstream_credentials::get(c, &id))
            .expect("get"),
        None,
        "a material change purges the upstream credential"
    );

    f.connection("taken");
    let clash = f.store.update_connection(
        &id,
        &ConnectionEdit {
            slug: Some("taken".into()),
            ..ConnectionEdit::default()
        },
    );
    assert!(
        matches!(clash, Err(StoreError::Conflict(_))),
        "a duplicate slug is a conflict, got {clash:?}"
    );
    assert_eq!(
        f.store
            .read_blocking(connections::list)
            .expect("list")
            .len(),
        2,
        "both connections are listed"
    );
}

#[test]
fn deleting_a_connection_revokes_then_removes_its_grants() {
    let f = fixture();
    let id = f.connection("gone");
    let client = f.client();
    let grant = f.active_grant(&client, &id);
    f.artefacts(&grant);
    let mut events = f.store.subscribe();

    let outcome = f.store.delete_connection(&id).expect("deleting must work");
    assert_eq!(
        outcome.revoked,
        vec![grant],
        "the grant is revoked before the delete"
    );
    assert!(
        matches!(
            events.try_recv(),
            Ok(StoreEvent::GrantsRevoked {
                reason: RevocationReason::ConnectionDeleted,
                ..
            })
        ),
        "and announced"
    );
    assert_eq!(
        f.count("SELECT count(*) FROM grants"),
        0,
        "the grant rows go with the connection"
    );
    assert_eq!(
        f.count("SELECT count(*) FROM access_tokens"),
        0,
        "and so do their tokens"
    );
    let kinds: Vec<_> = f
        .store
        .read_blocking(|c| audit::list_recent(c, 10))
        .expect("audit")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&AuditKind::GrantRevoked) && kinds.contains(&AuditKind::ConnectionDeleted),
        "the audit log keeps the story: {kinds:?}"
    );
}
