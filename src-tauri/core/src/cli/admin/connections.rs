//! `gatehoused connections add|list|edit|remove|disable|enable|signin|signout`: an upstream added
//! by URL (its authentication given, or probed: RFC 9728 metadata behind a 401 means OAuth) or as
//! a local command, and the connection's life after that; the tables and summaries they print.

use std::io::Write;
use std::path::Path;

use super::args::{AuthChoice, ConnectionsCommand};
use super::{CliError, emit, runtime};
use crate::admin::{
    self, ConnectionChange, ConnectionChanges, ConnectionView, NewConnectionInput, SuggestedAuth,
    UpstreamAuth,
};
use crate::cli::open_vault;
use crate::config;

/// `connections add … -- COMMAND ARGS…`: a local stdio server.
#[allow(clippy::too_many_arguments)]
fn add_command(
    vault: &crate::vault::Vault,
    port: u16,
    json: bool,
    slug: &str,
    name: &str,
    command: &[String],
    env: &[String],
    cwd: Option<&str>,
) -> Result<(), CliError> {
    let Some((program, args)) = command.split_first() else {
        return Err(CliError::Usage(
            "give --url, or the command after `--`".into(),
        ));
    };
    let mut variables = Vec::with_capacity(env.len());
    for item in env {
        let (name, value) = match item.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => {
                let value = std::env::var(item).map_err(|_| {
                    CliError::Usage(format!(
                        "--env {item}: this shell has no variable {item} to take the value from \
                         (or give --env {item}=VALUE)"
                    ))
                })?;
                (item.clone(), value)
            }
        };
        variables.push((name, secrecy::SecretString::from(value)));
    }
    let view = admin::add_stdio_connection(
        vault,
        port,
        &admin::NewStdioConnectionInput {
            slug: slug.to_owned(),
            name: name.to_owned(),
            program: program.clone(),
            args: args.to_vec(),
            cwd: cwd.map(str::to_owned),
            env: variables,
        },
    )?;
    emit(json, &view, |out| {
        writeln!(out, "{}", view.local_url)?;
        Ok(())
    })
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
            command,
            env,
            cwd,
            header,
            auth,
            oauth,
            account,
        } => {
            let Some(url) = url else {
                return add_command(&vault, port, json, slug, name, command, env, cwd.as_deref());
            };
            let header = header.auth()?;
            let auth = match (auth, header) {
                (Some(AuthChoice::Oauth), None) => UpstreamAuth::OAuth(oauth.input()?),
                (Some(AuthChoice::Header) | None, Some(h)) => h,
                (Some(AuthChoice::Header), None) => {
                    return Err(CliError::Usage("--auth header needs --header".into()));
                }
                (Some(AuthChoice::None), None) => UpstreamAuth::None,
                (Some(_), Some(_)) => {
                    return Err(CliError::Usage(
                        "--header only goes with --auth header".into(),
                    ));
                }
                (None, None) if oauth.given() => UpstreamAuth::OAuth(oauth.input()?),
                (None, None) => {
                    let probed = runtime()?.block_on(admin::detect_auth(url, false));
                    match probed {
                        Ok(d) if d.suggested == SuggestedAuth::OAuth => {
                            UpstreamAuth::OAuth(oauth.input()?)
                        }
                        Ok(d) if d.suggested == SuggestedAuth::Header => {
                            return Err(CliError::Usage(format!(
                                "{} Add it with --header 'NAME: VALUE' (or --header-from-env VAR), \
                                 or with --auth none to add it without credentials.",
                                d.finding
                            )));
                        }
                        Ok(d) => {
                            eprintln!("note: {} Adding it without auth.", d.finding);
                            UpstreamAuth::None
                        }
                        Err(err) => {
                            eprintln!(
                                "note: could not probe {url} ({err}); adding it without auth"
                            );
                            UpstreamAuth::None
                        }
                    }
                }
            };
            let mut input = input_of(slug, name, url, auth);
            input.account_name = account.clone();
            let view = admin::add_connection(&vault, port, &input)?;
            emit(json, &view, |out| {
                writeln!(out, "{}", view.local_url)?;
                if view.auth_kind == "oauth" {
                    writeln!(
                        out,
                        "Sign-in needed: run `gatehoused connections signin {}`",
                        view.slug
                    )?;
                }
                Ok(())
            })
        }
        ConnectionsCommand::Signin {
            slug,
            timeout,
            port,
            no_browser,
            callback,
        } => crate::cli::signin::signin(
            &vault,
            slug,
            *timeout,
            *port,
            (*callback).into(),
            *no_browser,
            json,
        ),
        ConnectionsCommand::Signout { slug } => {
            let result = runtime()?.block_on(admin::disconnect_connection(
                &admin::standalone_upstream_oauth(&vault),
                slug,
            ))?;
            let summary = serde_json::json!({"slug": slug, "revocation": result.as_str()});
            emit(json, &summary, |out| {
                writeln!(
                    out,
                    "signed out of {slug}; upstream revocation: {}",
                    result.as_str()
                )
            })
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
            auth,
            oauth,
            account,
        } => {
            let auth = if *no_header {
                Some(UpstreamAuth::None)
            } else if auth.is_some() {
                Some(UpstreamAuth::OAuth(oauth.input()?))
            } else if oauth.given() {
                return Err(CliError::Usage("OAuth options go with --auth oauth".into()));
            } else {
                header.auth()?
            };
            let changes = ConnectionChanges {
                name: name.clone(),
                upstream_url: url.clone(),
                auth,
                account_name: account.clone(),
            };
            let change = admin::edit_connection(&vault, port, slug, &changes)?;
            emit(json, &change, |out| change_summary(out, "updated", &change))
        }
        ConnectionsCommand::Remove { slug } => {
            // An OAuth connection is signed out at the upstream first (RFC 7009, best effort).
            let removed = runtime()?.block_on(admin::remove_connection(
                &admin::standalone_upstream_oauth(&vault),
                slug,
            ))?;
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

fn input_of(slug: &str, name: &str, url: &str, auth: UpstreamAuth) -> NewConnectionInput {
    NewConnectionInput {
        slug: slug.to_owned(),
        name: name.to_owned(),
        upstream_url: url.to_owned(),
        auth,
        account_name: None,
    }
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
