//! Where the [`DataKey`] lives (product §2: "The data key lives in the OS keyring; where no keyring
//! works (headless Linux) a 0600 key file is used and the UI says so plainly").
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

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::envelope::DataKey;

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

/// The data key in a file, for systems where no OS keyring answers.
#[derive(Debug, Clone)]
pub struct FileKeySource {
    path: PathBuf,
    /// Why the keyring was passed over, when [`AutoKeySource`] fell back to this file.
    fallback_reason: Option<String>,
}

impl FileKeySource {
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            fallback_reason: None,
        }
    }

    /// [`KEY_FILE_NAME`] in `data_dir`.
    #[must_use]
    pub fn in_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join(KEY_FILE_NAME))
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, source: io::Error) -> KeyError {
        KeyError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn invalid(&self, reason: &'static str) -> KeyError {
        KeyError::KeyFileInvalid {
            path: self.path.clone(),
            reason,
        }
    }

    /// Whether something exists at the key file's path (a broken one included: it is never replaced).
    fn exists(&self) -> Result<bool, KeyError> {
        match fs::symlink_metadata(&self.path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io_error(e)),
        }
    }

    fn load(&self) -> Result<Option<DataKey>, KeyError> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io_error(e)),
        };
        let metadata = file.metadata().map_err(|e| self.io_error(e))?;
        if !metadata.is_file() {
            return Err(self.invalid("not a regular file"));
        }
        if metadata.len() > MAX_KEY_FILE_LEN {
            return Err(self.invalid("too large"));
        }
        #[cfg(unix)]
        self.restrict_to_owner(&file, &metadata)?;

        let mut contents = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_LEN as usize + 1));
        (&mut file)
            .take(MAX_KEY_FILE_LEN + 1)
            .read_to_end(&mut contents)
            .map_err(|e| self.io_error(e))?;
        let text = std::str::from_utf8(&contents).map_err(|_| self.invalid("not text"))?;
        decode_key(text)
            .map(Some)
            .ok_or_else(|| self.invalid("not a base64 32-byte key"))
    }

    /// Tightens a key file that others can read to 0600, with a warning: the key may already have
    /// been copied, but leaving it open helps nobody.
    #[cfg(unix)]
    fn restrict_to_owner(&self, file: &File, metadata: &fs::Metadata) -> Result<(), KeyError> {
        use std::os::unix::fs::PermissionsExt;

        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %self.path.display(),
                mode = format_args!("{mode:o}"),
                "the data key file was readable by other users; restricting it to 0600"
            );
            file.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(|e| self.io_error(e))?;
        }
        Ok(())
    }

    fn create(&self) -> Result<DataKey, KeyError> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        create_private_dir(dir).map_err(|e| self.io_error(e))?;

        let key = DataKey::generate();
        let mut suffix = [0u8; 8];
        OsRng.fill_bytes(&mut suffix);
        let file_name = self
            .path
            .file_name()
            .map_or_else(|| KEY_FILE_NAME.into(), |n| n.to_string_lossy());
        let temp = dir.join(format!(
            ".{file_name}.{:016x}.tmp",
            u64::from_le_bytes(suffix)
        ));

        let written = write_new_private_file(&temp, &key);
        let placed = written.and_then(|()| place_without_replacing(&temp, &self.path));
        // The temporary name is gone after a rename; otherwise it is only a leftover to remove.
        let _ = fs::remove_file(&temp);
        match placed {
            Ok(()) => {
                sync_dir(dir);
                tracing::info!(path = %self.path.display(), "created the data key file");
                Ok(key)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Another process created the key first: use its key, not ours.
                self.load()?
                    .ok_or_else(|| self.io_error(io::Error::from(io::ErrorKind::NotFound)))
            }
            Err(e) => Err(self.io_error(e)),
        }
    }
}

impl KeySource for FileKeySource {
    fn load_or_create(&self) -> Result<DataKey, KeyError> {
        match self.load()? {
            Some(key) => Ok(key),
            None => self.create(),
        }
    }

