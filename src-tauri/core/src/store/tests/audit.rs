//! The audit trail: events listed newest first, with their detail.

use crate::store::audit::{self, AuditKind};
use crate::store::test_support::{T0, fixture};

#[test]
fn audit_events_are_listed_newest_first() {
    let f = fixture();
    let detail = serde_json::json!({ "n": 1 });
    f.store
        .write_blocking(|tx| {
            audit::append(
                tx,
                T0,
                AuditKind::ConnectionCreated,
                &audit::AuditSubject::default(),
            )?;
            audit::append(
                tx,
                T0 + 1,
                AuditKind::ConnectionUpdated,
                &audit::AuditSubject {
                    detail: Some(&detail),
                    ..Default::default()
                },
            )
        })
        .expect("append must work");
    let recent = f
        .store
        .read_blocking(|c| audit::list_recent(c, 1))
        .expect("list");
    assert_eq!(recent.len(), 1, "the limit must be honoured");
    assert_eq!(
        (recent[0].kind, recent[0].detail.clone()),
        (AuditKind::ConnectionUpdated, Some(detail)),
        "newest first, detail round-trips"
    );
}
