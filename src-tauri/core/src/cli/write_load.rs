//! A hidden diagnostic for the crash-durability test: commits one audit row per transaction and
//! prints `committed <id>` only after each commit returned, so whatever was printed must survive a
//! SIGKILL at any moment.

use std::io::Write;
use std::path::Path;

use super::{CliError, open_vault};
use crate::admin;

pub fn write_load(data_dir: &Path, count: u64) -> Result<(), CliError> {
    let vault = open_vault(data_dir)?;
    let mut out = std::io::stdout().lock();
    for i in 0..count {
        let id = admin::record_diagnostic_write(&vault, i)?;
        writeln!(out, "committed {id}")?;
        out.flush()?;
    }
    Ok(())
}