    fn describe(&self) -> KeySourceInfo {
        let mut detail = format!("key file {}", self.path.display());
        if let Some(reason) = &self.fallback_reason {
            detail.push_str(&format!(" (no OS keyring answered: {reason})"));
        }
        KeySourceInfo {
            kind: KeySourceKind::KeyFile,
            detail,
        }
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes the key as base64 text to a file that must not exist yet, readable by the owner only from
/// the moment it exists, and flushed to disk.
fn write_new_private_file(path: &Path, key: &DataKey) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        // The creation mode is filtered through the umask, which can only remove bits; this makes
        // the mode exactly 0600 whatever the umask is.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    let mut text = Zeroizing::new(STANDARD.encode(key.expose_bytes()));
    text.push('\n');
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Gives `temp` the name `path` unless `path` already exists (then `AlreadyExists`). A hard link does
/// that atomically; where the file system has no hard links, a rename after an existence check.
fn place_without_replacing(temp: &Path, path: &Path) -> io::Result<()> {
    match fs::hard_link(temp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(link_error) => {
            if fs::symlink_metadata(path).is_ok() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            tracing::debug!(error = %link_error, "no hard link for the key file; renaming instead");
            fs::rename(temp, path)
        }
    }
}

/// Makes a new directory entry durable. Best effort: not every platform can open a directory.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "could not sync the data directory");
    }
    #[cfg(not(unix))]
    let _ = dir;
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
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A stand-in for a keyring that never answers.
    struct Unanswering;

    impl KeySource for Unanswering {
        fn load_or_create(&self) -> Result<DataKey, KeyError> {
            Err(KeyError::KeyringUnavailable {
                reason: "test keyring is switched off".to_owned(),
            })
        }

        fn describe(&self) -> KeySourceInfo {
            KeySourceInfo {
                kind: KeySourceKind::OsKeyring,
                detail: "test keyring".to_owned(),
            }
        }
    }

    /// A stand-in keyring that counts how often it is asked.
    #[derive(Clone)]
    struct Counting {
        key: DataKey,
        calls: Arc<AtomicUsize>,
    }

    impl Counting {
        fn new() -> Self {
            Self {
                key: DataKey::generate(),
                calls: Arc::new(AtomicUsize::new(0)),
            }
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl KeySource for Counting {
        fn load_or_create(&self) -> Result<DataKey, KeyError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(self.key.clone())
        }

        fn describe(&self) -> KeySourceInfo {
            KeySourceInfo {
                kind: KeySourceKind::OsKeyring,
                detail: "counting test keyring".to_owned(),
            }
        }
    }

    fn same_key(a: &DataKey, b: &DataKey) -> bool {
        a.expose_bytes() == b.expose_bytes()
    }

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("a test needs a temporary directory: {e}"))
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    #[test]
    fn key_file_is_created_private_and_reloads_the_same_key() -> anyhow::Result<()> {
        let dir = temp_dir();
        let data_dir = dir.path().join("nested").join("data");
        let first = FileKeySource::in_dir(&data_dir).load_or_create()?;
        let path = data_dir.join(KEY_FILE_NAME);
        #[cfg(unix)]
        {
            assert_eq!(mode_of(&path), 0o600, "the key file is owner-only");
            assert_eq!(
                mode_of(&data_dir),
                0o700,
                "a created data dir is owner-only"
            );
        }
        let text = fs::read_to_string(&path)?;
        assert_eq!(text.len(), 45, "44 base64 characters and a newline");
        assert_eq!(
            names_in(&data_dir),
            [KEY_FILE_NAME],
            "no temporary file is left behind"
        );

        let again = FileKeySource::new(&path).load_or_create()?;
        assert!(
            same_key(&first, &again),
            "a second start loads the same key"
        );
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_readable_by_others_is_tightened_and_still_used() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;

        let dir = temp_dir();
        let source = FileKeySource::in_dir(dir.path());
        let key = source.load_or_create()?;
        fs::set_permissions(source.path(), fs::Permissions::from_mode(0o644))?;

        let again = source.load_or_create()?;
        assert!(same_key(&key, &again), "the existing key is kept");
        assert_eq!(
            mode_of(source.path()),
            0o600,
            "the file is tightened to 0600"
        );
        Ok(())
    }

