//! The client registry: registrations without a grant are bounded (the oldest go first, stale
//! pending-only clients with them), and the list returns every client with its redirect URIs.

use super::super::test_support::fixture;
use super::*;

#[test]
fn registrations_without_a_grant_are_bounded_and_the_oldest_go_first() {
    use super::super::test_support::registration;
    let f = fixture();
    let connection = f.connection("bounded");
    // Old clients that must survive any flood: one with a grant, one from CIMD.
    let granted = f.client();
    f.pending_grant(&granted, &connection, "mcp:access");
    let cimd = ClientId::generate();
    let mut cimd_reg = registration(&cimd, &["http://127.0.0.1/cb"]);
    cimd_reg.registration_source = RegistrationSource::Cimd;
    f.store.upsert_client(&cimd_reg).expect("cimd client");
    f.active_grant(&cimd, &connection);

    let max = usize::try_from(MAX_UNGRANTED_DCR_CLIENTS).expect("fits");
    let flood: Vec<ClientId> = (0..max + 5).map(|_| ClientId::generate()).collect();
    f.store
        .write_blocking(|tx| {
            for (i, id) in (0_i64..).zip(&flood) {
                upsert(tx, &registration(id, &["http://127.0.0.1/cb"]), 1_000 + i)?;
            }
            Ok(())
        })
        .expect("flood");

    let ids: BTreeSet<String> = f
        .store
        .read_blocking(list)
        .expect("list")
        .into_iter()
        .map(|c| c.registration.client_id.to_string())
        .collect();
    assert!(
        ids.contains(&granted.to_string()),
        "a client with a grant stays"
    );
    assert!(
        ids.contains(&cimd.to_string()),
        "a CIMD client with a grant stays"
    );
    for old in &flood[..5] {
        assert!(!ids.contains(&old.to_string()), "the oldest ungranted go");
    }
    for newer in &flood[5..] {
        assert!(ids.contains(&newer.to_string()), "the newest {max} stay");
    }
    assert_eq!(ids.len(), max + 2);
}

#[test]
fn clients_whose_only_grants_are_stale_pending_ones_are_evicted_by_the_next_registration() {
    let f = fixture();
    let connection = f.connection("ttl");
    let abandoned = f.client();
    f.pending_grant(&abandoned, &connection, "mcp:access");
    // A metadata URL a web page made Gatehouse fetch, whose consent nobody answered.
    let abandoned_cimd = ClientId::generate();
    let mut cimd_reg =
        super::super::test_support::registration(&abandoned_cimd, &["http://127.0.0.1/cb"]);
    cimd_reg.registration_source = RegistrationSource::Cimd;
    f.store.upsert_client(&cimd_reg).expect("cimd client");
    f.pending_grant(&abandoned_cimd, &connection, "mcp:access");
    let approved = f.client();
    f.active_grant(&approved, &connection);
    let fresh = f.client();
    f.clock.advance(PENDING_ONLY_CLIENT_TTL);
    f.pending_grant(&fresh, &connection, "mcp:access");
    f.clock.advance(1);
    let next = f.client();
    let ids: BTreeSet<String> = f
        .store
        .read_blocking(list)
        .expect("list")
        .into_iter()
        .map(|c| c.registration.client_id.to_string())
        .collect();
    assert!(
        !ids.contains(&abandoned.to_string()),
        "a consent nobody answered for an hour no longer keeps its client"
    );
    assert!(
        ids.contains(&approved.to_string()),
        "an approved client stays"
    );
    assert!(
        ids.contains(&fresh.to_string()),
        "a recent pending consent stays"
    );
    assert!(ids.contains(&next.to_string()), "the new registration");
}

#[test]
fn list_returns_every_client_with_its_redirect_uris_oldest_first() {
    let f = fixture();
    let first = f.client();
    f.clock.advance(1_000);
    let second = f.client();
    let listed = f
        .store
        .read_blocking(list)
        .expect("listing clients must work");
    let ids: Vec<&ClientId> = listed.iter().map(|c| &c.registration.client_id).collect();
    assert_eq!(
        ids,
        vec![&first, &second],
        "clients must come back oldest registration first"
    );
    assert!(
        listed
            .iter()
            .all(|c| c.registration.redirect_uris.len() == 1),
        "each listed client must carry its redirect URIs: {listed:?}"
    );
}
