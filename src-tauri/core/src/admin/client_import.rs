//! Moving a server from an MCP client's config behind Gatehouse, for the window's import dialog
//! and `gatehoused clients import` alike: its URL or command and its secrets (a header, the
//! environment) become a new connection, sealed in the store, and the client's entry is replaced
//! by one for Gatehouse's local URL; the previews show what will move before anything does.

use std::path::Path;

use secrecy::SecretString;
use serde::Serialize;
use ts_rs::TS;

use super::AdminError;
use super::client_setup::{connect_client, user_home};
use super::connections::{
    ConnectionView, NewConnectionInput, UpstreamAuth, add_connection, local_url,
};
use super::stdio_connections::{NewStdioConnectionInput, add_stdio_connection};
use crate::clients::import::{self, Candidate, Imported};
use crate::clients::{self, Home, Plan, Target, Written};
use crate::store::connections;
use crate::vault::Vault;

/// The servers of `client`'s config and whether each can move behind Gatehouse.
pub fn importable(client: &str, config: Option<&Path>) -> Result<Vec<Candidate>, AdminError> {
    let current = clients::read(&user_home()?, client, config)?;
    Ok(import::candidates(&current.servers))
}

/// A server moved behind Gatehouse.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportDone {
    pub connection: ConnectionView,
    pub written: Written,
    /// The names of the secrets now sealed in Gatehouse (never their values).
    pub secrets_moved: Vec<String>,
}

/// What [`import_server`] will do, to show first.
pub struct ImportPlan {
    pub slug: String,
    pub imported: Imported,
    pub secrets: Vec<String>,
    pub plan: Plan,
}

fn free_slug(vault: &Vault, wanted: &str) -> Result<String, AdminError> {
    for n in 1..100 {
        let slug = if n == 1 {
            wanted.to_owned()
        } else {
            format!("{wanted}-{n}")
        };
        let taken = vault.store().read_blocking({
            let slug = slug.clone();
            move |c| connections::get_by_slug(c, &slug)
        })?;
        if taken.is_none() {
            return Ok(slug);
        }
    }
    Err(AdminError::invalid("slug", "no free slug for this server"))
}

/// Plans moving the server `name` of `client`'s config behind Gatehouse: a new connection holding
/// its URL or command and its secrets, and the client's entry replaced by one for Gatehouse.
pub fn plan_import(
    vault: &Vault,
    port: u16,
    client: &str,
    name: &str,
    config: Option<&Path>,
    bridge: Option<&[String]>,
) -> Result<ImportPlan, AdminError> {
    plan_import_in(&user_home()?, vault, port, client, name, config, bridge)
}

/// [`plan_import`] for the clients of `home`.
pub fn plan_import_in(
    home: &Home,
    vault: &Vault,
    port: u16,
    client: &str,
    name: &str,
    config: Option<&Path>,
    bridge: Option<&[String]>,
) -> Result<ImportPlan, AdminError> {
    let current = clients::read(home, client, config)?;
    let entry = current.servers.get(name).ok_or_else(|| {
        AdminError::invalid(
            "server",
            format!("{name:?} is not in {}", current.config.display()),
        )
    })?;
    let imported = import::read_entry(entry)
        .map_err(|why| AdminError::invalid("server", format!("{name}: {why}")))?;
    let slug = free_slug(vault, &import::slug_for(name))?;
    let url = local_url(port, &slug);
    let target = Target {
        url: &url,
        slug: &slug,
        port,
        bridge,
    };
    let plan = clients::plan_replace(home, client, name, &target, Some(&current.config))?;
    let secrets = match &imported {
        Imported::Http { header, .. } => header.iter().map(|(n, _)| n.clone()).collect(),
        Imported::Stdio { env, .. } => env.iter().map(|(n, _)| n.clone()).collect(),
    };
    Ok(ImportPlan {
        slug,
        imported,
        secrets,
        plan,
    })
}