    #[test]
    fn a_broken_key_file_is_an_error_and_is_not_replaced() -> anyhow::Result<()> {
        let dir = temp_dir();
        let source = FileKeySource::in_dir(dir.path());
        let too_short = format!("{}\n", STANDARD.encode([7u8; 16]));
        for contents in [
            b"not base64 at all".to_vec(),
            too_short.into_bytes(),
            vec![0xff; 32],
            vec![b'A'; 1000],
        ] {
            fs::write(source.path(), &contents)?;
            let result = source.load_or_create();
            assert!(
                matches!(result, Err(KeyError::KeyFileInvalid { .. })),
                "a broken key file must not load: {result:?}"
            );
            assert_eq!(
                fs::read(source.path())?,
                contents,
                "a broken key file must not be overwritten"
            );
        }
        Ok(())
    }

    #[test]
    fn a_key_file_written_by_hand_is_read() -> anyhow::Result<()> {
        let dir = temp_dir();
        let source = FileKeySource::in_dir(dir.path());
        fs::write(
            source.path(),
            format!("  {}\r\n", STANDARD.encode([9u8; 32])),
        )?;
        let key = source.load_or_create()?;
        assert_eq!(
            key.expose_bytes(),
            &[9u8; 32],
            "whitespace around base64 is allowed"
        );
        Ok(())
    }

    #[test]
    fn auto_keeps_an_existing_key_file_without_asking_the_keyring() -> anyhow::Result<()> {
        let dir = temp_dir();
        let from_file = FileKeySource::in_dir(dir.path()).load_or_create()?;
        let keyring = Counting::new();
        let auto = AutoKeySource::with_keyring(dir.path(), Box::new(keyring.clone()));

        let key = auto.load_or_create()?;
        assert!(same_key(&key, &from_file), "the key file's key is used");
        assert_eq!(keyring.calls(), 0, "the keyring is not consulted");
        assert_eq!(
            auto.describe().kind,
            KeySourceKind::KeyFile,
            "the UI is told"
        );

        let (key, info) = load_data_key(dir.path(), KeyBackend::Auto)?;
        assert!(
            same_key(&key, &from_file),
            "the app's auto policy keeps the file too"
        );
        assert_eq!(
            info,
            KeySourceInfo {
                kind: KeySourceKind::KeyFile,
                detail: format!("key file {}", dir.path().join(KEY_FILE_NAME).display()),
            },
            "the description names the file"
        );
        Ok(())
    }

    #[test]
    fn auto_falls_back_to_a_key_file_when_no_keyring_answers() -> anyhow::Result<()> {
        let dir = temp_dir();
        let auto = AutoKeySource::with_keyring(dir.path(), Box::new(Unanswering));
        let key = auto.load_or_create()?;
        let info = auto.describe();
        assert_eq!(
            info.kind,
            KeySourceKind::KeyFile,
            "the fallback is the key file"
        );
        assert!(
            info.detail
                .contains("no OS keyring answered: test keyring is switched off"),
            "the UI is told why: {}",
            info.detail
        );

        let reloaded = FileKeySource::in_dir(dir.path()).load_or_create()?;
        assert!(same_key(&key, &reloaded), "the fallback key was persisted");
        assert_eq!(
            names_in(dir.path()),
            [KEY_FILE_NAME],
            "no keyring marker is written for a file key"
        );
        Ok(())
    }

    #[test]
    fn auto_uses_the_keyring_and_never_falls_back_once_it_holds_the_key() -> anyhow::Result<()> {
        let root = temp_dir();
        let dir = &root.path().join("not-yet-created");
        let keyring = Counting::new();
        let auto = AutoKeySource::with_keyring(dir, Box::new(keyring.clone()));
        let key = auto.load_or_create()?;
        assert!(same_key(&key, &keyring.key), "the keyring's key is used");
        assert_eq!(
            auto.describe().kind,
            KeySourceKind::OsKeyring,
            "the UI is told"
        );
        assert_eq!(
            names_in(dir),
            [KEYRING_MARKER_FILE_NAME],
            "only the marker is written, no key file"
        );

        let later = AutoKeySource::with_keyring(dir, Box::new(Unanswering));
        let result = later.load_or_create();
        assert!(
            matches!(result, Err(KeyError::KeyringRequired { .. })),
            "a keyring that held the key and stops answering is an error: {result:?}"
        );
        assert!(
            !dir.join(KEY_FILE_NAME).exists(),
            "no new key is created next to data sealed under the keyring's key"
        );
        Ok(())
    }

