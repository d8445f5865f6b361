//! The house's map, checked: the modules of `gatehouse-core` import one way, from the layers that
//! compose down to the layers they compose, and the shell and the command line come in through
//! `admin` (the crate doc of `gatehouse-core` draws the same map).
//!
//! Read from the source: every `crate::<module>` (and `gatehouse_core::<module>` in the shell) in
//! product code, comments and test code left out. A module may import only modules of lower
//! layers; a cycle, or a handler importing the gateway that composes it, fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first. A module may use modules of lower layers only.
const LAYERS: &[&[&str]] = &[
    &["clock", "config", "net"],
    &["store", "crypto", "logging", "clients"],
    &["settings", "vault"],
    &["stdio", "bridge"],
    &["oauth"],
    &["proxy"],
    &["gateway"],
    &["admin"],
    &["cli"],
];

/// What the shell (`src-tauri/app`) and the command line (`cli`) may use: admin, the gateway they
/// serve, the bridge they run, and the process set-up.
const DOOR: &[&str] = &[
    "admin", "gateway", "bridge", "config", "logging", "clock", "crypto", "vault",
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether a file holds only tests (a module's `tests.rs`, `*_tests.rs`, test helpers).
fn is_test_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || name == "test_support.rs"
        || name == "test_server.rs"
}

/// The product code of a file: comments dropped, and everything from its test module on.
fn product_code(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// The top-level modules named after `prefix` (`crate::` or `gatehouse_core::`), including the
/// grouped form `prefix{a, b::c}`.
fn modules_used(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    used.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                used.insert(name);
            }
        }
    }
    used
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `(file, module it is in, modules it uses)` for every product file under `dir`.
fn imports(dir: &Path, prefix: &str) -> Vec<(PathBuf, String, BTreeSet<String>)> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|f| !is_test_file(f))
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let relative = file.strip_prefix(dir).unwrap_or(&file).to_owned();
            let top = relative
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .unwrap_or_default()
                .trim_end_matches(".rs")
                .to_owned();
            let used = modules_used(&product_code(&text), prefix);
            (relative, top, used)
        })
        .collect()
}

#[test]
fn every_module_imports_only_lower_layers() {
    let mut unknown = BTreeSet::new();
    let mut upward = Vec::new();
    for (file, top, used) in imports(&src(), "crate::") {
        if top == "lib" || top == "bin" {
            continue;
        }
        let Some(own) = layer_of(&top) else {
            unknown.insert(top);
            continue;
        };
        for module in used.iter().filter(|m| **m != top) {
            match layer_of(module) {
                Some(theirs) if theirs < own => {}
                Some(_) => upward.push(format!("{} ({top}) uses {module}", file.display())),
                None => {
                    unknown.insert(module.clone());
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from the map (add them to LAYERS and to lib.rs's doc): {unknown:?}"
    );
    assert!(
        upward.is_empty(),
        "imports that point up or sideways:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_shell_and_the_command_line_come_in_through_admin() {
    let mut outside = Vec::new();
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src");
    let mut checked = 0;
    for (file, _, used) in imports(&app, "gatehouse_core::") {
        checked += 1;
        for module in used.iter().filter(|m| !DOOR.contains(&m.as_str())) {
            outside.push(format!("app/src/{} uses {module}", file.display()));
        }
    }
    for (file, top, used) in imports(&src(), "crate::") {
        if top != "cli" {
            continue;
        }
        checked += 1;
        for module in used
            .iter()
            .filter(|m| !DOOR.contains(&m.as_str()) && *m != "cli")
        {
            outside.push(format!("{} uses {module}", file.display()));
        }
    }
    assert!(checked > 10, "the shell's and the CLI's files were found");
    assert!(
        outside.is_empty(),
        "past admin (name the type in admin's door instead):\n{}",
        outside.join("\n")
    );
}

#[test]
fn the_reader_finds_plain_and_grouped_paths_and_skips_comments_and_tests() {
    let code = product_code(
        "use crate::store::Store;\n// crate::gateway in a comment\nuse crate::{admin, config::X};\nfn f() { crate::net::open(); }\n#[cfg(test)]\nmod tests {\n    use crate::proxy;\n}\n",
    );
    assert_eq!(
        modules_used(&code, "crate::"),
        ["admin", "config", "net", "store"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}
