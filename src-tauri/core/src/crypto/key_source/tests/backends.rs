//! The backends by name, the fixed key of tests, a keyring call that hangs, and what the UI is told
//! about the source.

use super::*;

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
