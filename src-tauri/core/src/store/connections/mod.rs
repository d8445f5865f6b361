//! Connections: the upstream MCP servers.
//!
//! The *material* settings of a connection — upstream URL, transport and everything about how
//! Gatehouse authenticates upstream — live in [`ConnectionSettings`]. Changing them bumps
//! `config_version`, which every grant is bound to, and in the same transaction revokes the
//! connection's grants (`connection_changed`) and drops its upstream credential (a material change
//! purges them). Name and slug are not material. Disabling revokes
//! (`connection_disabled`); deleting revokes (`connection_deleted`) before the rows go, so there is
//! no way through this module to lose a grant without the revocation path and its audit trail.
//! Edits, enabling and the reported status are in `edit`; the account a connection acts for in
//! `account`; this module holds the row, its creation, reading and deletion.
//!
//! Secrets (`header_value_sealed`, `oauth.client_secret_sealed`) arrive sealed by `crate::crypto`,
//! bound to the connection id, which is why [`NewConnection::id`] is chosen by the caller.

mod account;
mod edit;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::audit::{self, AuditKind, AuditSubject};
use super::ids::ConnectionId;
use super::revocation::{self, RevocationOutcome, RevocationReason};
use super::text::text_enum;
use super::{Store, StoreError, is_unique_violation};
use crate::clock::UnixMillis;
pub use account::{last_account, set_account_label, set_account_name, set_last_account};
pub use edit::{ConnectionEdit, ConnectionUpdate, set_enabled, set_status, update};

text_enum! {
    /// How Gatehouse talks to the upstream.
    pub enum Transport {
        StreamableHttp = "streamable_http",
        Sse = "sse",
        Stdio = "stdio",
    }
}

text_enum! {
    /// How Gatehouse authenticates to the upstream.
    pub enum AuthKind {
        None = "none",
        /// A fixed header (API key) with a sealed value.
        Header = "header",
        OAuth = "oauth",
    }
}

text_enum! {
    /// Where the OAuth settings came from.
    pub enum OAuthSource {
        Discovered = "discovered",
        Template = "template",
        Manual = "manual",
    }
}

text_enum! {
    /// Which OAuth grant Gatehouse uses upstream.
    pub enum OAuthGrant {
        /// A person signs in in the browser (PKCE); the default.
        AuthorizationCode = "authorization_code",
        /// Machine to machine with a pre-registered confidential client (RFC 6749 §4.4).
        ClientCredentials = "client_credentials",
    }
}

text_enum! {
    /// What the Connections tab shows.
    pub enum ConnectionStatus {
        NeedsAuth = "needs_auth",
        Connected = "connected",
        ReauthRequired = "reauth_required",
        Error = "error",
    }
}

/// Upstream OAuth settings (role 2). All optional: discovery may fill them in later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthSettings {
    pub source: Option<OAuthSource>,
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub registration_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub client_id: Option<String>,
    /// AES-GCM envelope from `crate::crypto`.
    pub client_secret_sealed: Option<Vec<u8>>,
    pub scopes: Option<String>,
    pub resource: Option<String>,
    /// Provider template name (GitHub, Google, ...), when `source` is `template`.
    pub template: Option<String>,
    /// `None` means authorization_code.
    pub grant: Option<OAuthGrant>,
    /// The user opted in to the 2025-03-26 discovery fallback (the upstream publishes no protected
    /// resource metadata): see `oauth::upstream::discovery`.
    pub legacy_discovery: bool,
}

/// A local command that speaks MCP over stdio (transport `stdio`): what `crate::stdio` starts.
/// Stored as JSON in `stdio_command`; the environment values are sealed apart in `env_sealed`
/// (a JSON object of name to value, AAD connections/stdio_env_sealed/<id>) and only their names
/// are in the clear, for the window and the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StdioCommand {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// The working directory; `None` is Gatehouse's data directory.
    #[serde(default)]
    pub cwd: Option<String>,
    /// The names of the sealed environment variables, in order.
    #[serde(default)]
    pub env_names: Vec<String>,
    /// AES-GCM envelope from `crate::crypto` (not part of the JSON).
    #[serde(skip)]
    pub env_sealed: Option<Vec<u8>>,
}

