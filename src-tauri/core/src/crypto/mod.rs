//! Secrets at rest and local tokens.
//!
//! - [`envelope`]: every secret the store keeps (upstream access and refresh tokens, client secrets,
//!   API keys) is sealed with AES-256-GCM (NIST SP 800-38D) under one data key, with a fresh random
//!   96-bit nonce per value and associated data naming its table, column and row, in a
//!   versioned envelope `0x01 | nonce | ciphertext | tag`.
//! - [`key_source`]: where that data key lives: the OS keyring, a 0600 key file where no keyring
//!   answers (and the UI says so), or a fixed key in tests.
//! - [`token`]: the opaque tokens role 1 issues. 256 random bits behind a kind prefix; only their
//!   SHA-256 is stored, following the token storage advice of RFC 6749 §10.3–10.5, RFC 6819
//!   §5.1.4.1.3 and OAuth 2.1 §7.
//!
//! Nothing in this module logs, serializes or `Debug`-prints key material or token values.

pub mod envelope;
pub mod key_source;
pub mod token;

pub use envelope::{Aad, Cipher, CryptoError, DataKey};
pub use key_source::{
    AutoKeySource, FileKeySource, FixedKeySource, KeyBackend, KeyError, KeySource, KeySourceInfo,
    KeySourceKind, KeyringKeySource, load_data_key, select_key_source,
};
pub use token::{TokenHash, TokenKind, constant_time_eq, kind_of};
