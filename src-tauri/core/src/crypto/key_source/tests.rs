use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::io::Read;

use rand::RngCore;
use rand::rngs::OsRng;

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
    let data_dir = PathBuf::from(std::env::var_os("GATEHOUSE_TEST_DATA_DIR").unwrap_or_default());
    anyhow::ensure!(data_dir.is_absolute(), "the parent passes a data dir");
    let (key, info) = load_data_key(&data_dir, KeyBackend::Auto)?;
    assert_eq!(
        info.kind,
        KeySourceKind::KeyFile,
        "without a keyring the key is in a file"
    );
    assert!(
        info.detail.contains("no OS keyring answered") && info.detail.contains("Secret Service"),
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
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
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

    let data_dir = PathBuf::from(std::env::var_os("GATEHOUSE_TEST_DATA_DIR").unwrap_or_default());
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
        !data_dir.join(KEY_FILE_NAME).exists() && data_dir.join(KEYRING_MARKER_FILE_NAME).exists(),
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
