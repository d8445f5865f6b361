//! Settings as the window reads and writes them. The port in effect is the one the gateway bound at
//! launch; a different saved port takes effect at the next launch, and the DTO says so.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::AdminError;
use crate::settings::{self, MAX_RETENTION_DAYS, StoredSettings, Theme};
use crate::vault::Vault;

/// The settings the window shows and edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Settings {
    /// The port the gateway binds on 127.0.0.1. A change takes effect at the next launch.
    pub port: u16,
    /// Days revoked and expired tokens, codes and grants are kept before the cleanup removes them.
    pub retention_days: u32,
    pub start_at_login: bool,
    pub theme: Theme,
    /// Whether programs of other OS accounts on this computer may use the MCP connections and the
    /// client endpoints (never approve anything). Off by default; applies at once.
    #[serde(default)]
    pub allow_other_os_users: bool,
    /// Read only: the port the running gateway listens on (`null` when it is not running).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub listening_port: Option<u16>,
    /// Read only: `port` differs from `listening_port`, so the saved port takes effect at the next
    /// launch of Gatehouse.
    #[serde(default)]
    #[ts(optional)]
    pub restart_required: Option<bool>,
    /// Read only: `GATEHOUSE_PORT` is set, so it (not the saved `port`) decides the port at every
    /// launch while it stays set.
    #[serde(default)]
    #[ts(optional)]
    pub port_from_environment: Option<bool>,
}

impl Settings {
    fn of(stored: &StoredSettings, listening_port: Option<u16>) -> Settings {
        let from_env = settings::port_from_environment();
        Settings {
            port: stored.port,
            retention_days: stored.retention_days,
            start_at_login: stored.start_at_login,
            theme: stored.theme,
            allow_other_os_users: stored.allow_other_os_users,
            listening_port,
            // A restart would bind the environment's port again: nothing to wait for.
            restart_required: Some(!from_env && listening_port.is_some_and(|p| p != stored.port)),
            port_from_environment: Some(from_env),
        }
    }
}

/// The saved settings, with the port the gateway listens on now.
pub fn get_settings(vault: &Vault, listening_port: Option<u16>) -> Result<Settings, AdminError> {
    let stored = settings::load(vault.data_dir()).map_err(AdminError::from)?;
    Ok(Settings::of(&stored, listening_port))
}

/// Validates and saves `new` (its read-only fields are ignored) and returns what was saved.
pub fn update_settings(
    vault: &Vault,
    listening_port: Option<u16>,
    new: &Settings,
) -> Result<Settings, AdminError> {
    if new.port == 0 {
        return Err(AdminError::invalid(
            "port",
            "choose a port from 1 to 65535; clients keep the port in their configuration",
        ));
    }
    if new.retention_days == 0 || new.retention_days > MAX_RETENTION_DAYS {
        return Err(AdminError::invalid(
            "retention_days",
            format!("keep records from 1 to {MAX_RETENTION_DAYS} days"),
        ));
    }
    // What the window does not edit (the client metadata URL) is kept as saved.
    let saved = settings::load(vault.data_dir()).map_err(AdminError::from)?;
    let stored = StoredSettings {
        port: new.port,
        retention_days: new.retention_days,
        start_at_login: new.start_at_login,
        theme: new.theme,
        allow_other_os_users: new.allow_other_os_users,
        ..saved
    };
    settings::save(vault.data_dir(), &stored).map_err(AdminError::from)?;
    Ok(Settings::of(&stored, listening_port))
}

/// Saves (or with `None` removes) the URL where Gatehouse's OAuth client metadata document is
/// published (`StoredSettings::client_metadata_url`); returns what is saved now.
pub fn set_client_metadata_url(
    data_dir: &std::path::Path,
    url: Option<&str>,
) -> Result<Option<String>, AdminError> {
    let checked = url
        .map(settings::check_client_metadata_url)
        .transpose()
        .map_err(|why| AdminError::invalid("client_metadata_url", why))?;
    let mut stored = settings::load(data_dir).map_err(AdminError::from)?;
    stored.client_metadata_url = checked;
    settings::save(data_dir, &stored).map_err(AdminError::from)?;
    Ok(stored.client_metadata_url)
}

/// The saved client metadata document URL, if any.
pub fn client_metadata_url(data_dir: &std::path::Path) -> Result<Option<String>, AdminError> {
    Ok(settings::load(data_dir)
        .map_err(AdminError::from)?
        .client_metadata_url)
}

/// The document to publish at `url` for a gateway on `port`: both of Gatehouse's callbacks (the
/// loopback one and the app's deep link), as a registration would list them.
pub fn client_metadata_document(url: &str, port: u16) -> Result<serde_json::Value, AdminError> {
    let url = settings::check_client_metadata_url(url)
        .map_err(|why| AdminError::invalid("client_metadata_url", why))?;
    let loopback = crate::oauth::upstream::flow::loopback_redirect_uri(port);
    Ok(
        crate::oauth::upstream::registration::client_metadata_document(
            &url,
            &[
                &loopback,
                crate::oauth::upstream::deep_link::DEEP_LINK_REDIRECT_URI,
            ],
        ),
    )
}

#[cfg(test)]
mod client_metadata_tests {
    use super::*;

    #[test]
    fn the_url_is_checked_saved_beside_the_window_settings_and_removed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        for bad in [
            "http://gatehouse.example/client.json",
            "https://gatehouse.example/",
            "https://gatehouse.example/c.json#x",
            "not a url",
        ] {
            let refused = set_client_metadata_url(dir.path(), Some(bad));
            assert!(refused.is_err(), "{bad} must be refused (CIMD draft §3)");
        }
        let saved = set_client_metadata_url(
            dir.path(),
            Some("https://gatehouse.example/oauth/client.json"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            saved.as_deref(),
            Some("https://gatehouse.example/oauth/client.json")
        );
        let mut window = settings::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        window.theme = Theme::Dark;
        settings::save(dir.path(), &window).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            client_metadata_url(dir.path())
                .unwrap_or_else(|e| panic!("{e}"))
                .as_deref(),
            Some("https://gatehouse.example/oauth/client.json")
        );
        assert_eq!(
            set_client_metadata_url(dir.path(), None).unwrap_or_else(|e| panic!("{e}")),
            None
        );
        assert_eq!(
            settings::load(dir.path())
                .unwrap_or_else(|e| panic!("{e}"))
                .theme,
            Theme::Dark,
            "other settings stay"
        );
    }

    #[test]
    fn the_document_names_its_own_url_as_client_id_and_both_callbacks() {
        let doc = client_metadata_document("https://gatehouse.example/oauth/client.json", 47474)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            doc["client_id"],
            "https://gatehouse.example/oauth/client.json"
        );
        assert_eq!(doc["token_endpoint_auth_method"], "none");
        assert_eq!(
            doc["redirect_uris"],
            serde_json::json!([
                "http://127.0.0.1:47474/oauth/callback",
                "dev.gatehouse:/oauth/callback"
            ])
        );
    }
}
