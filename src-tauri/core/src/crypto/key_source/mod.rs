//! Where the [`DataKey`] lives: in the OS keyring; where no keyring works (headless Linux), in a
//! 0600 key file, and the UI says so plainly.
//!
//! A [`KeySource`] loads the key or creates it on first start. Three exist:
//!
//! - [`KeyringKeySource`]: the OS credential store through the `keyring` crate (Secret Service on
//!   Linux and the BSDs, Keychain on Apple platforms, Credential Manager on Windows). Every call runs
//!   on a helper thread with a deadline, because a Secret Service call can block (D-Bus autolaunch, an
//!   unlock prompt nobody answers) and startup must not hang on it.
//! - [`FileKeySource`]: `data.key` in the data directory, base64 text, mode 0600 on unix, created by
//!   writing a temporary file and linking it into place so a crash never leaves a half-written key and
//!   two starting processes never overwrite each other's key.
//! - [`FixedKeySource`]: a given key, for tests.
//!
//! [`load_data_key`] applies the policy chosen by [`KeyBackend`] (`GATEHOUSE_KEY_BACKEND`). The rule
//! behind `auto` is that the key never moves between stores silently, in either direction: an existing
//! key file is always kept, and once the keyring holds the key a marker file records it, so a keyring
//! that stops answering later is an error instead of a fresh key file that cannot open the existing
//! data. Whether the key that was loaded is the one the data was sealed under is checked by the caller
//! with [`Cipher::verify_key_check`](super::Cipher::verify_key_check).
//!
//! Key material is never logged; errors name paths and keyring entries, never contents.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::envelope::DataKey;

mod file;

pub use file::FileKeySource;
use file::create_private_dir;

/// Keyring service under which the app keeps its data key.
pub const DEFAULT_KEYRING_SERVICE: &str = "dev.gatehouse.desktop";
/// Keyring user (account) name of the data key entry.
pub const DEFAULT_KEYRING_USER: &str = "data-key";
/// How long one keyring call may take before the keyring counts as not answering.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(3);
/// File name of the key file in the data directory.
pub const KEY_FILE_NAME: &str = "data.key";
/// File name of the marker saying that the data key is in the OS keyring. It holds no secret.
pub const KEYRING_MARKER_FILE_NAME: &str = "data-key.in-os-keyring";
/// Environment variable that selects the [`KeyBackend`].
pub const KEY_BACKEND_ENV: &str = "GATEHOUSE_KEY_BACKEND";

/// A key file larger than this is not one of ours (44 base64 characters and a newline).
const MAX_KEY_FILE_LEN: u64 = 256;

/// Why no data key could be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("key file {} is not a Gatehouse data key ({reason}); it was left untouched", path.display())]
    KeyFileInvalid { path: PathBuf, reason: &'static str },
    #[error("no OS keyring answered: {reason}")]
    KeyringUnavailable { reason: String },
    #[error(
        "the OS keyring entry {service}/{user} does not hold a Gatehouse data key ({reason}); it was left untouched"
    )]
    KeyringEntryInvalid {
        service: String,
        user: String,
        reason: String,
    },
    #[error(
        "the data key is kept in the OS keyring (see {}), but no OS keyring answered: {reason}",
        marker.display()
    )]
    KeyringRequired { marker: PathBuf, reason: String },
    #[error("{KEY_BACKEND_ENV}={value:?} is not one of auto, file, keyring")]
    InvalidBackend { value: String },
}

/// Which kind of store holds the key; the UI shows [`KeySourceInfo::detail`] next to it.
#[derive(Debug, Clone, Copy, serde::Serialize, ts_rs::TS, PartialEq, Eq)]
pub enum KeySourceKind {
    OsKeyring,
    KeyFile,
    Fixed,
}

/// What a [`KeySource`] is, in words the UI can show as they are.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS, PartialEq, Eq)]
pub struct KeySourceInfo {
    pub kind: KeySourceKind,
    pub detail: String,
}

