//! Where the data key comes from: the key file, the auto policy between the OS keyring and a key
//! file, the other sources, and real processes with and without a session bus or a Secret Service.
//!
//! This module holds the stand-in keyrings and file helpers the tests share; the tests are in its
//! children.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::io::Read;

use rand::RngCore;
use rand::rngs::OsRng;

use super::*;

mod auto_policy;
mod backends;
mod key_file;
mod processes;

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
