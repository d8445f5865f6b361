//! The activity list in sentences, and the gateway's settings.

use super::*;

/// Every IPC response DTO, built from a store holding real tokens and a header secret, serialized
/// as the window would receive it: no token plaintext, token hash, token prefix or header secret
/// may appear. (`GatewayStatus` is address, port, data dir, key source and version by construction.)
#[test]
fn activity_tells_what_happened_in_sentences_newest_first() {
    let f = fixture();
    let view = f.add("activity");
    let client = f.client("Claude Code");
    let grant = f.grant(&client, &view.id);
    revoke_grants(&f.vault, &[grant.to_string()]).expect("revoke");
    let events = list_activity(&f.vault, 10).expect("activity");
    assert_eq!(
        events.first().map(|e| e.kind.as_str()),
        Some("grant.revoked"),
        "the newest event comes first"
    );
    assert_eq!(
        events[0].summary,
        "\u{201c}Claude Code\u{201d} lost access to Connection activity (user revoked)."
    );
    assert!(
        events.iter().any(|e| e.summary
            == "\u{201c}Claude Code\u{201d} was authorized to use Connection activity."),
        "the approval is told too: {events:#?}"
    );
}

#[test]
fn settings_are_validated_and_a_port_change_waits_for_the_next_launch() {
    let f = fixture();
    let mut s = get_settings(&f.vault, Some(PORT)).expect("defaults");
    assert_eq!(s.restart_required, Some(false));
    s.port = PORT + 1;
    let saved = update_settings(&f.vault, Some(PORT), &s).expect("save");
    assert_eq!(
        saved.restart_required,
        Some(true),
        "a port other than the listening one applies at the next launch"
    );
    s.retention_days = 0;
    assert_eq!(
        update_settings(&f.vault, Some(PORT), &s)
            .expect_err("zero days is refused")
            .kind(),
        AdminErrorKind::InvalidInput
    );
}
