//! Real processes: this test binary re-run in a controlled environment (the backend named in the
//! environment, no session bus, a throwaway Secret Service).

use super::*;

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
