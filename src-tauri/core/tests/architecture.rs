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
    // A module's test folder (`store/tests/…`, `oauth/server/endpoint_tests/…`) holds tests too.
    let in_test_folder = path
        .components()
        .skip_while(|c| c.as_os_str() != "src")
        .filter_map(|c| c.as_os_str().to_str())
        .any(|c| c == "tests" || c.ends_with("_tests"));
    in_test_folder
        || name == "tests.rs"
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

#[test]
fn test_files_and_test_folders_are_told_from_product_code() {
    for test in [
        "core/src/store/tests.rs",
        "core/src/store/tests/grants.rs",
        "core/src/oauth/server/endpoint_tests.rs",
        "core/src/oauth/server/endpoint_tests/mod.rs",
        "core/src/oauth/server/authorize_tests/in_the_gateway.rs",
    ] {
        assert!(is_test_file(Path::new(test)), "{test} holds tests");
    }
    for product in [
        "core/src/oauth/server/endpoint.rs",
        "core/src/proxy/bridge/to_legacy.rs",
        "core/src/testing.rs",
    ] {
        assert!(
            !is_test_file(Path::new(product)),
            "{product} is product code"
        );
    }
}

/// Whether a line cites a document that lives outside the repository: the protocol checklist, the
/// product brief or the coding conventions, which a reader of the repository cannot open.
fn cites_a_document_outside_the_repository(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("checklist")
        || lower.contains("product.md")
        || lower.contains("conventions.md")
        || lower
            .match_indices("conventions ")
            .any(|(at, word)| lower[at + word.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["rs", "ts", "tsx", "mjs", "js", "css", "html", "md"].contains(&e))
        {
            out.push(path);
        }
    }
}

/// Code, tests and the UI speak the domain: a rule is named by the RFC or MCP section it rests on,
/// or stated in words, never by the number it has in a document outside the repository.
#[test]
fn no_references_to_documents_outside_the_repository() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    let roots = [
        core.join("src"),
        core.join("tests"),
        core.join("../testkit/src"),
        core.join("../app/src"),
        core.join("../../tests/tests"),
        core.join("../../ui/src"),
    ];
    // This file names the documents it looks for.
    let skipped = [core.join("tests/architecture.rs")];
    let mut files = Vec::new();
    for root in &roots {
        source_files(root, &mut files);
    }
    files.retain(|file| !skipped.iter().any(|s| file.starts_with(s)));
    files.sort();
    assert!(files.len() > 100, "the sources were found: {}", files.len());
    let mut hits = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            if cites_a_document_outside_the_repository(line) {
                hits.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "references to documents that are not in the repository (name the RFC or MCP section, or \
         state the rule):\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_document_reference_check_knows_the_forms_and_lets_rfc_sections_pass() {
    for cited in [
        "// Binds 127.0.0.1 only (checklist §3.1).",
        "//! Step-up (mcp-auth-checklist §4.7)",
        "/// (product.md §7: a million tokens)",
        "// see conventions.md item 3",
        "// fakes are real servers (conventions 5)",
        "\"Checklist 39\"",
    ] {
        assert!(
            cites_a_document_outside_the_repository(cited),
            "{cited} cites a document outside the repository"
        );
    }
    for plain in [
        "// RFC 9728 §3.3: the resource is the URL the client called.",
        "// MCP 2025-11-25 basic/transports §Security Warning",
        "//! Conventions in the schema:",
        "// the product of two conventions",
    ] {
        assert!(
            !cites_a_document_outside_the_repository(plain),
            "{plain} cites nothing outside the repository"
        );
    }
}

/// A command's name, its arguments (name, Rust type without spaces) and its answer's type.
type Signature = (String, Vec<(String, String)>, String);

/// The app's commands (`src-tauri/app/src/commands.rs`, registered in `lib.rs`) are exactly the
/// IPC surface declared in `admin::ipc_surface`, from which the window's TypeScript is generated:
/// the same names, the same arguments (Tauri's own `State` and `AppHandle` aside) with
/// the same types, same answers.
#[test]
fn the_apps_commands_are_the_declared_ipc_surface() {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src");
    let source = std::fs::read_to_string(app.join("commands.rs")).unwrap_or_default();
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let mut found = Vec::new();
    let mut rest = source.as_str();
    while let Some(at) = rest.find("#[tauri::command]") {
        rest = &rest[at + "#[tauri::command]".len()..];
        let Some(fn_at) = rest.find("fn ") else { break };
        let after = &rest[fn_at + 3..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let open = after.find('(').unwrap_or(0);
        let close = after.find(") ->").unwrap_or(open);
        let args: Vec<(String, String)> = after[open + 1..close]
            .split(',')
            .filter_map(|arg| arg.split_once(':'))
            .map(|(n, t)| (n.trim().to_owned(), squash(t)))
            .filter(|(_, t)| !t.starts_with("Slot<") && t != "AppHandle")
            .collect();
        let body = after.find('{').unwrap_or(after.len());
        let ret = squash(&after[close + 4..body]);
        let ret = ret
            .strip_prefix("Result<")
            .and_then(|r| r.strip_suffix(",IpcError>"))
            .map_or(ret.clone(), str::to_owned);
        found.push((name, args, ret));
    }
    let declared: Vec<Signature> = gatehouse_core::admin::ipc_commands()
        .into_iter()
        .map(|c| {
            (
                c.name.to_owned(),
                c.args
                    .iter()
                    .map(|a| (a.name.to_owned(), squash(a.ty.rust)))
                    .collect(),
                squash(c.returns.rust),
            )
        })
        .collect();
    assert!(found.len() > 20, "the app's commands were read: {found:?}");
    let mut declared_sorted = declared.clone();
    declared_sorted.sort();
    found.sort();
    assert_eq!(
        found, declared_sorted,
        "commands.rs and admin::ipc_surface disagree"
    );

    let lib = std::fs::read_to_string(app.join("lib.rs")).unwrap_or_default();
    let registered: Vec<String> = lib
        .split("generate_handler![")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().trim_start_matches("commands::").to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let mut registered = registered;
    registered.sort();
    let mut names: Vec<String> = declared.iter().map(|(n, _, _)| n.clone()).collect();
    names.sort();
    assert_eq!(
        registered, names,
        "generate_handler! registers every declared command"
    );

    let events = std::fs::read_to_string(app.join("events.rs")).unwrap_or_default();
    assert!(
        !events.contains("\"gatehouse://"),
        "the app names its events through admin::ipc_surface, not by literal"
    );
}
