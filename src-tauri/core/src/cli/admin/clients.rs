//! `gatehoused clients list|add|forget|detect|connect|import|undo`: the OAuth clients registered
//! with Gatehouse, and the MCP clients' config files on this computer (through
//! `cli::client_setup`).

use std::path::{Path, PathBuf};

use super::args::ClientsCommand;
use super::{CliError, emit};
use crate::admin;
use crate::cli::open_vault;

/// The config file `--config` or `--workspace` names, if either does.
fn config_file(
    client: &str,
    config: Option<&PathBuf>,
    workspace: Option<&str>,
) -> Result<Option<PathBuf>, CliError> {
    match config {
        Some(file) => Ok(Some(file.clone())),
        None => Ok(admin::workspace_config(client, workspace)?),
    }
}

pub fn clients(data_dir: &Path, command: &ClientsCommand, json: bool) -> Result<(), CliError> {
    let vault = open_vault(data_dir)?;
    match command {
        ClientsCommand::List => {
            let views = admin::list_clients(&vault)?;
            emit(json, &views, |out| {
                writeln!(out, "CLIENT_ID\tNAME\tSOURCE\tACTIVE_GRANTS\tREDIRECT_URIS")?;
                for c in &views {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}",
                        c.client_id,
                        c.client_name
                            .as_deref()
                            .map_or_else(|| "(no name reported)".to_owned(), |n| format!("{n:?}")),
                        c.registration_source,
                        c.active_grants,
                        c.redirect_uris.join(" ")
                    )?;
                }
                Ok(())
            })
        }
        ClientsCommand::Add {
            name,
            redirect_uris,
        } => {
            let view = admin::add_client(&vault, name, redirect_uris)?;
            emit(json, &view, |out| writeln!(out, "{}", view.client_id))
        }
        ClientsCommand::Detect => crate::cli::client_setup::detect(json),
        ClientsCommand::Connect {
            client,
            slug,
            config,
            workspace,
            yes,
        } => {
            let config = config_file(client, config.as_ref(), workspace.as_deref())?;
            crate::cli::client_setup::connect(&vault, client, slug, config.as_deref(), *yes, json)
        }
        ClientsCommand::Import {
            client,
            server,
            config,
            workspace,
            yes,
        } => {
            let config = config_file(client, config.as_ref(), workspace.as_deref())?;
            crate::cli::client_setup::import(
                &vault,
                client,
                server.as_deref(),
                config.as_deref(),
                *yes,
                json,
            )
        }
        ClientsCommand::Undo { client } => crate::cli::client_setup::undo(&vault, client, json),
        ClientsCommand::Forget { client_id } => {
            let forgotten = admin::forget_client(&vault, client_id)?;
            emit(json, &forgotten, |out| {
                writeln!(
                    out,
                    "forgot {}; revoked {} grant(s)",
                    forgotten.client_id, forgotten.revoked_grants
                )
            })
        }
    }
}