impl StdioCommand {
    /// The command line as a person would type it (for display; arguments with spaces quoted).
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|part| {
                if part.is_empty() || part.contains(char::is_whitespace) || part.contains('"') {
                    format!("{part:?}")
                } else {
                    part.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The material part of a connection: any change here bumps `config_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub upstream_url: String,
    pub transport: Transport,
    pub auth_kind: AuthKind,
    pub header_name: Option<String>,
    /// AES-GCM envelope from `crate::crypto`.
    pub header_value_sealed: Option<Vec<u8>>,
    pub oauth: OAuthSettings,
    /// The command, for transport `stdio` (then `upstream_url` is `stdio:` and its display form).
    pub stdio: Option<StdioCommand>,
}

/// A connection to create.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub id: ConnectionId,
    pub slug: String,
    pub name: String,
    pub settings: ConnectionSettings,
    pub enabled: bool,
    pub status: ConnectionStatus,
}

/// One row of `connections`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRow {
    pub id: ConnectionId,
    pub slug: String,
    pub name: String,
    pub settings: ConnectionSettings,
    pub enabled: bool,
    pub config_version: i64,
    pub status: ConnectionStatus,
    pub status_detail: Option<String>,
    /// The upstream account ("on behalf of ...") as the upstream named it (id_token / userinfo).
    pub account_label: Option<String>,
    /// The account as the user named it, for upstreams that say nothing about who signed in.
    pub account_name: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl ConnectionRow {
    /// Who the connection acts for: what the upstream said, else what the user named.
    pub fn account(&self) -> Option<&str> {
        self.account_label
            .as_deref()
            .or(self.account_name.as_deref())
    }
}

const COLUMNS: &str = "id, slug, name, upstream_url, transport, auth_kind, header_name, header_value_sealed, \
     oauth_source, oauth_issuer, oauth_authorization_endpoint, oauth_token_endpoint, \
     oauth_registration_endpoint, oauth_revocation_endpoint, oauth_userinfo_endpoint, oauth_client_id, \
     oauth_client_secret_sealed, oauth_scopes, oauth_resource, oauth_template, enabled, config_version, \
     status, status_detail, account_label, created_at, updated_at, oauth_grant, account_name, \
     oauth_legacy_discovery, stdio_command, stdio_env_sealed";

fn from_row(row: &Row<'_>) -> rusqlite::Result<ConnectionRow> {
    Ok(ConnectionRow {
        id: row.get(0)?,
        slug: row.get(1)?,
        name: row.get(2)?,
        settings: ConnectionSettings {
            upstream_url: row.get(3)?,
            transport: row.get(4)?,
            auth_kind: row.get(5)?,
            header_name: row.get(6)?,
            header_value_sealed: row.get(7)?,
            oauth: OAuthSettings {
                source: row.get(8)?,
                issuer: row.get(9)?,
                authorization_endpoint: row.get(10)?,
                token_endpoint: row.get(11)?,
                registration_endpoint: row.get(12)?,
                revocation_endpoint: row.get(13)?,
                userinfo_endpoint: row.get(14)?,
                client_id: row.get(15)?,
                client_secret_sealed: row.get(16)?,
                scopes: row.get(17)?,
                resource: row.get(18)?,
                template: row.get(19)?,
                grant: row.get(27)?,
                legacy_discovery: row.get(29)?,
            },
            stdio: stdio_of(row.get(30)?, row.get(31)?)?,
        },
        enabled: row.get(20)?,
        config_version: row.get(21)?,
        status: row.get(22)?,
        status_detail: row.get(23)?,
        account_label: row.get(24)?,
        account_name: row.get(28)?,
        created_at: row.get(25)?,
        updated_at: row.get(26)?,
    })
}

fn stdio_of(
    json: Option<String>,
    env_sealed: Option<Vec<u8>>,
) -> rusqlite::Result<Option<StdioCommand>> {
    let Some(json) = json else {
        return Ok(None);
    };
    let mut command: StdioCommand = serde_json::from_str(&json).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(30, rusqlite::types::Type::Text, Box::new(err))
    })?;
    command.env_sealed = env_sealed;
    Ok(Some(command))
}

fn stdio_json(settings: &ConnectionSettings) -> Result<Option<String>, StoreError> {
    settings
        .stdio
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|err| StoreError::Sqlite(rusqlite::Error::ToSqlConversionFailure(Box::new(err))))
}

fn slug_conflict(err: rusqlite::Error, slug: &str) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::Conflict(format!("a connection with slug {slug:?} already exists"))
    } else {
        StoreError::Sqlite(err)
    }
}

fn not_found(id: &ConnectionId) -> StoreError {
    StoreError::NotFound {
        kind: "connection",
        id: id.to_string(),
    }
}

pub fn insert(tx: &Transaction, new: &NewConnection, now: UnixMillis) -> Result<(), StoreError> {
    let s = &new.settings;
    let o = &s.oauth;
    tx.prepare_cached(&format!(
        "INSERT INTO connections ({COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                 ?21, 1, ?22, NULL, NULL, ?23, ?23, ?24, NULL, ?25, ?26, ?27)"
    ))?
    .execute(params![
        new.id,
        new.slug,
        new.name,
        s.upstream_url,
        s.transport,
        s.auth_kind,
        s.header_name,
        s.header_value_sealed,
        o.source,
        o.issuer,
        o.authorization_endpoint,
        o.token_endpoint,
        o.registration_endpoint,
        o.revocation_endpoint,
        o.userinfo_endpoint,
        o.client_id,
        o.client_secret_sealed,
        o.scopes,
        o.resource,
        o.template,
        new.enabled,
        new.status,
        now,
        o.grant,
        o.legacy_discovery,
        stdio_json(s)?,
        s.stdio.as_ref().and_then(|c| c.env_sealed.as_deref()),
    ])
    .map_err(|e| slug_conflict(e, &new.slug))?;
    audit::append(
        tx,
        now,
        AuditKind::ConnectionCreated,
        &AuditSubject {
            connection_id: Some(&new.id),
            ..AuditSubject::default()
        },
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: &ConnectionId) -> Result<Option<ConnectionRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM connections WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// The connection serving `/mcp/<slug>`.
pub fn get_by_slug(conn: &Connection, slug: &str) -> Result<Option<ConnectionRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM connections WHERE slug = ?1"
        ))?
        .query_row([slug], from_row)
        .optional()?)
}

/// Every connection, by name.
pub fn list(conn: &Connection) -> Result<Vec<ConnectionRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM connections ORDER BY name, id"
    ))?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Revokes the connection's grants, then deletes it with its credential and (cascading) its grants.
pub fn delete(
    tx: &Transaction,
    id: &ConnectionId,
    now: UnixMillis,
) -> Result<RevocationOutcome, StoreError> {
    if get(tx, id)?.is_none() {
        return Err(not_found(id));
    }
    let outcome =
        revocation::revoke_for_connection_in(tx, id, RevocationReason::ConnectionDeleted, now)?;
    tx.prepare_cached("DELETE FROM connections WHERE id = ?1")?
        .execute([id])?;
    audit::append(
        tx,
        now,
        AuditKind::ConnectionDeleted,
        &AuditSubject {
            connection_id: Some(id),
            ..AuditSubject::default()
        },
    )?;
    Ok(outcome)
}

impl Store {
    /// [`delete`] in its own transaction; broadcasts the revocation. Blocking.
    pub fn delete_connection(&self, id: &ConnectionId) -> Result<RevocationOutcome, StoreError> {
        let now = self.now();
        self.write_with_events_blocking(|tx| revocation::with_event(delete(tx, id, now)?))
    }
}