    #[test]
    fn auto_does_not_fall_back_when_the_keyring_holds_something_unreadable() {
        struct Corrupt;
        impl KeySource for Corrupt {
            fn load_or_create(&self) -> Result<DataKey, KeyError> {
                Err(KeyError::KeyringEntryInvalid {
                    service: "s".to_owned(),
                    user: "u".to_owned(),
                    reason: "test".to_owned(),
                })
            }
            fn describe(&self) -> KeySourceInfo {
                Unanswering.describe()
            }
        }

        let dir = temp_dir();
        let result = AutoKeySource::with_keyring(dir.path(), Box::new(Corrupt)).load_or_create();
        assert!(
            matches!(result, Err(KeyError::KeyringEntryInvalid { .. })),
            "an answering keyring with a bad entry is an error, not a reason to switch: {result:?}"
        );
        assert!(
            names_in(dir.path()).is_empty(),
            "nothing is created in the data dir"
        );
    }

    #[test]
    fn explicit_file_backend_never_asks_the_keyring() -> anyhow::Result<()> {
        let dir = temp_dir();
        let (_, info) = load_data_key(dir.path(), KeyBackend::File)?;
        assert_eq!(
            info.kind,
            KeySourceKind::KeyFile,
            "file backend uses the key file"
        );
        assert!(
            !info.detail.contains("no OS keyring"),
            "a chosen key file is not a fallback: {}",
            info.detail
        );
        Ok(())
    }

    #[test]
    fn fixed_source_returns_its_key() -> anyhow::Result<()> {
        let key = DataKey::from_bytes([3; DataKey::LEN]);
        let source = FixedKeySource::new(key.clone());
        assert!(
            same_key(&source.load_or_create()?, &key),
            "the fixed key comes back"
        );
        assert_eq!(source.describe().kind, KeySourceKind::Fixed, "it says so");
        Ok(())
    }

    #[test]
    fn backend_names_parse_and_anything_else_is_rejected() {
        for (text, backend) in [
            ("auto", KeyBackend::Auto),
            ("", KeyBackend::Auto),
            ("file", KeyBackend::File),
            ("keyring", KeyBackend::Keyring),
            ("File", KeyBackend::File),
        ] {
            assert_eq!(
                text.parse::<KeyBackend>().ok(),
                Some(backend),
                "{text:?} names a backend"
            );
        }
        for text in ["keychain", "auto ", "none", "0"] {
            let result = text.parse::<KeyBackend>();
            assert!(
                matches!(&result, Err(KeyError::InvalidBackend { value }) if value == text),
                "{text:?} must be rejected, not treated as auto: {result:?}"
            );
        }
    }

    #[test]
    fn a_keyring_call_that_hangs_times_out() {
        let (release, hang) = mpsc::channel::<()>();
        let source = KeyringKeySource::with_entry("dev.gatehouse.test.unused", "unused")
            .with_timeout(Duration::from_millis(50));
        let result = source.call(move |_entry| {
            let _ = hang.recv();
            Ok(())
        });
        drop(release);
        match result {
            Err(reason) if HAS_OS_KEYRING => assert!(
                reason.contains("did not answer within 50 ms"),
                "the timeout is the reason: {reason}"
            ),
            Err(_) => {}
            Ok(answer) => panic!("a hanging call must not answer: {answer:?}"),
        }
    }

