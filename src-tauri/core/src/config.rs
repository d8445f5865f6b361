//! Where Gatehouse keeps its data and which port it listens on.
//!
//! The app and `gatehoused` resolve both the same way so that they can run side by side on one store:
//! an explicit option first, then the environment (`GATEHOUSE_DATA_DIR`, `GATEHOUSE_PORT`), then the
//! platform default. The default port is fixed and documented because the issuer, every resource URL
//! and every client registration contain it (a new port is a new issuer, and every client would
//! have to register again).

use std::path::{Path, PathBuf};

use thiserror::Error;

/// The application identifier; also the name of the data directory (the same one Tauri's
/// `app_data_dir()` uses for this identifier).
pub const APP_IDENTIFIER: &str = "dev.gatehouse.desktop";

/// The gateway's fixed default port on 127.0.0.1.
pub const DEFAULT_PORT: u16 = 47_474;

/// Environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "GATEHOUSE_DATA_DIR";

/// Environment variable overriding the port.
pub const PORT_ENV: &str = "GATEHOUSE_PORT";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(
        "no platform data directory is known on this system; pass --data-dir or set {DATA_DIR_ENV}"
    )]
    NoPlatformDataDir,
    #[error("{PORT_ENV} must be a port number from 0 to 65535, got {0:?}")]
    BadPort(String),
}

/// The platform data directory the app uses: `$XDG_DATA_HOME/dev.gatehouse.desktop` on Linux,
/// `~/Library/Application Support/dev.gatehouse.desktop` on macOS, `%APPDATA%\dev.gatehouse.desktop`
/// on Windows.
pub fn platform_data_dir() -> Result<PathBuf, ConfigError> {
    dirs::data_dir()
        .map(|d| d.join(APP_IDENTIFIER))
        .ok_or(ConfigError::NoPlatformDataDir)
}

/// `explicit` (a command-line option), else `GATEHOUSE_DATA_DIR`, else the platform directory.
pub fn resolve_data_dir(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => platform_data_dir(),
    }
}

/// `explicit`, else `GATEHOUSE_PORT`, else [`DEFAULT_PORT`]. Port 0 asks the OS for a free port.
pub fn resolve_port(explicit: Option<u16>) -> Result<u16, ConfigError> {
    if let Some(port) = explicit {
        return Ok(port);
    }
    match std::env::var(PORT_ENV) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<u16>()
            .map_err(|_| ConfigError::BadPort(text)),
        _ => Ok(DEFAULT_PORT),
    }
}

/// The database file inside a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("gatehouse.sqlite3")
}

/// The log directory inside a data directory.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_values_win_over_everything() {
        let dir = Path::new("/tmp/explicit-gatehouse");
        assert_eq!(
            resolve_data_dir(Some(dir)).ok().as_deref(),
            Some(dir),
            "an explicit --data-dir must be used as given"
        );
        assert_eq!(
            resolve_port(Some(1234)).ok(),
            Some(1234),
            "an explicit --port must be used"
        );
    }

    #[test]
    fn platform_dir_ends_with_the_identifier() {
        if let Ok(dir) = platform_data_dir() {
            assert!(
                dir.ends_with(APP_IDENTIFIER),
                "the data dir must be the one Tauri's app_data_dir() gives: {dir:?}"
            );
        }
    }
}
