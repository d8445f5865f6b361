//! Keeps `ui/src/api/bindings/` equal to what ts-rs generates from the DTOs listed in
//! [`super::ipc_types`], and `ipc.ts` equal to the command and event maps of
//! [`super::ipc_surface`]. Run `cargo xtask bindings` (which sets `GATEHOUSE_UPDATE_BINDINGS=1`)
//! after changing a DTO.

use std::path::PathBuf;

use ts_rs::{Config, TS};

use super::ipc_types::with_ipc_types;

fn generated() -> Vec<(String, String)> {
    let cfg = Config::new();
    let mut files = Vec::new();
    macro_rules! add {
        ($($ty:ty),* $(,)?) => {$(
            files.push((
                format!("{}.ts", <$ty as TS>::name(&cfg)),
                <$ty as TS>::export_to_string(&cfg).unwrap_or_else(|e| panic!("ts-rs export failed: {e}")),
            ));
        )*};
    }
    with_ipc_types!(add);
    files.push((
        "ipc.ts".to_owned(),
        super::ipc_surface::typescript(&super::ipc_type_names()),
    ));
    files
}

fn bindings_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/api/bindings")
}

#[test]
fn checked_in_typescript_bindings_are_current() {
    let dir = bindings_dir();
    let update = std::env::var("GATEHOUSE_UPDATE_BINDINGS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (file, content) in generated() {
        let path = dir.join(&file);
        if update {
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {dir:?}: {e}"));
            std::fs::write(&path, &content).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "TypeScript bindings are stale or missing: {stale:?}; run `cargo xtask bindings` and commit the result"
    );
}