    #[test]
    fn key_source_info_serializes_for_the_ui() -> anyhow::Result<()> {
        let info = KeySourceInfo {
            kind: KeySourceKind::KeyFile,
            detail: "key file /d/data.key".to_owned(),
        };
        assert_eq!(
            serde_json::to_string(&info)?,
            r#"{"kind":"KeyFile","detail":"key file /d/data.key"}"#,
            "the UI receives kind and detail"
        );
        Ok(())
    }

    // ----- Real processes: a test binary re-run in a controlled environment -----

    /// Set in a child process to the name of the scenario it should run.
    const CHILD_ENV: &str = "GATEHOUSE_CRYPTO_CHILD";
    const REQUIRE_SYSTEM_TESTS_ENV: &str = "GATEHOUSE_REQUIRE_SYSTEM_TESTS";

    fn test_path(name: &str) -> String {
        let module = module_path!();
        let module = module.split_once("::").map_or(module, |(_, rest)| rest);
        format!("{module}::{name}")
    }

    /// Whether this process is the child for `scenario`. Child tests are `#[ignore]`d so a plain run
    /// skips them, and return early when run by hand with `--include-ignored`.
    fn is_child(scenario: &str) -> bool {
        std::env::var(CHILD_ENV).is_ok_and(|v| v == scenario)
    }

    /// The current test binary, told to run exactly `test`, with a clean environment except for
    /// what a Rust binary and the tools it runs need.
    fn child_args(test: &str) -> anyhow::Result<Vec<std::ffi::OsString>> {
        Ok(vec![
            std::env::current_exe()?.into_os_string(),
            "--exact".into(),
            test_path(test).into(),
            "--include-ignored".into(),
            "--nocapture".into(),
            "--test-threads=1".into(),
        ])
    }

    fn base_env(command: &mut std::process::Command, home: &Path) {
        command.env_clear();
        for kept in [
            "PATH",
            "RUSTUP_HOME",
            "CARGO_HOME",
            "RUST_BACKTRACE",
            "LANG",
        ] {
            if let Some(value) = std::env::var_os(kept) {
                command.env(kept, value);
            }
        }
        command.env("HOME", home);
    }

