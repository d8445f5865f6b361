//! The 0600 key file: where the data key lives when no OS keyring answers (headless Linux), or
//! when `GATEHOUSE_KEY_BACKEND=file` says so.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use super::{
    KEY_FILE_NAME, KeyError, KeySource, KeySourceInfo, KeySourceKind, MAX_KEY_FILE_LEN, decode_key,
};
use crate::crypto::envelope::DataKey;

/// The data key in a file, for systems where no OS keyring answers.
#[derive(Debug, Clone)]
pub struct FileKeySource {
    pub(super) path: PathBuf,
    /// Why the keyring was passed over, when [`AutoKeySource`] fell back to this file.
    pub(super) fallback_reason: Option<String>,
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
    pub(super) fn exists(&self) -> Result<bool, KeyError> {
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

pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
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
