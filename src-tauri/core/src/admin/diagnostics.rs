//! Diagnostics the test suites drive through the command line (never shown in the window).

use super::AdminError;
use crate::store::audit::{self, AuditKind, AuditSubject};
use crate::vault::Vault;

/// Commits one `diagnostic.write` audit row carrying `row` in a transaction of its own and returns
/// its id once the commit returned (the crash-durability test kills the writer at any moment).
pub fn record_diagnostic_write(vault: &Vault, row: u64) -> Result<i64, AdminError> {
    let store = vault.store();
    let at = store.now();
    Ok(store.write_blocking(move |tx| {
        let detail = serde_json::json!({ "row": row });
        audit::append(
            tx,
            at,
            AuditKind::DiagnosticWrite,
            &AuditSubject {
                detail: Some(&detail),
                ..Default::default()
            },
        )
    })?)
}