    /// Runs `command` to completion or kills it after `deadline`.
    fn run(
        mut command: std::process::Command,
        deadline: Duration,
    ) -> anyhow::Result<std::process::Output> {
        use std::process::Stdio;
        use std::time::Instant;

        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let readers = [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|e| Box::new(e) as Box<dyn Read + Send>),
        ]
        .map(|pipe| {
            thread::spawn(move || {
                let mut out = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut out);
                }
                out
            })
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > deadline {
                child.kill()?;
                child.wait()?;
                anyhow::bail!("child process did not finish within {deadline:?}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        let [stdout, stderr] = readers.map(|reader| {
            reader
                .join()
                .unwrap_or_else(|_| b"<reader panicked>".to_vec())
        });
        Ok(std::process::Output {
            status,
            stdout,
            stderr,
        })
    }

    fn assert_child_passed(output: &std::process::Output, test: &str) {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.contains("test result: ok. 1 passed"),
            "child test {test} must run and pass ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            output.status
        );
    }

    #[test]
    fn invalid_backend_in_the_environment_is_rejected() -> anyhow::Result<()> {
        let dir = temp_dir();
        for (value, scenario) in [("bogus", "env-invalid"), ("keyring", "env-keyring")] {
            let args = child_args("child_reads_the_backend_from_the_environment")?;
            let mut command = std::process::Command::new(&args[0]);
            command.args(&args[1..]);
            base_env(&mut command, dir.path());
            command.env(CHILD_ENV, scenario).env(KEY_BACKEND_ENV, value);
            let output = run(command, Duration::from_secs(60))?;
            assert_child_passed(&output, scenario);
        }
        Ok(())
    }

    #[test]
    #[ignore = "run by invalid_backend_in_the_environment_is_rejected in a child process"]
    fn child_reads_the_backend_from_the_environment() {
        if is_child("env-invalid") {
            let result = KeyBackend::from_env();
            assert!(
                matches!(&result, Err(KeyError::InvalidBackend { value }) if value == "bogus"),
                "an invalid {KEY_BACKEND_ENV} is an error: {result:?}"
            );
        } else if is_child("env-keyring") {
            assert_eq!(
                KeyBackend::from_env().ok(),
                Some(KeyBackend::Keyring),
                "a valid value is read"
            );
        }
    }

    /// With a session bus address that leads nowhere, the real keyring source fails fast and the
    /// app's auto policy falls back to a key file and says why.
    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
    #[test]
    fn auto_falls_back_in_a_process_without_a_session_bus() -> anyhow::Result<()> {
        let dir = temp_dir();
        let args = child_args("child_without_a_session_bus")?;
        let mut command = std::process::Command::new(&args[0]);
        command.args(&args[1..]);
        base_env(&mut command, dir.path());
        command
            .env(CHILD_ENV, "no-session-bus")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("GATEHOUSE_TEST_DATA_DIR", dir.path().join("data"));
        let output = run(command, Duration::from_secs(60))?;
        assert_child_passed(&output, "child_without_a_session_bus");
        Ok(())
    }

    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
    #[test]
    #[ignore = "run by auto_falls_back_in_a_process_without_a_session_bus in a child process"]
    fn child_without_a_session_bus() -> anyhow::Result<()> {
        if !is_child("no-session-bus") {
            return Ok(());
        }
        let data_dir =
            PathBuf::from(std::env::var_os("GATEHOUSE_TEST_DATA_DIR").unwrap_or_default());
        anyhow::ensure!(data_dir.is_absolute(), "the parent passes a data dir");
        let (key, info) = load_data_key(&data_dir, KeyBackend::Auto)?;
        assert_eq!(
            info.kind,
            KeySourceKind::KeyFile,
            "without a keyring the key is in a file"
        );
        assert!(
            info.detail.contains("no OS keyring answered")
                && info.detail.contains("Secret Service"),
            "the UI is told why: {}",
            info.detail
        );
        let (again, _) = load_data_key(&data_dir, KeyBackend::Auto)?;
        assert!(same_key(&key, &again), "the next start keeps the key file");

        let keyring_only = load_data_key(&data_dir, KeyBackend::Keyring);
        assert!(
            matches!(keyring_only, Err(KeyError::KeyringUnavailable { .. })),
            "the keyring backend does not fall back: {keyring_only:?}"
        );
        Ok(())
    }

    /// Starts a throwaway D-Bus session with gnome-keyring-daemon holding an unlocked login keyring
    /// under a temporary home, and runs the child there. The daemon is killed when the child ends.
    const SECRET_SERVICE_SCRIPT: &str = r#"
printf pass | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
keyring_pid=$!
trap 'kill "$keyring_pid" 2>/dev/null; wait "$keyring_pid" 2>/dev/null' EXIT
echo "gatehouse-test: keyring daemon pid $keyring_pid"
tries=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
        | grep -q 'boolean true'; do
    tries=$((tries + 1))
    if [ "$tries" -ge 100 ]; then
        echo "gnome-keyring-daemon did not claim org.freedesktop.secrets" >&2
        exit 97
    fi
    sleep 0.1
