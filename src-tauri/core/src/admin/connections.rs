//! Connections: add, list, edit, enable/disable and remove, with the validation the store leaves to
//! its callers. OAuth connections (role 2) are added here too ([`OAuthInput`]); signing in, out and
//! probing live in `admin::upstream`.
//!
//! * **Slug**: `[a-z0-9][a-z0-9-]{0,62}`, the same rule the `resource` parameter is parsed with
//!   (`is_valid_slug`), so every slug that can be added can also be authorized.
//! * **Upstream URL**: absolute `https`, or `http` only to a loopback host (`127.0.0.1`, `localhost`,
//!   `[::1]`): a header secret must never cross a network in clear.
//!   No userinfo (it would sit unencrypted in the database) and no fragment.
//! * **Header auth**: the header name is an HTTP token and not one the proxy owns (hop-by-hop,
//!   framing, MCP session headers); `Authorization` is allowed because API keys usually go there. The
//!   value is sealed with the data key, bound to `connections.header_value_sealed` of this row, before
//!   the row is written: the store never sees it in clear, and no DTO ever carries it.
//! * **Account name**: for an upstream that says nothing about who signed in (no id_token, no
//!   userinfo), the user names the account (`--account`); [`ConnectionView::account_label`] shows
//!   what the upstream said, else that name. Not material: grants stay.
//! * **Material edits** (URL, auth) bump `config_version` and revoke the connection's grants in the
//!   store's one revocation path; re-entering the same header value is not a change. A name edit is
//!   cosmetic.
//!
//! How the credentials are sealed, filled from a template and compared is `connection_auth`.

use serde::Serialize;
use ts_rs::TS;

use super::AdminError;
use crate::clock::UnixMillis;
use crate::oauth::server::resource::ResourceUri;
use crate::oauth::upstream::UpstreamOAuth;
use crate::store::connections::{
    self, AuthKind, ConnectionEdit, ConnectionRow, ConnectionSettings, ConnectionStatus,
    NewConnection, OAuthGrant, OAuthSettings, Transport,
};
use crate::store::{ConnectionId, Store, StoreError};
use crate::store::{grants, revocation};
use crate::vault::Vault;

pub use super::connection_auth::{OAuthInput, UpstreamAuth};
use super::connection_auth::{kept_secret, oauth_settings, same_header, seal_auth};
use super::connection_input::{
    validate_account_name, validate_name, validate_slug, validate_upstream_url,
};

/// A connection to add.
#[derive(Debug, Clone)]
pub struct NewConnectionInput {
    pub slug: String,
    pub name: String,
    pub upstream_url: String,
    pub auth: UpstreamAuth,
    /// The account the connection acts for, as the user names it.
    pub account_name: Option<String>,
}

/// An edit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConnectionChanges {
    pub name: Option<String>,
    pub upstream_url: Option<String>,
    pub auth: Option<UpstreamAuth>,
    /// The user-named account; an empty (or blank) name removes it.
    pub account_name: Option<String>,
}

/// A connection as the Connections tab and `gatehoused connections list --json` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ConnectionView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub upstream_url: String,
    /// `http://127.0.0.1:PORT/mcp/<slug>`: what MCP clients are pointed at.
    pub local_url: String,
    #[ts(type = "\"streamable_http\" | \"sse\" | \"stdio\"")]
    pub transport: String,
    #[ts(type = "\"none\" | \"header\" | \"oauth\"")]
    pub auth_kind: String,
    /// The name of the injected header (never its value).
    pub header_name: Option<String>,
    pub enabled: bool,
    #[ts(type = "\"needs_auth\" | \"connected\" | \"reauth_required\" | \"error\"")]
    pub status: String,
    pub status_detail: Option<String>,
    /// The upstream account ("on behalf of …"): what the upstream said (id_token / userinfo),
    /// else the name the user gave, else `null`.
    pub account_label: Option<String>,
    /// How an OAuth connection signs in (`null` for header and no auth).
    pub oauth: Option<OAuthView>,
    #[ts(type = "number")]
    pub config_version: i64,
    /// How many active grants (authorized clients) the connection has.
    #[ts(type = "number")]
    pub authorized_clients: u64,
    /// The upstream account the grants were approved for (kept through a sign-out): a sign-in as
    /// another account revokes them, so the window asks first.
    pub grants_account: Option<String>,
    #[ts(type = "number")]
    pub created_at: UnixMillis,
    #[ts(type = "number")]
    pub updated_at: UnixMillis,
}

