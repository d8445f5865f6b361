//! The envelope under test: round trips, a flipped bit, a wrong key, a value moved to another
//! row, column or table, an unknown version, truncation, fresh nonces and the key check.

use secrecy::ExposeSecret;

use super::*;

const ROW_A: Aad<'static> = Aad {
    table: "upstream_credential",
    column: "access_token",
    row_id: "row-a",
};

fn cipher() -> Cipher {
    Cipher::new(&DataKey::generate())
}

#[test]
fn seal_then_open_round_trips() {
    let cipher = cipher();
    for plaintext in [&b""[..], b"x", b"an upstream access token", &[0u8; 4096]] {
        let sealed = cipher.seal(plaintext, &ROW_A);
        assert_eq!(
            sealed.len(),
            1 + NONCE_LEN + plaintext.len() + TAG_LEN,
            "envelope is version | nonce | ciphertext | tag"
        );
        assert_eq!(sealed[0], VERSION_V1, "first byte is the version");
        let opened = cipher.open(&sealed, &ROW_A);
        assert_eq!(
            opened.as_ref().map(|p| p.as_slice()),
            Ok(plaintext),
            "the same key and AAD open what was sealed"
        );
    }
}

#[test]
fn string_round_trip_keeps_text_secret() {
    let cipher = cipher();
    let sealed = cipher.seal_str("sk-live-123", &ROW_A);
    let opened = cipher.open_string(&sealed, &ROW_A);
    assert_eq!(
        opened.as_ref().map(|s| s.expose_secret()),
        Ok("sk-live-123"),
        "text round trips"
    );
    let debug = format!("{opened:?}");
    assert!(
        !debug.contains("sk-live-123"),
        "Debug of the opened secret must not show it: {debug}"
    );
}

#[test]
fn open_string_rejects_non_utf8() {
    let cipher = cipher();
    let sealed = cipher.seal(&[0xff, 0xfe], &ROW_A);
    assert_eq!(
        cipher.open_string(&sealed, &ROW_A).map(|_| ()),
        Err(CryptoError::NotUtf8),
        "binary plaintext is not text"
    );
}

#[test]
fn a_flipped_bit_anywhere_after_the_version_fails() {
    let cipher = cipher();
    let sealed = cipher.seal(b"secret value", &ROW_A);
    let regions = [
        ("nonce", 1),
        ("nonce end", HEADER_LEN - 1),
        ("ciphertext", HEADER_LEN),
        ("ciphertext end", sealed.len() - TAG_LEN - 1),
        ("tag", sealed.len() - TAG_LEN),
        ("tag end", sealed.len() - 1),
    ];
    for (region, index) in regions {
        for bit in [0, 7] {
            let mut tampered = sealed.clone();
            tampered[index] ^= 1 << bit;
            assert_eq!(
                cipher.open(&tampered, &ROW_A).map(|_| ()),
                Err(CryptoError::Decrypt),
                "a flipped bit {bit} in the {region} (byte {index}) must be detected"
            );
        }
    }
}

#[test]
fn wrong_key_fails() {
    let sealed = cipher().seal(b"secret value", &ROW_A);
    assert_eq!(
        cipher().open(&sealed, &ROW_A).map(|_| ()),
        Err(CryptoError::Decrypt),
        "another key must not open the value"
    );
}

#[test]
fn a_value_moved_to_another_row_column_or_table_fails() {
    let cipher = cipher();
    let sealed = cipher.seal(b"secret value", &ROW_A);
    let elsewhere = [
        (
            "row",
            Aad {
                row_id: "row-b",
                ..ROW_A
            },
        ),
        (
            "column",
            Aad {
                column: "refresh_token",
                ..ROW_A
            },
        ),
        (
            "table",
            Aad {
                table: "connection",
                ..ROW_A
            },
        ),
    ];
    for (what, aad) in elsewhere {
        assert_eq!(
            cipher.open(&sealed, &aad).map(|_| ()),
            Err(CryptoError::Decrypt),
            "a value sealed for another {what} must not open"
        );
    }
}

#[test]
fn aad_fields_cannot_be_shifted_across_boundaries() {
    let cipher = cipher();
    let sealed = cipher.seal(
        b"v",
        &Aad {
            table: "ab",
            column: "c",
            row_id: "1",
        },
    );
    let shifted = Aad {
        table: "a",
        column: "bc",
        row_id: "1",
    };
    assert_ne!(
        shifted.encode(VERSION_V1),
        Aad {
            table: "ab",
            column: "c",
            row_id: "1"
        }
        .encode(VERSION_V1),
        "length prefixes keep field boundaries"
    );
    assert_eq!(
        cipher.open(&sealed, &shifted).map(|_| ()),
        Err(CryptoError::Decrypt),
        "moving a character between fields changes the AAD"
    );
}

#[test]
fn unknown_version_is_reported() {
    let cipher = cipher();
    let mut sealed = cipher.seal(b"secret value", &ROW_A);
    for version in [0x00, 0x02, 0xff] {
        sealed[0] = version;
        assert_eq!(
            cipher.open(&sealed, &ROW_A).map(|_| ()),
            Err(CryptoError::UnknownVersion(version)),
            "version {version:#04x} is not one this build reads"
        );
    }
}

#[test]
fn truncated_input_is_reported() {
    let cipher = cipher();
    let sealed = cipher.seal(b"", &ROW_A);
    assert_eq!(
        sealed.len(),
        HEADER_LEN + TAG_LEN,
        "an empty plaintext gives the shortest envelope"
    );
    for len in 0..sealed.len() {
        assert_eq!(
            cipher.open(&sealed[..len], &ROW_A).map(|_| ()),
            Err(CryptoError::Truncated { len }),
            "{len} bytes cannot hold version, nonce and tag"
        );
    }
    let full = cipher.seal(b"secret value", &ROW_A);
    assert_eq!(
        cipher.open(&full[..full.len() - 1], &ROW_A).map(|_| ()),
        Err(CryptoError::Decrypt),
        "a value missing its last byte must not open"
    );
}

#[test]
fn each_seal_uses_a_fresh_nonce() {
    let cipher = cipher();
    let first = cipher.seal(b"same plaintext", &ROW_A);
    let second = cipher.seal(b"same plaintext", &ROW_A);
    assert_ne!(
        first[1..HEADER_LEN],
        second[1..HEADER_LEN],
        "two seals must not share a nonce"
    );
    assert_ne!(
        first, second,
        "equal plaintexts must not give equal envelopes"
    );
}

#[test]
fn key_check_detects_a_different_key() {
    let key = DataKey::generate();
    let check = Cipher::new(&key).key_check();
    assert_eq!(
        Cipher::new(&key).verify_key_check(&check),
        Ok(()),
        "the same key passes its own check"
    );
    assert_eq!(
        cipher().verify_key_check(&check),
        Err(CryptoError::Decrypt),
        "a regenerated key must be detected"
    );
    let not_a_check = Cipher::new(&key).seal(
        KEY_CHECK_MARKER,
        &Aad {
            row_id: "other",
            ..KEY_CHECK_AAD
        },
    );
    assert!(
        Cipher::new(&key).verify_key_check(&not_a_check).is_err(),
        "the marker only counts under the key-check AAD"
    );
}

#[test]
fn data_key_debug_is_redacted() {
    let key = DataKey::from_bytes([0xab; DataKey::LEN]);
    assert_eq!(
        format!("{key:?}"),
        "DataKey([REDACTED])",
        "Debug must not print key bytes"
    );
    assert_ne!(
        DataKey::generate().expose_bytes(),
        DataKey::generate().expose_bytes(),
        "generated keys are random"
    );
}