done
"$@"
status=$?
exit "$status"
"#;

    fn on_path(program: &str) -> bool {
        std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| dir.join(program).is_file())
        })
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn secret_service_stores_and_reloads_the_key() -> anyhow::Result<()> {
        let missing: Vec<&str> = ["dbus-run-session", "dbus-send", "gnome-keyring-daemon"]
            .into_iter()
            .filter(|program| !on_path(program))
            .collect();
        if !missing.is_empty() {
            let required = std::env::var(REQUIRE_SYSTEM_TESTS_ENV).is_ok_and(|v| v == "1");
            assert!(
                !required,
                "{REQUIRE_SYSTEM_TESTS_ENV}=1 but {} not installed: the real Secret Service test cannot run",
                missing.join(", ")
            );
            eprintln!(
                "skipping the real Secret Service test: {} not installed",
                missing.join(", ")
            );
            return Ok(());
        }

        let dir = temp_dir();
        let home = dir.path().join("home");
        let runtime = dir.path().join("run");
        let data = dir.path().join("data");
        for private in [&home, &runtime] {
            create_private_dir(private)?;
        }
        let mut command = std::process::Command::new("dbus-run-session");
        command
            .args(["--", "sh", "-c", SECRET_SERVICE_SCRIPT, "sh"])
            .args(child_args("child_with_a_secret_service")?);
        base_env(&mut command, &home);
        command
            .env(CHILD_ENV, "secret-service")
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("GATEHOUSE_TEST_DATA_DIR", &data);
        let output = run(command, Duration::from_secs(120))?;
        assert_child_passed(&output, "child_with_a_secret_service");

        let stdout = String::from_utf8_lossy(&output.stdout);
        let daemon = stdout
            .lines()
            .find_map(|line| line.strip_prefix("gatehouse-test: keyring daemon pid "));
        assert!(
            daemon.is_some(),
            "the script reports the daemon's pid: {stdout}"
        );
        let daemon = daemon.unwrap_or_default().trim();
        assert!(
            !Path::new("/proc").join(daemon).exists(),
            "gnome-keyring-daemon (pid {daemon}) must not outlive the test"
        );
        Ok(())
    }

    #[cfg(target_os = "linux")]
    #[test]
    #[ignore = "run by secret_service_stores_and_reloads_the_key under its own D-Bus session"]
    fn child_with_a_secret_service() -> anyhow::Result<()> {
        if !is_child("secret-service") {
            return Ok(());
        }
        anyhow::ensure!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "dbus-run-session provides a private session bus"
        );
        let mut unique = [0u8; 8];
        OsRng.fill_bytes(&mut unique);
        let service = format!("dev.gatehouse.test.{:016x}", u64::from_le_bytes(unique));

        let first = KeyringKeySource::with_entry(&service, DEFAULT_KEYRING_USER);
        let created = first.load_or_create()?;
        assert_eq!(
            first.describe(),
            KeySourceInfo {
                kind: KeySourceKind::OsKeyring,
                detail: "OS keyring (Secret Service)".to_owned(),
            },
            "the source describes the Secret Service"
        );
        let second = KeyringKeySource::with_entry(&service, DEFAULT_KEYRING_USER);
        let loaded = second.load_or_create()?;
        assert!(
            same_key(&created, &loaded),
            "another instance loads the stored key instead of making a new one"
        );

        let data_dir =
            PathBuf::from(std::env::var_os("GATEHOUSE_TEST_DATA_DIR").unwrap_or_default());
        anyhow::ensure!(data_dir.is_absolute(), "the parent passes a data dir");
        let auto = AutoKeySource::with_keyring(
            &data_dir,
            Box::new(KeyringKeySource::with_entry(&service, "auto-data-key")),
        );
        let auto_key = auto.load_or_create()?;
        assert_eq!(
            auto.describe().kind,
            KeySourceKind::OsKeyring,
            "auto prefers an answering keyring"
        );
        assert!(
            !data_dir.join(KEY_FILE_NAME).exists()
                && data_dir.join(KEYRING_MARKER_FILE_NAME).exists(),
            "auto with a keyring writes the marker and no key file"
        );
        let auto_again = AutoKeySource::with_keyring(
            &data_dir,
            Box::new(KeyringKeySource::with_entry(&service, "auto-data-key")),
        )
        .load_or_create()?;
        assert!(
            same_key(&auto_key, &auto_again),
            "auto reloads the keyring's key"
        );

        keyring::Entry::new(&service, "garbage")?.set_password("not a key")?;
        let garbage = KeyringKeySource::with_entry(&service, "garbage").load_or_create();
        assert!(
            matches!(garbage, Err(KeyError::KeyringEntryInvalid { .. })),
            "an entry that is not a key is an error: {garbage:?}"
        );
        assert_eq!(
            keyring::Entry::new(&service, "garbage")?.get_password()?,
            "not a key",
            "an unreadable entry is never overwritten"
        );

        for user in [DEFAULT_KEYRING_USER, "auto-data-key", "garbage"] {
            keyring::Entry::new(&service, user)?.delete_credential()?;
        }
        Ok(())
    }
}