/// An OAuth connection's settings as the window and `connections list --json` show them: where it
/// signs in and as which client. Never the client secret: only whether one is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct OAuthView {
    /// `discovered` (RFC 9728 / 8414 discovery), `template` (endpoints from a provider template)
    /// or `manual`.
    #[ts(type = "\"discovered\" | \"template\" | \"manual\" | null")]
    pub source: Option<String>,
    /// The provider template's key (`github`, `okta` ...).
    pub template: Option<String>,
    /// The tenant domain filled into the template's endpoints (Okta, Auth0, Microsoft).
    pub tenant: Option<String>,
    /// The pre-registered client id; `null` when Gatehouse registers itself (DCR).
    pub client_id: Option<String>,
    /// Whether a client secret is stored (sealed) for the pre-registered client.
    pub has_client_secret: bool,
    #[ts(type = "\"authorization_code\" | \"client_credentials\"")]
    pub grant: String,
    /// The issuer the settings name (a template's), if any; else discovery finds it.
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    /// Scopes requested instead of the discovered ones.
    pub scopes: Option<String>,
    /// The 2025-03-26 discovery fallback is turned on.
    pub legacy_discovery: bool,
}

impl OAuthView {
    fn of(o: &OAuthSettings) -> Self {
        Self {
            source: o.source.map(|s| s.as_str().to_owned()),
            template: o.template.clone(),
            tenant: o.template.as_ref().and_then(|key| {
                let templates = crate::oauth::upstream::templates();
                templates.get(key)?.tenant_in(o.token_endpoint.as_deref()?)
            }),
            client_id: o.client_id.clone(),
            has_client_secret: o.client_secret_sealed.is_some(),
            grant: o
                .grant
                .unwrap_or(OAuthGrant::AuthorizationCode)
                .as_str()
                .to_owned(),
            issuer: o.issuer.clone(),
            authorization_endpoint: o.authorization_endpoint.clone(),
            token_endpoint: o.token_endpoint.clone(),
            scopes: o.scopes.clone(),
            legacy_discovery: o.legacy_discovery,
        }
    }
}

/// What an edit, enable or disable did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ConnectionChange {
    pub connection: ConnectionView,
    /// The URL or auth settings changed (`config_version` was bumped).
    pub material: bool,
    /// How many grants this change revoked.
    #[ts(type = "number")]
    pub revoked_grants: u64,
}

/// What a removal did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ConnectionRemoved {
    pub id: String,
    pub slug: String,
    #[ts(type = "number")]
    pub revoked_grants: u64,
}

/// What an edit would do, for the warning shown before it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct EditPreview {
    pub material: bool,
    /// Active grants the edit would revoke (0 when it is not material).
    #[ts(type = "number")]
    pub grants_to_revoke: u64,
}

/// The local URL MCP clients use for a connection.
pub fn local_url(port: u16, slug: &str) -> String {
    ResourceUri::for_connection(port, slug).map_or_else(
        || format!("http://127.0.0.1:{port}/mcp/{slug}"),
        |r| r.as_str().to_owned(),
    )
}

/// Adds a connection and returns it.
pub fn add_connection(
    vault: &Vault,
    port: u16,
    input: &NewConnectionInput,
) -> Result<ConnectionView, AdminError> {
    let slug = validate_slug(&input.slug)?;
    let name = validate_name(&input.name)?;
    let upstream_url = validate_upstream_url(&input.upstream_url)?;
    let account_name = input
        .account_name
        .as_deref()
        .map(validate_account_name)
        .transpose()?
        .flatten();
    let id = ConnectionId::new();
    let (auth_kind, header_name, header_value_sealed) = match &input.auth {
        UpstreamAuth::OAuth(_) => (AuthKind::OAuth, None, None),
        other => seal_auth(vault, &id, other)?,
    };
    let oauth = match &input.auth {
        UpstreamAuth::OAuth(o) => oauth_settings(vault, &id, o, None)?,
        _ => OAuthSettings::default(),
    };
    let status = if auth_kind == AuthKind::OAuth {
        ConnectionStatus::NeedsAuth
    } else {
        // Without OAuth there is nothing to sign in to; the proxy reports upstream failures.
        ConnectionStatus::Connected
    };
    let new = NewConnection {
        id: id.clone(),
        slug: slug.to_owned(),
        name,
        settings: ConnectionSettings {
            upstream_url,
            transport: Transport::StreamableHttp,
            auth_kind,
            header_name,
            header_value_sealed,
            oauth,
            stdio: None,
        },
        enabled: true,
        status,
    };
    let store = vault.store();
    let now = store.now();
    store.write_blocking(|tx| {
        connections::insert(tx, &new, now)?;
        if let Some(account) = &account_name {
            connections::set_account_name(tx, &id, Some(account), now)?;
        }
        Ok(())
    })?;
    get_connection(vault, port, id.as_str())
}