/// Makes an import: the connection first, then the client's config (if that write fails, the new
/// connection is removed again, so nothing is half done).
pub fn import_server(
    vault: &Vault,
    port: u16,
    name: &str,
    planned: &ImportPlan,
) -> Result<ImportDone, AdminError> {
    let connection = match &planned.imported {
        Imported::Http { url, header } => add_connection(
            vault,
            port,
            &NewConnectionInput {
                slug: planned.slug.clone(),
                name: name.to_owned(),
                upstream_url: url.clone(),
                auth: match header {
                    Some((n, v)) => UpstreamAuth::Header {
                        name: n.clone(),
                        value: SecretString::from(v.clone()),
                    },
                    None => UpstreamAuth::None,
                },
                account_name: None,
            },
        )?,
        Imported::Stdio {
            program,
            args,
            cwd,
            env,
        } => add_stdio_connection(
            vault,
            port,
            &NewStdioConnectionInput {
                slug: planned.slug.clone(),
                name: name.to_owned(),
                program: program.clone(),
                args: args.clone(),
                cwd: cwd.clone(),
                env: env
                    .iter()
                    .map(|(n, v)| (n.clone(), SecretString::from(v.clone())))
                    .collect(),
            },
        )?,
    };
    match connect_client(vault, &planned.plan) {
        Ok(written) => Ok(ImportDone {
            connection,
            written,
            secrets_moved: planned.secrets.clone(),
        }),
        Err(err) => {
            if let Some(id) = crate::store::ConnectionId::parse(&connection.id) {
                let now = vault.store().now();
                let _ = vault
                    .store()
                    .write_blocking(move |tx| connections::delete(tx, &id, now).map(|_| ()));
            }
            Err(err)
        }
    }
}

/// A server of a client's config, for the window's import list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ImportCandidate {
    pub name: String,
    /// `http` or `stdio`.
    pub kind: String,
    /// The names of the secrets that would move into Gatehouse (never their values).
    pub secrets: Vec<String>,
    /// Why Gatehouse cannot take it over, if it cannot.
    pub refused: Option<String>,
}

/// What importing a server would do, to show first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ImportPreview {
    pub client: String,
    pub server: String,
    /// The connection Gatehouse would create.
    pub slug: String,
    /// The secrets that would move into Gatehouse's sealed store, by name.
    pub secrets: Vec<String>,
    pub config: String,
    /// The change to the client's config (keys shown as `[secret]`).
    pub diff: String,
}

/// An import made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ImportResult {
    pub connection: ConnectionView,
    pub config: String,
    /// The config as it was, which still holds the secrets in plain text.
    pub backup: Option<String>,
}

/// The servers of `client`'s config in `home`, and whether each can move behind Gatehouse.
pub fn import_candidates(home: &Home, client: &str) -> Result<Vec<ImportCandidate>, AdminError> {
    let current = clients::read(home, client, None)?;
    Ok(import::candidates(&current.servers)
        .into_iter()
        .map(|c| ImportCandidate {
            name: c.name,
            kind: c.kind.to_owned(),
            secrets: c.secrets,
            refused: c.refused,
        })
        .collect())
}

/// What importing `server` of `client` would do (nothing is changed).
pub fn preview_import(
    home: &Home,
    vault: &Vault,
    port: u16,
    client: &str,
    server: &str,
    bridge: Option<&[String]>,
) -> Result<ImportPreview, AdminError> {
    let planned = plan_import_in(home, vault, port, client, server, None, bridge)?;
    Ok(ImportPreview {
        client: client.to_owned(),
        server: server.to_owned(),
        slug: planned.slug,
        secrets: planned.secrets,
        config: planned.plan.config.display().to_string(),
        diff: planned.plan.diff,
    })
}

/// Imports `server` of `client` as previewed (refused if the change would now differ from
/// `shown_diff`).
pub fn import_from_client(
    home: &Home,
    vault: &Vault,
    port: u16,
    client: &str,
    server: &str,
    shown_diff: &str,
    bridge: Option<&[String]>,
) -> Result<ImportResult, AdminError> {
    let planned = plan_import_in(home, vault, port, client, server, None, bridge)?;
    if planned.plan.diff != shown_diff {
        return Err(AdminError::invalid(
            "config",
            format!(
                "{} changed since the preview; look at the change again",
                planned.plan.config.display()
            ),
        ));
    }
    let done = import_server(vault, port, server, &planned)?;
    Ok(ImportResult {
        connection: done.connection,
        config: done.written.config.display().to_string(),
        backup: done.written.backup.map(|b| b.display().to_string()),
    })
}
