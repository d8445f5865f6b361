//! The app's auto policy: the OS keyring first, a key file where no keyring answers, and no
//! fallback once the keyring holds the key; the explicit file backend never asks the keyring.

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
