//! `gatehoused clients detect|connect|undo`: the CLI face of `admin::client_setup`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use super::CliError;
use super::admin::emit;
use crate::admin;
use crate::config;
use crate::vault::Vault;

pub fn detect(json: bool) -> Result<(), CliError> {
    let port = config::resolve_port(None)?;
    let found = admin::detect_clients(port)?;
    emit(json, &found, |out| {
        writeln!(out, "CLIENT\tINSTALLED\tSERVERS\tTHROUGH_GATEHOUSE\tCONFIG")?;
        for d in &found {
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}{}",
                d.id,
                if d.installed { "yes" } else { "no" },
                d.servers.len(),
                d.through_gatehouse.join(","),
                d.config.display(),
                d.problem
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            )?;
        }
        Ok(())
    })
}

pub fn connect(
    vault: &Vault,
    client: &str,
    slug: &str,
    config_file: Option<&Path>,
    yes: bool,
    json: bool,
) -> Result<(), CliError> {
    let port = config::resolve_port(None)?;
    // This very program is the bridge for clients that only start commands (Claude Desktop).
    let bridge = std::env::current_exe()
        .ok()
        .map(|exe| admin::bridge_command(vault, &exe));
    let plan =
        admin::preview_client_connect(vault, port, client, slug, config_file, bridge.as_deref())?;
    if !json {
        print!("{}", plan.diff);
    }
    if plan.diff.is_empty() {
        emit(json, &plan, |out| {
            writeln!(
                out,
                "{} already has this entry; nothing to change",
                plan.config.display()
            )
        })?;
        return Ok(());
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Usage(
                "not a terminal: add --yes to write the change shown".into(),
            ));
        }
        print!("Write this change to {}? [y/N] ", plan.config.display());
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(CliError::Usage("nothing written".into()));
        }
    }
    let written = admin::connect_client(vault, &plan)?;
    emit(json, &written, |out| {
        writeln!(out, "wrote {} ({})", written.config.display(), plan.name)?;
        match &written.backup {
            Some(backup) => writeln!(
                out,
                "the file as it was is in {}; `gatehoused clients undo {client}` puts it back",
                backup.display()
            ),
            None => writeln!(
                out,
                "the file is new; `gatehoused clients undo {client}` removes it"
            ),
        }
    })
}

pub fn undo(vault: &Vault, client: &str, json: bool) -> Result<(), CliError> {
    let undone = admin::undo_client(vault, client)?;
    emit(json, &undone, |out| {
        writeln!(
            out,
            "{} is back as it was before Gatehouse changed it",
            undone.config.display()
        )
    })
}