/// A place the data key is loaded from, or created in on first use.
pub trait KeySource: Send + Sync {
    /// The stored key, or a new one stored first. Never replaces a stored key it cannot read.
    fn load_or_create(&self) -> Result<DataKey, KeyError>;
    fn describe(&self) -> KeySourceInfo;
}

/// Which store [`load_data_key`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyBackend {
    /// The key file if one exists, else the OS keyring, else a new key file (and say why).
    #[default]
    Auto,
    /// Always the key file.
    File,
    /// Only the OS keyring; an error if it does not answer.
    Keyring,
}

impl KeyBackend {
    /// Reads [`KEY_BACKEND_ENV`]: `auto`, `file` or `keyring` (any letter case). Unset or empty means
    /// `auto`; any other value is an error rather than a silent `auto`.
    pub fn from_env() -> Result<Self, KeyError> {
        match std::env::var(KEY_BACKEND_ENV) {
            Ok(value) => value.parse(),
            Err(std::env::VarError::NotPresent) => Ok(Self::Auto),
            Err(std::env::VarError::NotUnicode(value)) => Err(KeyError::InvalidBackend {
                value: value.to_string_lossy().into_owned(),
            }),
        }
    }
}

impl FromStr for KeyBackend {
    type Err = KeyError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Self::Auto),
            "file" => Ok(Self::File),
            "keyring" => Ok(Self::Keyring),
            _ => Err(KeyError::InvalidBackend {
                value: value.to_owned(),
            }),
        }
    }
}

/// The key source that `backend` selects for the data directory `data_dir`.
pub fn select_key_source(
    data_dir: &Path,
    backend: KeyBackend,
) -> Result<Box<dyn KeySource>, KeyError> {
    Ok(match backend {
        KeyBackend::Auto => Box::new(AutoKeySource::new(data_dir)),
        KeyBackend::File => Box::new(FileKeySource::in_dir(data_dir)),
        KeyBackend::Keyring => Box::new(KeyringKeySource::new()),
    })
}

/// Loads (or creates) the data key as `backend` says, and describes where it came from.
pub fn load_data_key(
    data_dir: &Path,
    backend: KeyBackend,
) -> Result<(DataKey, KeySourceInfo), KeyError> {
    let source = select_key_source(data_dir, backend)?;
    let key = source.load_or_create()?;
    Ok((key, source.describe()))
}

/// The data key in the OS credential store, base64 in one entry.
#[derive(Debug, Clone)]
pub struct KeyringKeySource {
    service: String,
    user: String,
    timeout: Duration,
}

impl Default for KeyringKeySource {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyringKeySource {
    /// The app's entry: [`DEFAULT_KEYRING_SERVICE`] / [`DEFAULT_KEYRING_USER`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_entry(DEFAULT_KEYRING_SERVICE, DEFAULT_KEYRING_USER)
    }

