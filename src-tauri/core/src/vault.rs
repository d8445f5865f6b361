//! The opened data directory: the store, the data key and the cipher that seals secrets with it.
//!
//! Opening checks the data key against a key-check value kept in the store, so a lost or swapped key
//! is reported instead of a fresh key being generated over secrets nobody can read any more.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use crate::clock::SharedClock;
use crate::config;
use crate::crypto::{Cipher, CryptoError, KeyBackend, KeyError, KeySourceInfo};
use crate::store::{Store, StoreError};

const KEY_CHECK: &str = "crypto.key_check";

#[derive(Debug, Error)]
pub enum VaultError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "the data key from {source_detail} does not open this database's secrets; restore the original \
         key (OS keyring entry or data.key) instead of starting over"
    )]
    WrongKey {
        source_detail: String,
        cause: CryptoError,
    },
}

/// A cheap handle (clone freely) to the store, the cipher and where the key came from.
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    store: Store,
    cipher: Cipher,
    key_source: KeySourceInfo,
}

impl Vault {
    /// Opens (creating if needed) the data directory, its store and its data key.
    pub fn open(
        data_dir: &Path,
        backend: KeyBackend,
        clock: SharedClock,
    ) -> Result<Self, VaultError> {
        create_private_dir(data_dir)?;
        let store = Store::open(&config::database_path(data_dir), clock)?;
        let (key, key_source) = crate::crypto::load_data_key(data_dir, backend)?;
        let cipher = Cipher::new(&key);
        match store.meta_get(KEY_CHECK)? {
            Some(sealed) => {
                cipher
                    .verify_key_check(&sealed)
                    .map_err(|cause| VaultError::WrongKey {
                        source_detail: key_source.detail.clone(),
                        cause,
                    })?;
            }
            None => store.meta_set(KEY_CHECK, &cipher.key_check())?,
        }
        Ok(Self {
            inner: Arc::new(Inner {
                data_dir: data_dir.to_path_buf(),
                store,
                cipher,
                key_source,
            }),
        })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn cipher(&self) -> &Cipher {
        &self.inner.cipher
    }

    pub fn key_source(&self) -> &KeySourceInfo {
        &self.inner.key_source
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }
}

fn create_private_dir(dir: &Path) -> Result<(), VaultError> {
    let err = |source| VaultError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}
