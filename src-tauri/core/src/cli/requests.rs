//! `gatehoused requests list|approve|deny`: the consent requests waiting for the person, decided
//! from the terminal (`admin::pending`). The answer goes to the client's callback as the consent
//! page's would; `approve` allows every tool unless `--tool` names some.

use std::path::Path;

use clap::Subcommand;

use super::admin::{emit, runtime};
use super::{CliError, open_vault};
use crate::admin::{self, Delivery, PendingDecision};
use crate::config;

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// List the consent requests waiting for a decision
    List,
    /// Approve a request: the client gets its authorization code at its callback
    Approve {
        #[arg(value_name = "ID")]
        id: String,
        /// Allow only this tool (repeat for several); without it every tool is allowed
        #[arg(long = "tool", value_name = "NAME")]
        tools: Vec<String>,
        /// The gateway's port (its issuer is named in the answer); default as for `serve`
        #[arg(long)]
        port: Option<u16>,
    },
    /// Deny a request: the client is told access_denied at its callback
    Deny {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(long)]
        port: Option<u16>,
    },
}

pub fn requests(data_dir: &Path, command: &RequestsCommand, json: bool) -> Result<(), CliError> {
    let vault = open_vault(data_dir)?;
    let (id, port, decision) = match command {
        RequestsCommand::List => {
            let views = admin::list_pending_requests(&vault)?;
            return emit(json, &views, |out| {
                writeln!(out, "ID\tCLIENT\tPROGRAM\tCONNECTION\tCALLBACK")?;
                for r in &views {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}",
                        r.id,
                        r.client_name
                            .as_deref()
                            .map_or_else(|| "(no name reported)".to_owned(), |n| format!("{n:?}")),
                        r.caller.as_ref().map_or_else(
                            || "(not seen)".to_owned(),
                            |c| format!(
                                "{} (pid {})",
                                c.exe.as_deref().unwrap_or("(executable not visible)"),
                                c.pid
                            )
                        ),
                        r.connection_slug,
                        r.redirect_uri,
                    )?;
                }
                Ok(())
            });
        }
        RequestsCommand::Approve { id, tools, port } => (
            id,
            port,
            PendingDecision::Approve {
                tools: (!tools.is_empty()).then(|| tools.clone()),
            },
        ),
        RequestsCommand::Deny { id, port } => (id, port, PendingDecision::Deny),
    };
    let port = config::resolve_port(*port)?;
    let decided = runtime()?.block_on(admin::decide_pending_request(&vault, port, id, decision))?;
    emit(json, &decided, |out| {
        let what = if decided.approved {
            "approved"
        } else {
            "denied"
        };
        match &decided.delivery {
            Delivery::Loopback { status } => {
                writeln!(out, "{what} {id}: the client's callback answered {status}")
            }
            Delivery::Opened => writeln!(out, "{what} {id}: the callback was opened"),
            Delivery::Failed { reason } => writeln!(out, "{what} {id}, but {reason}"),
        }
    })
}
