//! `gatehoused connections|grants|clients`: the admin command line over [`crate::admin`].
//!
//! Each command opens the data directory like the running gateway does (the store is WAL with a
//! busy timeout, so it works beside `gatehoused serve` or the app), calls one admin use case and
//! prints either a short human summary or, with `--json`, the use case's DTO as JSON on stdout.
//! What it changes is in the store, so a running gateway sees it on its next request.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use secrecy::SecretString;
use serde::Serialize;

use super::{CliError, open_vault};
use crate::admin::{
    self, ConnectionChange, ConnectionChanges, ConnectionView, GrantView, NewConnectionInput,
    OAuthInput, SigninCallback, SuggestedAuth, UpstreamAuth,
};
use crate::config;

/// What `connections edit --auth` can switch to (a header is given with `--header`, none with
/// `--no-header`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EditAuthChoice {
    Oauth,
}

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
        #[arg(long, required_unless_present = "command", conflicts_with = "command")]
        url: Option<String>,
        /// A local MCP server to start instead of a URL, after `--`: the program and its
        /// arguments (`-- npx -y @modelcontextprotocol/server-filesystem /home/me/notes`)
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
        /// For a command: an environment variable for it, sealed in Gatehouse's store. `NAME`
        /// takes the value from this shell's own variable NAME (keeps it off the command line);
        /// `NAME=VALUE` gives it here
        #[arg(long = "env", value_name = "NAME[=VALUE]", requires = "command")]
        env: Vec<String>,
        /// For a command: its working directory (absolute; default: your home directory)
        #[arg(long, value_name = "DIR", requires = "command")]
        cwd: Option<String>,
        #[command(flatten)]
        header: HeaderArgs,
        /// How Gatehouse authenticates upstream; without it, a --header means header, OAuth options
        /// mean oauth, and otherwise an unauthenticated probe decides: a 401 with OAuth metadata
        /// (RFC 9728) → oauth, "Sign-in needed"; a 401 without → an error asking for --header
        #[arg(long, value_enum)]
        auth: Option<AuthChoice>,
        #[command(flatten)]
        oauth: Box<OAuthArgs>,
        /// The account the connection acts for, shown as "on behalf of" when the upstream does not
        /// say who signed in (no id_token or userinfo)
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
    },
    /// List connections
    List,
    /// Change a connection; a new URL or new authentication settings revoke its grants
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
        /// New OAuth settings (`--auth oauth` with the same options as `add`; the stored client
        /// secret stays when the client id is the same and no secret is given). The connection
        /// then needs a new sign-in.
        #[arg(long, value_enum, conflicts_with_all = ["header", "header_from_env", "no_header"])]
        auth: Option<EditAuthChoice>,
        #[command(flatten)]
        oauth: Box<OAuthArgs>,
        /// The account the connection acts for, as you name it ("" removes it); the upstream's own
        /// answer (id_token, userinfo) is shown instead when it gives one
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
    },
    /// Remove a connection, revoking its grants
    Remove { slug: String },
    /// Disable a connection, revoking its grants
    Disable { slug: String },
    /// Enable a disabled connection
    Enable { slug: String },
    /// Sign an OAuth connection in: prints the authorization URL, opens it in the browser ($BROWSER,
    /// else the platform opener), and waits until the running gateway's callback completed it
    Signin {
        slug: String,
        /// Give up after this many seconds
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// The running gateway's port (default: $GATEHOUSE_PORT, else 47474)
        #[arg(long)]
        port: Option<u16>,
        /// Only print the URL; do not open a browser
        #[arg(long)]
        no_browser: bool,
        /// Where the browser comes back: the running gateway's loopback callback, or the app's
        /// deep link dev.gatehouse:/oauth/callback
        #[arg(long, value_enum, default_value_t = CallbackChoice::Loopback)]
        callback: CallbackChoice,
    },
    /// Sign an OAuth connection out: revoke its tokens at the upstream (RFC 7009) and delete them
    Signout { slug: String },
}

/// `connections signin --callback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CallbackChoice {
    Loopback,
    DeepLink,
}

impl From<CallbackChoice> for SigninCallback {
    fn from(choice: CallbackChoice) -> Self {
        match choice {
            CallbackChoice::Loopback => SigninCallback::Loopback,
            CallbackChoice::DeepLink => SigninCallback::DeepLink,
        }
    }
}

/// `--auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthChoice {
    None,
    Header,
    Oauth,
}

