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
            for w in &d.workspaces {
                writeln!(
                    out,
                    "{}\tworkspace\t{}\t{}\t{}{}",
                    d.id,
                    w.servers.len(),
                    w.through_gatehouse.join(","),
                    w.config.display(),
                    w.problem
                        .as_deref()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default()
                )?;
            }
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
    confirm(
        yes,
        &format!("Write this change to {}?", plan.config.display()),
    )?;
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

/// Asks on the terminal unless `yes`; without a terminal, `--yes` is required.
fn confirm(yes: bool, question: &str) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "not a terminal: add --yes to make the change shown".into(),
        ));
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::Usage("nothing changed".into()))
    }
}

pub fn import(
    vault: &Vault,
    client: &str,
    server: Option<&str>,
    config_file: Option<&Path>,
    yes: bool,
    json: bool,
) -> Result<(), CliError> {
    let Some(server) = server else {
        let found = admin::importable(client, config_file)?;
        return emit(json, &found, |out| {
            writeln!(out, "SERVER\tKIND\tSECRETS\tIMPORT")?;
            for c in &found {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    c.name,
                    c.kind,
                    c.secrets.join(","),
                    c.refused
                        .as_deref()
                        .map_or("yes".to_owned(), |why| format!("no: {why}"))
                )?;
            }
            Ok(())
        });
    };
    let port = config::resolve_port(None)?;
    let bridge = std::env::current_exe()
        .ok()
        .map(|exe| admin::bridge_command(vault, &exe));
    let planned = admin::plan_import(vault, port, client, server, config_file, bridge.as_deref())?;
    if !json {
        print!("{}", planned.plan.diff);
        println!(
            "Gatehouse will hold {server:?} as the connection {:?}{}",
            planned.slug,
            if planned.secrets.is_empty() {
                String::new()
            } else {
                format!(", with {} sealed in its store", planned.secrets.join(", "))
            }
        );
    }
    confirm(yes, "Import it?")?;
    let done = admin::import_server(vault, port, server, &planned)?;
    emit(json, &done, |out| {
        writeln!(out, "{}", done.connection.local_url)?;
        if let Some(backup) = &done.written.backup {
            writeln!(
                out,
                "{} no longer holds the secrets; its old version, with them in plain text, is in {} (delete it once you are happy, or `gatehoused clients undo {client}`)",
                done.written.config.display(),
                backup.display()
            )?;
        }
        Ok(())
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