    /// Another entry, e.g. a unique one for a test.
    #[must_use]
    pub fn with_entry(service: impl Into<String>, user: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            user: user.into(),
            timeout: KEYRING_TIMEOUT,
        }
    }

    /// Changes how long each keyring call may take (default [`KEYRING_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs `op` on this source's entry on a helper thread. The outer error means the keyring did not
    /// answer in time; a thread that answers after the deadline finishes on its own and its result is
    /// dropped (and zeroized, for a secret).
    fn call<T, F>(&self, op: F) -> Result<keyring::Result<T>, String>
    where
        T: Send + 'static,
        F: FnOnce(&keyring::Entry) -> keyring::Result<T> + Send + 'static,
    {
        if !HAS_OS_KEYRING {
            return Err(format!(
                "no OS keyring backend is built for {}",
                std::env::consts::OS
            ));
        }
        let (answer, answered) = mpsc::sync_channel(1);
        let (service, user) = (self.service.clone(), self.user.clone());
        thread::Builder::new()
            .name("gatehouse-keyring".to_owned())
            .spawn(move || {
                let result = keyring::Entry::new(&service, &user).and_then(|entry| op(&entry));
                // The receiver is gone when the caller already gave up waiting.
                let _ = answer.send(result);
            })
            .map_err(|e| format!("could not start a keyring thread: {e}"))?;
        match answered.recv_timeout(self.timeout) {
            Ok(result) => Ok(result),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "{} did not answer within {} ms",
                keyring_name(),
                self.timeout.as_millis()
            )),
            Err(RecvTimeoutError::Disconnected) => {
                Err(format!("the {} call panicked", keyring_name()))
            }
        }
    }

    fn unavailable(&self, action: &str, error: &keyring::Error) -> KeyError {
        KeyError::KeyringUnavailable {
            reason: format!(
                "{} could not {action} {}/{}: {}",
                keyring_name(),
                self.service,
                self.user,
                describe_keyring_error(error)
            ),
        }
    }

    fn entry_invalid(&self, reason: impl Into<String>) -> KeyError {
        KeyError::KeyringEntryInvalid {
            service: self.service.clone(),
            user: self.user.clone(),
            reason: reason.into(),
        }
    }

    fn read(&self) -> Result<Option<Zeroizing<String>>, KeyError> {
        let answer = self
            .call(|entry| entry.get_password().map(Zeroizing::new))
            .map_err(|reason| KeyError::KeyringUnavailable { reason })?;
        match answer {
            Ok(encoded) => Ok(Some(encoded)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(keyring::Error::BadEncoding(_)) => Err(self.entry_invalid("not UTF-8 text")),
            Err(keyring::Error::Ambiguous(_)) => {
                Err(self.entry_invalid("more than one entry matches"))
            }
            Err(other) => Err(self.unavailable("read", &other)),
        }
    }

    fn create(&self) -> Result<DataKey, KeyError> {
        let key = DataKey::generate();
        let encoded = Zeroizing::new(STANDARD.encode(key.expose_bytes()));
        self.call(move |entry| entry.set_password(&encoded))
            .map_err(|reason| KeyError::KeyringUnavailable { reason })?
            .map_err(|e| self.unavailable("store", &e))?;

        // A store that accepts a value and drops it would lose every secret at the next start.
        let stored = self.read()?.and_then(|encoded| decode_key(&encoded));
        match stored {
            Some(stored) if bool::from(stored.expose_bytes().ct_eq(key.expose_bytes())) => {
                tracing::info!(
                    service = %self.service,
                    user = %self.user,
                    "created the data key in the OS keyring"
                );
                Ok(key)
            }
            _ => Err(KeyError::KeyringUnavailable {
                reason: format!(
                    "{} accepted the data key but did not return it when read back",
                    keyring_name()
                ),
            }),
        }
    }
}

impl KeySource for KeyringKeySource {
    fn load_or_create(&self) -> Result<DataKey, KeyError> {
        match self.read()? {
            Some(encoded) => {
                decode_key(&encoded).ok_or_else(|| self.entry_invalid("not a base64 32-byte key"))
            }
            None => self.create(),
        }
    }

    fn describe(&self) -> KeySourceInfo {
        KeySourceInfo {
            kind: KeySourceKind::OsKeyring,
            detail: format!("OS keyring ({})", keyring_name()),
        }
    }
}

/// Whether the `keyring` crate has a real (not in-memory mock) store for this target.
const HAS_OS_KEYRING: bool = cfg!(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
));

fn keyring_name() -> &'static str {
    if cfg!(any(target_os = "macos", target_os = "ios")) {
        "Keychain"
    } else if cfg!(target_os = "windows") {
        "Windows Credential Manager"
    } else {
        "Secret Service"
    }
}

/// A keyring error in words, without the bytes that some variants carry.
fn describe_keyring_error(error: &keyring::Error) -> String {
    match error {
        keyring::Error::BadEncoding(_) => "the stored value is not UTF-8 text".to_owned(),
        other => other.to_string(),
    }
}

/// The key from its base64 text (surrounding whitespace allowed), if it is exactly 32 bytes.
fn decode_key(encoded: &str) -> Option<DataKey> {
    let bytes = Zeroizing::new(STANDARD.decode(encoded.trim()).ok()?);
    DataKey::from_slice(&bytes)
}

