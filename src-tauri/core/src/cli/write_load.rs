//! A hidden diagnostic for the crash-durability test: commits one audit row per transaction and
//! prints `committed <id>` only after each commit returned, so whatever was printed must survive a
//! SIGKILL at any moment.

use std::io::Write;
use std::path::Path;

use super::{CliError, open_vault};
use crate::store::audit::{self, AuditKind, AuditSubject};

pub fn write_load(data_dir: &Path, count: u64) -> Result<(), CliError> {
    let vault = open_vault(data_dir)?;
    let store = vault.store();
    let mut out = std::io::stdout().lock();
    for i in 0..count {
        let at = store.now();
        let id = store.write_blocking(move |tx| {
            let detail = serde_json::json!({ "row": i });
            audit::append(
                tx,
                at,
                AuditKind::DiagnosticWrite,
                &AuditSubject {
                    detail: Some(&detail),
                    ..Default::default()
                },
            )
        })?;
        writeln!(out, "committed {id}")?;
        out.flush()?;
    }
    Ok(())
}
