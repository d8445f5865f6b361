//! The person's preferences, in `settings.json` in the data directory: the gateway's port, how long
//! revoked and expired artefacts are kept, whether Gatehouse starts at login, and the theme.
//!
//! A file rather than the database because it is read before the store is opened (the port) and a
//! person may edit it by hand. A missing file means the defaults; a field missing from the file
//! takes its default, so older files keep working. Writes go to a temporary file that is renamed
//! over the old one, so a crash never leaves half a file.
//!
//! The port is read once at launch: a changed port takes effect at the next launch (every client
//! registration and local URL contains it, so it never moves under a running gateway).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use ts_rs::TS;

use crate::config::{self, DEFAULT_PORT};
use crate::store::DEFAULT_RETENTION_DAYS;

/// The settings file inside a data directory.
pub fn settings_path(data_dir: &Path) -> PathBuf {
    data_dir.join("settings.json")
}

/// Longest retention period accepted, in days (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Light or dark, or whatever the system uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// What `settings.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredSettings {
    pub port: u16,
    pub retention_days: u32,
    pub start_at_login: bool,
    pub theme: Theme,
    /// Whether programs of *other* OS accounts on this computer may use the MCP proxy and the
    /// client endpoints (`gateway::caller_policy`). Off by default; consent stays with this desktop's
    /// account either way. Read at launch; the window's Settings changes it at once.
    pub allow_other_os_users: bool,
    /// The https URL where Gatehouse's OAuth client metadata document is published (OAuth Client
    /// ID Metadata Document, draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25
    /// Authorization "Client ID Metadata Documents"). When set, an upstream authorization server
    /// that advertises `client_id_metadata_document_supported` knows Gatehouse by this URL instead
    /// of a dynamic registration (`oauth::upstream::registration`). Unset by default: Gatehouse
    /// publishes nothing by itself, and an authorization server must be able to fetch the URL.
    /// Set with `gatehoused settings client-metadata-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata_url: Option<String>,
}

impl Default for StoredSettings {
    fn default() -> Self {
        StoredSettings {
            port: DEFAULT_PORT,
            retention_days: DEFAULT_RETENTION_DAYS,
            start_at_login: false,
            theme: Theme::System,
            allow_other_os_users: false,
            client_metadata_url: None,
        }
    }
}

/// Checks a client metadata document URL: https with a path other than `/` and no fragment, as
/// the Client ID Metadata Document draft (§3) requires of a `client_id` URL.
pub fn check_client_metadata_url(raw: &str) -> Result<String, &'static str> {
    let url = url::Url::parse(raw).map_err(|_| "not a URL")?;
    if url.scheme() != "https" {
        return Err("a client metadata document URL must be https");
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err("a client metadata document URL must have a path");
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("a client metadata document URL has no fragment and no user information");
    }
    Ok(url.to_string())
}

#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid settings JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The settings in `data_dir`, or the defaults when there is no file yet.
pub fn load(data_dir: &Path) -> Result<StoredSettings, SettingsError> {
    let path = settings_path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| SettingsError::Parse { path, source })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StoredSettings::default()),
        Err(source) => Err(SettingsError::Read { path, source }),
    }
}

/// Replaces the settings file atomically.
pub fn save(data_dir: &Path, settings: &StoredSettings) -> Result<(), SettingsError> {
    let path = settings_path(data_dir);
    let tmp = data_dir.join("settings.json.tmp");
    let write_err = |source| SettingsError::Write {
        path: path.clone(),
        source,
    };
    let mut text =
        serde_json::to_string_pretty(settings).map_err(|source| SettingsError::Parse {
            path: path.clone(),
            source,
        })?;
    text.push('\n');
    std::fs::create_dir_all(data_dir).map_err(write_err)?;
    std::fs::write(&tmp, text).map_err(write_err)?;
    std::fs::rename(&tmp, &path).map_err(write_err)
}

/// Whether `GATEHOUSE_PORT` decides the launch port (it is set and not empty).
pub fn port_from_environment() -> bool {
    std::env::var_os(config::PORT_ENV).is_some_and(|v| !v.is_empty())
}

/// The port the app's gateway binds at launch: `GATEHOUSE_PORT` when set (tests, side-by-side
/// runs), else the saved setting.
pub fn launch_port(settings: &StoredSettings) -> Result<u16, config::ConfigError> {
    if port_from_environment() {
        config::resolve_port(None)
    } else {
        Ok(settings.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_means_defaults_and_saved_settings_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(
            load(dir.path()).expect("load"),
            StoredSettings::default(),
            "no settings.json yet must read as the defaults"
        );
        let custom = StoredSettings {
            port: 40_000,
            retention_days: 30,
            start_at_login: true,
            theme: Theme::Dark,
            allow_other_os_users: true,
            client_metadata_url: Some("https://gatehouse.example/oauth/client.json".into()),
        };
        save(dir.path(), &custom).expect("save");
        assert_eq!(load(dir.path()).expect("reload"), custom);
        assert!(
            !dir.path().join("settings.json.tmp").exists(),
            "the temporary file must be renamed away"
        );
    }

    #[test]
    fn a_partial_file_fills_in_defaults_and_a_broken_one_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(settings_path(dir.path()), r#"{"theme":"light"}"#).expect("write");
        let loaded = load(dir.path()).expect("load");
        assert_eq!(loaded.theme, Theme::Light);
        assert_eq!(
            loaded.port, DEFAULT_PORT,
            "a missing field takes its default"
        );
        std::fs::write(settings_path(dir.path()), "{not json").expect("write");
        assert!(
            matches!(load(dir.path()), Err(SettingsError::Parse { .. })),
            "a broken file must be reported, not silently replaced"
        );
    }
}