/// Every connection, by name.
pub fn list_connections(vault: &Vault, port: u16) -> Result<Vec<ConnectionView>, AdminError> {
    let store = vault.store();
    let rows = store.read_blocking(connections::list)?;
    rows.iter().map(|row| view(store, port, row)).collect()
}

/// One connection, by id or slug.
pub fn get_connection(vault: &Vault, port: u16, key: &str) -> Result<ConnectionView, AdminError> {
    let row = find(vault.store(), key)?;
    view(vault.store(), port, &row)
}

/// Whether `changes` would be material, and how many active grants it would then revoke.
pub fn preview_edit(
    vault: &Vault,
    key: &str,
    changes: &ConnectionChanges,
) -> Result<EditPreview, AdminError> {
    let row = find(vault.store(), key)?;
    let edit = plan_edit(vault, &row, changes)?;
    let material = edit
        .settings
        .as_ref()
        .is_some_and(|settings| *settings != row.settings);
    let grants_to_revoke = if material {
        active_grants(vault.store(), &row.id)?
    } else {
        0
    };
    Ok(EditPreview {
        material,
        grants_to_revoke,
    })
}

/// How many active grants removing or disabling the connection would revoke.
pub fn grants_at_risk(vault: &Vault, key: &str) -> Result<u64, AdminError> {
    let row = find(vault.store(), key)?;
    active_grants(vault.store(), &row.id)
}

/// Applies `changes`; a material change revokes the connection's grants.
pub fn edit_connection(
    vault: &Vault,
    port: u16,
    key: &str,
    changes: &ConnectionChanges,
) -> Result<ConnectionChange, AdminError> {
    let row = find(vault.store(), key)?;
    let edit = plan_edit(vault, &row, changes)?;
    let account_name = changes
        .account_name
        .as_deref()
        .map(validate_account_name)
        .transpose()?;
    let update = vault.store().update_connection(&row.id, &edit)?;
    if let Some(account) = account_name {
        let (id, now) = (row.id.clone(), vault.store().now());
        vault.store().write_blocking(move |tx| {
            connections::set_account_name(tx, &id, account.as_deref(), now)
        })?;
    }
    Ok(ConnectionChange {
        connection: get_connection(vault, port, row.id.as_str())?,
        material: update.material,
        revoked_grants: update
            .revocation
            .map_or(0, |outcome| count(outcome.revoked.len())),
    })
}

/// Enables or disables a connection; disabling revokes its grants.
pub fn set_connection_enabled(
    vault: &Vault,
    port: u16,
    key: &str,
    enabled: bool,
) -> Result<ConnectionChange, AdminError> {
    let row = find(vault.store(), key)?;
    let outcome = vault.store().set_connection_enabled(&row.id, enabled)?;
    Ok(ConnectionChange {
        connection: get_connection(vault, port, row.id.as_str())?,
        material: false,
        revoked_grants: outcome.map_or(0, |outcome| count(outcome.revoked.len())),
    })
}

/// Removes a connection after revoking its grants: the one removal path of the window and the
/// command line. An OAuth connection is signed out first, so its upstream tokens do not outlive it
/// at the authorization server: RFC 7009 revocation (best effort, its outcome in the
/// `upstream.signed_out` audit row), then the local tokens go with the connection's row.
/// `oauth` is the process's one upstream OAuth state (the running gateway's, in the app).
pub async fn remove_connection(
    oauth: &UpstreamOAuth,
    key: &str,
) -> Result<ConnectionRemoved, AdminError> {
    let vault = oauth.vault();
    let key = key.trim().to_owned();
    let row = vault
        .store()
        .read(move |conn| lookup(conn, &key).map(|row| row.ok_or(key)))
        .await?
        .map_err(|key| not_found(&key))?;
    if row.settings.auth_kind == AuthKind::OAuth
        && let Err(err) = oauth.sign_out(&row.id).await
    {
        // Only the store or the cipher can fail here (revocation itself is best effort); the
        // removal below deletes the tokens all the same.
        tracing::warn!(connection = %row.id, error = %err, "signing out before removal failed");
    }
    let (id, now) = (row.id.clone(), vault.store().now());
    let outcome = vault
        .store()
        .write_with_events(move |tx| revocation::with_event(connections::delete(tx, &id, now)?))
        .await?;
    Ok(ConnectionRemoved {
        id: row.id.to_string(),
        slug: row.slug,
        revoked_grants: count(outcome.revoked.len()),
    })
}

