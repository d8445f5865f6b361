//! `gatehoused connections|grants|clients`: the admin command line over [`crate::admin`].
//!
//! Each command opens the data directory like the running gateway does (the store is WAL with a
//! busy timeout, so it works beside `gatehoused serve` or the app), calls one admin use case and
//! prints either a short human summary or, with `--json`, the use case's DTO as JSON on stdout.
//! What it changes is in the store, so a running gateway sees it on its next request.
//!
//! `args` holds the clap argument types; `connections`, `grants` and `clients` run the commands
//! of each noun; this module holds what they share: the output (`emit`) and the runtime for the
//! async use cases.

mod args;
mod clients;
mod connections;
mod grants;

use std::io::Write;

use serde::Serialize;

use super::CliError;
pub use args::{ClientsCommand, ConnectionsCommand, GrantsCommand};
pub use clients::clients;
pub use connections::connections;
pub use grants::grants;

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Prints `value` as JSON, or runs `human`.
pub(super) fn emit<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        human(&mut out)?;
    }
    out.flush()?;
    Ok(())
}