/// OAuth options of `connections add`.
#[derive(Debug, Args)]
pub struct OAuthArgs {
    /// A client id registered at the upstream's authorization server (else Gatehouse registers itself)
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// The client's secret (stored encrypted; prefer --client-secret-from-env)
    #[arg(long, value_name = "SECRET", conflicts_with = "client_secret_from_env")]
    client_secret: Option<String>,
    /// Like --client-secret, taken from this environment variable
    #[arg(long, value_name = "VAR")]
    client_secret_from_env: Option<String>,
    /// A provider template that fills the endpoints: github, google, microsoft, okta, auth0, custom
    #[arg(long, value_name = "NAME")]
    template: Option<String>,
    /// The tenant domain for the okta / auth0 / microsoft templates
    #[arg(long, value_name = "DOMAIN")]
    tenant: Option<String>,
    /// Scopes to request (space-separated) instead of the discovered ones
    #[arg(long, value_name = "SCOPES")]
    scope: Option<String>,
    /// Machine to machine: use the client_credentials grant (needs --client-id and a secret)
    #[arg(long)]
    client_credentials: bool,
    /// For an older (2025-03-26) MCP server without protected resource metadata: find its
    /// authorization server at the URL's origin, else use /authorize, /token and /register there
    #[arg(long)]
    legacy_oauth: bool,
}

impl OAuthArgs {
    fn given(&self) -> bool {
        self.client_id.is_some()
            || self.client_secret.is_some()
            || self.client_secret_from_env.is_some()
            || self.template.is_some()
            || self.scope.is_some()
            || self.client_credentials
            || self.legacy_oauth
    }

    fn input(&self) -> Result<OAuthInput, CliError> {
        let client_secret = match (&self.client_secret, &self.client_secret_from_env) {
            (Some(s), _) => Some(SecretString::from(s.clone())),
            (None, Some(var)) => Some(SecretString::from(std::env::var(var).map_err(|_| {
                CliError::Usage(format!(
                    "--client-secret-from-env: environment variable {var} is not set"
                ))
            })?)),
            (None, None) => None,
        };
        Ok(OAuthInput {
            client_id: self.client_id.clone(),
            client_secret,
            template: self.template.clone(),
            tenant: self.tenant.clone(),
            scopes: self.scope.clone(),
            client_credentials: self.client_credentials,
            legacy_discovery: self.legacy_oauth,
        })
    }
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
    /// Find the MCP clients on this computer and the servers in their configs
    Detect,
    /// Add a connection's local URL to a client's config: shows the change, asks, keeps a backup
    Connect {
        /// claude-code, vscode, cursor, windsurf, codex, gemini, zed (claude-desktop needs the
        /// stdio bridge)
        client: String,
        /// The connection's slug
        slug: String,
        /// Another config file of the client's format
        #[arg(long, value_name = "FILE", conflicts_with = "workspace")]
        config: Option<PathBuf>,
        /// VS Code: the workspace folder whose .vscode/mcp.json to change (see `clients detect`)
        #[arg(long, value_name = "FOLDER")]
        workspace: Option<String>,
        /// Write without asking (the change is still printed)
        #[arg(long)]
        yes: bool,
    },
    /// Move a client's existing server behind Gatehouse: its URL or command and its secrets (header,
    /// environment) into a new connection, sealed; the client's entry then points at Gatehouse.
    /// Without SERVER: list what the client has and what would move
    Import {
        client: String,
        /// The server's name in the client's config
        server: Option<String>,
        /// Another config file of the client's format
        #[arg(long, value_name = "FILE", conflicts_with = "workspace")]
        config: Option<PathBuf>,
        /// VS Code: the workspace folder whose .vscode/mcp.json holds the server
        #[arg(long, value_name = "FOLDER")]
        workspace: Option<String>,
        /// Import without asking (the change is still printed)
        #[arg(long)]
        yes: bool,
    },
    /// Put back a client's config as it was before Gatehouse's last change to it
    Undo { client: String },
}

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
        } => super::signin::signin(
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
        ClientsCommand::Detect => super::client_setup::detect(json),
        ClientsCommand::Connect {
            client,
            slug,
            config,
            workspace,
            yes,
        } => {
            let config = config_file(client, config.as_ref(), workspace.as_deref())?;
            super::client_setup::connect(&vault, client, slug, config.as_deref(), *yes, json)
        }
        ClientsCommand::Import {
            client,
            server,
            config,
            workspace,
            yes,
        } => {
            let config = config_file(client, config.as_ref(), workspace.as_deref())?;
            super::client_setup::import(
                &vault,
                client,
                server.as_deref(),
                config.as_deref(),
                *yes,
                json,
            )
        }
        ClientsCommand::Undo { client } => super::client_setup::undo(&vault, client, json),
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

fn input_of(slug: &str, name: &str, url: &str, auth: UpstreamAuth) -> NewConnectionInput {
    NewConnectionInput {
        slug: slug.to_owned(),
        name: name.to_owned(),
        upstream_url: url.to_owned(),
        auth,
        account_name: None,
    }
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
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
