//! `gatehoused grants list|revoke`: the clients' grants and their revocation, as a table or JSON.

use std::io::Write;
use std::path::Path;

use super::args::GrantsCommand;
use super::{CliError, emit};
use crate::admin::{self, GrantView};
use crate::cli::open_vault;

pub fn grants(data_dir: &Path, command: &GrantsCommand, json: bool) -> Result<(), CliError> {
    let vault = open_vault(data_dir)?;
    match command {
        GrantsCommand::List { all } => {
            let views = admin::list_grants(&vault, *all)?;
            emit(json, &views, |out| grant_table(out, &views))
        }
        GrantsCommand::Revoke { ids } => {
            let outcome = admin::revoke_grants(&vault, ids)?;
            emit(json, &outcome, |out| {
                for id in &outcome.revoked {
                    writeln!(out, "revoked {id}")?;
                }
                for id in &outcome.already_revoked {
                    writeln!(out, "already revoked {id}")?;
                }
                Ok(())
            })
        }
    }
}

fn grant_table(out: &mut dyn Write, views: &[GrantView]) -> std::io::Result<()> {
    writeln!(
        out,
        "ID\tSTATUS\tCLIENT\tCLIENT_ID\tCONNECTION\tSCOPES\tTOKENS\tLAST_USED\tREDIRECT_URI"
    )?;
    for g in views {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            g.id,
            g.status,
            g.client_name
                .as_deref()
                .map_or_else(|| "Unverified MCP client".to_owned(), |n| format!("{n:?}")),
            g.client_id,
            g.connection_slug,
            g.scopes.join(" "),
            g.token_health.as_str(),
            g.last_used_at
                .map_or_else(|| "never".to_owned(), |at| at.to_string()),
            g.redirect_uri
        )?;
    }
    Ok(())
}
