//! `gatehoused connections|grants|clients`: the admin command line over [`crate::admin`].
//!
//! Each command opens the data directory like the running gateway does (the store is WAL with a
//! busy timeout, so it works beside `gatehoused serve` or the app), calls one admin use case and
//! prints either a short human summary or, with `--json`, the use case's DTO as JSON on stdout.
//! What it changes is in the store, so a running gateway sees it on its next request.

use std::io::Write;
use std::path::Path;

use clap::{Args, Subcommand};
use secrecy::SecretString;
use serde::Serialize;

use super::{CliError, open_vault};
use crate::admin::{
    self, ConnectionChange, ConnectionChanges, ConnectionView, GrantView, NewConnectionInput,
    UpstreamAuth,
};
use crate::config;

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Add an upstream MCP server; prints its local URL
    Add {
        /// The path segment of the local URL: /mcp/<SLUG> (lowercase letters, digits, '-')
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// The upstream's Streamable HTTP endpoint (https, or http to 127.0.0.1/localhost/[::1])
        #[arg(long)]
        url: String,
        #[command(flatten)]
        header: HeaderArgs,
    },
    /// List connections
    List,
    /// Change a connection; a new URL or header revokes its grants
    Edit {
        /// The connection's slug (or id)
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        url: Option<String>,
        #[command(flatten)]
        header: HeaderArgs,
        /// Stop sending a header (auth kind none)
        #[arg(long, conflicts_with_all = ["header", "header_from_env"])]
        no_header: bool,
    },
    /// Remove a connection, revoking its grants
    Remove { slug: String },
    /// Disable a connection, revoking its grants
    Disable { slug: String },
    /// Enable a disabled connection
    Enable { slug: String },
}

/// A header credential, from the command line or (to keep it out of shell history) the environment.
#[derive(Debug, Args)]
pub struct HeaderArgs {
    /// A header sent to the upstream on every request, as 'Name: value' (stored encrypted)
    #[arg(long, value_name = "'NAME: VALUE'", conflicts_with = "header_from_env")]
    header: Option<String>,
    /// Like --header, with the 'Name: value' line taken from this environment variable
    #[arg(long, value_name = "VAR")]
    header_from_env: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum GrantsCommand {
    /// List active grants (authorized clients)
    List {
        /// Include pending and revoked grants
        #[arg(long)]
        all: bool,
    },
    /// Revoke grants by id; an unknown id revokes nothing
    Revoke {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// List registered clients
    List,
    /// Pre-register a client that cannot register itself; prints its client_id
    Add {
        #[arg(long)]
        name: String,
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
    },
    /// Forget a client, revoking its grants
    Forget { client_id: String },
}

pub fn connections(
    data_dir: &Path,
    command: &ConnectionsCommand,
    json: bool,
) -> Result<(), CliError> {
    let vault = open_vault(data_dir)?;
    let port = config::resolve_port(None)?;
    match command {
        ConnectionsCommand::Add {
            slug,
            name,
            url,
            header,
        } => {
            let input = NewConnectionInput {
                slug: slug.clone(),
                name: name.clone(),
                upstream_url: url.clone(),
                auth: header.auth()?.unwrap_or(UpstreamAuth::None),
            };
            let view = admin::add_connection(&vault, port, &input)?;
            emit(json, &view, |out| writeln!(out, "{}", view.local_url))
        }
        ConnectionsCommand::List => {
            let views = admin::list_connections(&vault, port)?;
            emit(json, &views, |out| connection_table(out, &views))
        }
        ConnectionsCommand::Edit {
            slug,
            name,
            url,
            header,
            no_header,
        } => {
            let auth = if *no_header {
                Some(UpstreamAuth::None)
            } else {
                header.auth()?
            };
            let changes = ConnectionChanges {
                name: name.clone(),
                upstream_url: url.clone(),
                auth,
            };
            let change = admin::edit_connection(&vault, port, slug, &changes)?;
            emit(json, &change, |out| change_summary(out, "updated", &change))
        }
        ConnectionsCommand::Remove { slug } => {
            let removed = admin::remove_connection(&vault, slug)?;
            emit(json, &removed, |out| {
                writeln!(
                    out,
                    "removed {}; revoked {} grant(s)",
                    removed.slug, removed.revoked_grants
                )
            })
        }
        ConnectionsCommand::Disable { slug } => {
            let change = admin::set_connection_enabled(&vault, port, slug, false)?;
            emit(json, &change, |out| {
                change_summary(out, "disabled", &change)
            })
        }
        ConnectionsCommand::Enable { slug } => {
            let change = admin::set_connection_enabled(&vault, port, slug, true)?;
            emit(json, &change, |out| change_summary(out, "enabled", &change))
        }
    }
}

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

impl HeaderArgs {
    fn auth(&self) -> Result<Option<UpstreamAuth>, CliError> {
        let line = match (&self.header, &self.header_from_env) {
            (Some(line), _) => line.clone(),
            (None, Some(var)) => std::env::var(var).map_err(|_| {
                CliError::Usage(format!(
                    "--header-from-env: environment variable {var} is not set"
                ))
            })?,
            (None, None) => return Ok(None),
        };
        let Some((name, value)) = line.split_once(':') else {
            return Err(CliError::Usage(
                "--header must look like 'Name: value'".to_owned(),
            ));
        };
        Ok(Some(UpstreamAuth::Header {
            name: name.trim().to_owned(),
            value: SecretString::from(value.trim().to_owned()),
        }))
    }
}

/// Prints `value` as JSON, or runs `human`.
fn emit<T: Serialize>(
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

fn connection_table(out: &mut dyn Write, views: &[ConnectionView]) -> std::io::Result<()> {
    writeln!(
        out,
        "SLUG\tNAME\tENABLED\tSTATUS\tCLIENTS\tAUTH\tLOCAL_URL\tUPSTREAM"
    )?;
    for c in views {
        let auth = match &c.header_name {
            Some(name) => format!("header {name}"),
            None => c.auth_kind.clone(),
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            c.slug,
            c.name,
            if c.enabled { "yes" } else { "no" },
            c.status,
            c.authorized_clients,
            auth,
            c.local_url,
            c.upstream_url
        )?;
    }
    Ok(())
}

fn change_summary(
    out: &mut dyn Write,
    verb: &str,
    change: &ConnectionChange,
) -> std::io::Result<()> {
    write!(out, "{verb} {}", change.connection.slug)?;
    if change.material {
        write!(
            out,
            " (material change, config version {})",
            change.connection.config_version
        )?;
    }
    if change.revoked_grants > 0 || change.material {
        write!(out, "; revoked {} grant(s)", change.revoked_grants)?;
    }
    writeln!(out)
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
