//! The 0600 key file: created private, tightened when others can read it, read when written by
//! hand, and never replaced when broken.

use super::*;

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
