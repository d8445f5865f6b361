//! The encryption envelope for secrets kept in the store (upstream tokens, client secrets, API keys).
//!
//! AES-256-GCM (NIST SP 800-38D) under one 32-byte [`DataKey`], with a fresh 96-bit nonce from the OS
//! CSPRNG for every value. SP 800-38D §8.3 caps random-nonce use at 2^32 seals per key; a desktop store
//! seals many orders of magnitude fewer values than that.
//!
//! A sealed value is laid out as
//!
//! ```text
//! 0x01 (version) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! and authenticated together with an [`Aad`] naming the table, column and row the value belongs to,
//! so a value copied into another row, column or table fails to open instead of decrypting as someone
//! else's secret. The version byte is authenticated as well (it is part of the encoded associated
//! data), so a later format cannot be downgraded to this one.

use std::fmt;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::SecretString;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The only envelope version this build writes and reads.
pub const VERSION_V1: u8 = 0x01;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;

/// The plaintext sealed by [`Cipher::key_check`]. Not a secret: it only proves that the key opens it.
const KEY_CHECK_MARKER: &[u8] = b"gatehouse data key check v1";

const KEY_CHECK_AAD: Aad<'static> = Aad {
    table: "meta",
    column: "key_check",
    row_id: "data_key",
};

/// The 256-bit key that every stored secret is sealed under.
///
/// Zeroized on drop, `Debug` prints no bytes, and it deliberately implements no `Serialize`: the only
/// ways out are a [`KeySource`](super::KeySource) persisting it and [`Cipher::new`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; DataKey::LEN]);

impl DataKey {
    /// Key length in bytes (AES-256).
    pub const LEN: usize = 32;

    /// A fresh key from the OS CSPRNG.
    #[must_use]
    pub fn generate() -> Self {
        let mut key = Self([0; Self::LEN]);
        OsRng.fill_bytes(&mut key.0);
        key
    }

    /// Wraps existing key bytes. The caller should zeroize its own copy.
    #[must_use]
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// Parses a key from a byte slice of exactly [`DataKey::LEN`] bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; Self::LEN] = bytes.try_into().ok()?;
        Some(Self(array))
    }

    /// The raw key bytes, for a key source to persist.
    pub(crate) fn expose_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

/// Associated data: where a sealed value lives.
///
/// Encoded with a 4-byte big-endian length before each field, so `("ab", "c")` and `("a", "bc")`
/// never produce the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: &'a str,
}

impl Aad<'_> {
    fn encode(&self, version: u8) -> Vec<u8> {
        let fields = [self.table, self.column, self.row_id];
        let mut out = Vec::with_capacity(1 + fields.iter().map(|f| 4 + f.len()).sum::<usize>());
        out.push(version);
        for field in fields {
            // A field longer than 4 GiB cannot be a table, column or row id; saturating keeps the
            // encoding total without a panic path.
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }
}

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed value has unknown envelope version {0:#04x}")]
    UnknownVersion(u8),
    #[error("sealed value is truncated ({len} bytes)")]
    Truncated { len: usize },
    /// Wrong key, tampered bytes, or a value that belongs to another table, column or row. These are
    /// indistinguishable by design.
    #[error("sealed value does not open with this key and associated data")]
    Decrypt,
    #[error("opened value is not UTF-8 text")]
    NotUtf8,
}

/// AES-256-GCM sealing and opening under one [`DataKey`].
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher { .. }")
    }
}

impl Cipher {
    #[must_use]
    pub fn new(key: &DataKey) -> Self {
        Self {
            aead: Aes256Gcm::new(key.expose_bytes().into()),
        }
    }

    /// Seals `plaintext` for the place named by `aad`, with a fresh random nonce.
    ///
    /// # Panics
    ///
    /// If `plaintext` is longer than AES-GCM allows (2^36 - 32 bytes, i.e. about 64 GiB). No store
    /// column can hold such a value.
    #[must_use]
    pub fn seal(&self, plaintext: &[u8], aad: &Aad<'_>) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);

        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.push(VERSION_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .aead
            .encrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &aad.encode(VERSION_V1),
                &mut out[HEADER_LEN..],
            )
            .expect("AES-GCM only refuses plaintexts over 2^36 - 32 bytes (documented panic)");
        out.extend_from_slice(&tag);
        out
    }

    /// Opens a value sealed by [`Cipher::seal`] for the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &Aad<'_>) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let Some(&version) = sealed.first() else {
            return Err(CryptoError::Truncated { len: 0 });
        };
        if version != VERSION_V1 {
            return Err(CryptoError::UnknownVersion(version));
        }
        if sealed.len() < HEADER_LEN + TAG_LEN {
            return Err(CryptoError::Truncated { len: sealed.len() });
        }
        let nonce = Nonce::from_slice(&sealed[1..HEADER_LEN]);
        let (ciphertext, tag) = sealed[HEADER_LEN..].split_at(sealed.len() - HEADER_LEN - TAG_LEN);

        // Exact capacity, so turning the buffer into a string later never reallocates and leaves an
        // unzeroized copy behind.
        let mut buffer = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
        buffer.extend_from_slice(ciphertext);
        self.aead
            .decrypt_in_place_detached(
                nonce,
                &aad.encode(version),
                &mut buffer,
                Tag::from_slice(tag),
            )
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(buffer)
    }

    /// [`Cipher::seal`] for text.
    #[must_use]
    pub fn seal_str(&self, plaintext: &str, aad: &Aad<'_>) -> Vec<u8> {
        self.seal(plaintext.as_bytes(), aad)
    }

    /// [`Cipher::open`] for text sealed with [`Cipher::seal_str`].
    pub fn open_string(&self, sealed: &[u8], aad: &Aad<'_>) -> Result<SecretString, CryptoError> {
        let mut opened = self.open(sealed, aad)?;
        match String::from_utf8(std::mem::take(&mut *opened)) {
            Ok(text) => Ok(SecretString::from(text)),
            Err(not_utf8) => {
                not_utf8.into_bytes().zeroize();
                Err(CryptoError::NotUtf8)
            }
        }
    }

    /// A sealed marker to store next to the data, so a later start can tell whether it was given the
    /// key that the existing data was sealed under (see [`Cipher::verify_key_check`]).
    #[must_use]
    pub fn key_check(&self) -> Vec<u8> {
        self.seal(KEY_CHECK_MARKER, &KEY_CHECK_AAD)
    }

    /// Succeeds when `sealed` is a [`Cipher::key_check`] made under this cipher's key. A failure means
    /// the key was lost or replaced: the caller must stop rather than write new data under a new key.
    pub fn verify_key_check(&self, sealed: &[u8]) -> Result<(), CryptoError> {
        let opened = self.open(sealed, &KEY_CHECK_AAD)?;
        if bool::from(opened.as_slice().ct_eq(KEY_CHECK_MARKER)) {
            Ok(())
        } else {
            Err(CryptoError::Decrypt)
        }
    }
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