/// The connection named by `key`: an id, else a slug.
pub(crate) fn find(store: &Store, key: &str) -> Result<ConnectionRow, AdminError> {
    let key = key.trim();
    let owned = key.to_owned();
    store
        .read_blocking(move |conn| lookup(conn, &owned))?
        .ok_or_else(|| not_found(key))
}

fn lookup(conn: &rusqlite::Connection, key: &str) -> Result<Option<ConnectionRow>, StoreError> {
    if let Some(id) = ConnectionId::parse(key)
        && let Some(row) = connections::get(conn, &id)?
    {
        return Ok(Some(row));
    }
    connections::get_by_slug(conn, key)
}

fn not_found(key: &str) -> AdminError {
    AdminError::NotFound {
        what: "connection",
        key: key.to_owned(),
    }
}

fn plan_edit(
    vault: &Vault,
    row: &ConnectionRow,
    changes: &ConnectionChanges,
) -> Result<ConnectionEdit, AdminError> {
    let name = changes.name.as_deref().map(validate_name).transpose()?;
    let mut settings = row.settings.clone();
    if row.settings.transport == Transport::Stdio
        && (changes.upstream_url.is_some() || changes.auth.is_some())
    {
        return Err(AdminError::invalid(
            "upstream_url",
            "a local command's connection keeps its command: remove it and add it again to change it",
        ));
    }
    if let Some(url) = &changes.upstream_url {
        settings.upstream_url = validate_upstream_url(url)?;
    }
    match &changes.auth {
        Some(UpstreamAuth::OAuth(input)) => {
            settings.auth_kind = AuthKind::OAuth;
            settings.header_name = None;
            settings.header_value_sealed = None;
            settings.oauth =
                oauth_settings(vault, &row.id, input, kept_secret(vault, row, input)?)?;
        }
        Some(auth) if !same_header(vault, row, auth)? => {
            let (auth_kind, header_name, header_value_sealed) = seal_auth(vault, &row.id, auth)?;
            settings.auth_kind = auth_kind;
            settings.header_name = header_name;
            settings.header_value_sealed = header_value_sealed;
            settings.oauth = OAuthSettings::default();
        }
        Some(_) | None => {}
    }
    let settings_changed = settings != row.settings;
    Ok(ConnectionEdit {
        slug: None,
        name,
        settings: settings_changed.then_some(settings),
    })
}

fn grants_account(store: &Store, id: &ConnectionId) -> Result<Option<String>, AdminError> {
    let id = id.clone();
    Ok(store.read_blocking(move |conn| connections::last_account(conn, &id))?)
}

fn active_grants(store: &Store, id: &ConnectionId) -> Result<u64, AdminError> {
    let id = id.clone();
    Ok(store.read_blocking(move |conn| grants::count_active_for_connection(conn, &id))?)
}

fn view(store: &Store, port: u16, row: &ConnectionRow) -> Result<ConnectionView, AdminError> {
    let s = &row.settings;
    Ok(ConnectionView {
        id: row.id.to_string(),
        slug: row.slug.clone(),
        name: row.name.clone(),
        upstream_url: s.upstream_url.clone(),
        local_url: local_url(port, &row.slug),
        transport: s.transport.as_str().to_owned(),
        auth_kind: s.auth_kind.as_str().to_owned(),
        header_name: s.header_name.clone(),
        enabled: row.enabled,
        status: row.status.as_str().to_owned(),
        status_detail: row.status_detail.clone(),
        account_label: row.account().map(str::to_owned),
        oauth: (s.auth_kind == AuthKind::OAuth).then(|| OAuthView::of(&s.oauth)),
        config_version: row.config_version,
        authorized_clients: active_grants(store, &row.id)?,
        grants_account: grants_account(store, &row.id)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
