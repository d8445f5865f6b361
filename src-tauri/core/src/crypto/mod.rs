//! Secrets at rest and local tokens.
//!
//! - [`envelope`]: every secret the store keeps (upstream access and refresh tokens, client secrets,
//!   API keys) is sealed with AES-256-GCM (NIST SP 800-38D) under one data key, with a fresh random
//!   96-bit nonce per value and associated data naming its table, column and row (product §2), in a
//!   versioned envelope `0x01 | nonce | ciphertext | tag`.
//!
//! Nothing in this module logs, serializes or `Debug`-prints key material or token values.

pub mod envelope;

pub use envelope::{Aad, Cipher, CryptoError, DataKey};