/// A given key, for tests.
#[derive(Debug, Clone)]
pub struct FixedKeySource {
    key: DataKey,
}

impl FixedKeySource {
    #[must_use]
    pub fn new(key: DataKey) -> Self {
        Self { key }
    }
}

impl KeySource for FixedKeySource {
    fn load_or_create(&self) -> Result<DataKey, KeyError> {
        Ok(self.key.clone())
    }

    fn describe(&self) -> KeySourceInfo {
        KeySourceInfo {
            kind: KeySourceKind::Fixed,
            detail: "fixed key (tests only)".to_owned(),
        }
    }
}

/// The `auto` policy of [`KeyBackend`]: the key file if it exists, else the OS keyring, else a new key
/// file, and never a silent move between the two (see the module docs).
pub struct AutoKeySource {
    file: FileKeySource,
    keyring: Box<dyn KeySource>,
    marker: PathBuf,
    used: Mutex<Option<KeySourceInfo>>,
}

impl AutoKeySource {
    /// The policy over `data_dir`'s key file and the app's OS keyring entry.
    #[must_use]
    pub fn new(data_dir: &Path) -> Self {
        Self::with_keyring(data_dir, Box::new(KeyringKeySource::new()))
    }

    /// The policy with another source in the keyring's place (a test's failing or fixed source).
    #[must_use]
    pub fn with_keyring(data_dir: &Path, keyring: Box<dyn KeySource>) -> Self {
        Self {
            file: FileKeySource::in_dir(data_dir),
            keyring,
            marker: data_dir.join(KEYRING_MARKER_FILE_NAME),
            used: Mutex::new(None),
        }
    }

    fn record(&self, info: KeySourceInfo) {
        *self.used.lock().unwrap_or_else(PoisonError::into_inner) = Some(info);
    }

    fn load_from(&self, source: &dyn KeySource) -> Result<DataKey, KeyError> {
        let key = source.load_or_create()?;
        self.record(source.describe());
        Ok(key)
    }

    fn write_marker(&self) -> Result<(), KeyError> {
        if fs::symlink_metadata(&self.marker).is_ok() {
            return Ok(());
        }
        let io_error = |source| KeyError::Io {
            path: self.marker.clone(),
            source,
        };
        if let Some(dir) = self.marker.parent() {
            create_private_dir(dir).map_err(io_error)?;
        }
        let text = "The Gatehouse data key is kept in the OS keyring, not in a file here.\n\
                    Without that keyring entry the encrypted secrets in this directory cannot be read.\n";
        fs::write(&self.marker, text).map_err(io_error)
    }
}

impl KeySource for AutoKeySource {
    fn load_or_create(&self) -> Result<DataKey, KeyError> {
        if self.file.exists()? {
            return self.load_from(&self.file);
        }
        match self.load_from(self.keyring.as_ref()) {
            Ok(key) => {
                self.write_marker()?;
                Ok(key)
            }
            Err(KeyError::KeyringUnavailable { reason }) => {
                if fs::symlink_metadata(&self.marker).is_ok() {
                    return Err(KeyError::KeyringRequired {
                        marker: self.marker.clone(),
                        reason,
                    });
                }
                tracing::warn!(
                    path = %self.file.path().display(),
                    %reason,
                    "no OS keyring answered; keeping the data key in a file"
                );
                let fallback = FileKeySource {
                    fallback_reason: Some(reason),
                    ..self.file.clone()
                };
                self.load_from(&fallback)
            }
            Err(other) => Err(other),
        }
    }

    /// What was used by the last successful load; before that, what a load would try first.
    fn describe(&self) -> KeySourceInfo {
        if let Some(info) = self
            .used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return info;
        }
        match self.file.exists() {
            Ok(true) => self.file.describe(),
            _ => self.keyring.describe(),
        }
    }
}

#[cfg(test)]
mod tests;
