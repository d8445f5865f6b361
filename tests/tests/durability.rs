//! Nothing lost: SIGKILL `gatehoused` in the middle of a stream of committed writes, then prove on
//! restart that every write it reported as committed is there and the database is intact
//! (synchronous=FULL in WAL mode).

use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn sigkill_during_writes_loses_no_committed_row() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut child = gatehouse_e2e::gatehoused(dir.path())
        .arg("write-load")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start gatehoused write-load: {e}"));
    let stdout = child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("stdout not piped"));
    let mut committed: Vec<i64> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_else(|e| panic!("reading write-load output: {e}"));
        let id = line
            .strip_prefix("committed ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        committed.push(id);
        if committed.len() == 300 {
            // SIGKILL: no destructor, no flush, no checkpoint.
            child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
            break;
        }
    }
    let status = child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(
        !status.success(),
        "the writer must have died from the kill, not finished"
    );
    assert_eq!(
        committed.len(),
        300,
        "the writer must have reported 300 commits before the kill"
    );

    let db = rusqlite::Connection::open(dir.path().join("gatehouse.sqlite3"))
        .unwrap_or_else(|e| panic!("reopen after kill: {e}"));
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("integrity_check: {e}"));
    assert_eq!(integrity, "ok", "the database must be intact after SIGKILL");
    let mut missing = Vec::new();
    for id in &committed {
        let found: i64 = db
            .query_row(
                "SELECT count(*) FROM audit_events WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("lookup {id}: {e}"));
        if found != 1 {
            missing.push(*id);
        }
    }
    assert!(
        missing.is_empty(),
        "committed rows lost after SIGKILL: {missing:?}"
    );

    // And the gateway opens the same store again.
    let gateway = gatehouse_e2e::Gatehoused::serve(dir.path());
    assert!(
        gateway.base_url.starts_with("http://127.0.0.1:"),
        "gatehoused must start on the killed store"
    );
}
