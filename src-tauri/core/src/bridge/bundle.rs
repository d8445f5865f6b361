//! The Claude Desktop extension bundle (`.mcpb`, MCPB manifest spec 0.3): a zip holding
//! `manifest.json` and this `gatehoused` binary under `server/`, whose `mcp_config` starts
//! `gatehoused bridge <connection>` with the connection's slug as the one setting the person fills
//! in when installing it. The bundle holds no secret: the bridge authorizes with the gateway on
//! first use, like any client.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};
use zip::write::SimpleFileOptions;

/// The manifest for a bundle of `binary_name` (`gatehoused` or `gatehoused.exe`).
pub fn manifest(binary_name: &str) -> Value {
    let platform = if cfg!(target_os = "macos") {
        "darwin"
    } else if cfg!(windows) {
        "win32"
    } else {
        "linux"
    };
    json!({
        "manifest_version": "0.3",
        "name": "gatehouse-bridge",
        "display_name": "Gatehouse",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Reach an MCP server through Gatehouse, the local gateway that holds its credentials and asks you before any client may use it.",
        "author": {"name": "Gatehouse"},
        "server": {
            "type": "binary",
            "entry_point": format!("server/{binary_name}"),
            "mcp_config": {
                "command": format!("${{__dirname}}/server/{binary_name}"),
                "args": ["bridge", "${user_config.connection}"],
            },
        },
        "user_config": {
            "connection": {
                "type": "string",
                "title": "Connection",
                "description": "The connection's slug in Gatehouse (its local URL ends in /mcp/<slug>)",
                "required": true,
            },
        },
        "compatibility": {"platforms": [platform]},
    })
}

/// Writes the bundle to `out`, with `binary` (this program) inside.
pub fn write(out: &Path, binary: &Path) -> std::io::Result<()> {
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("gatehoused")
        .to_owned();
    let program = std::fs::read(binary)?;
    let file = std::fs::File::create(out)?;
    let mut zip = zip::ZipWriter::new(file);
    let text = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("manifest.json", text.unix_permissions(0o644))
        .map_err(std::io::Error::other)?;
    let manifest = serde_json::to_vec_pretty(&manifest(&name)).map_err(std::io::Error::other)?;
    zip.write_all(&manifest)?;
    zip.start_file(format!("server/{name}"), text.unix_permissions(0o755))
        .map_err(std::io::Error::other)?;
    zip.write_all(&program)?;
    zip.finish().map_err(std::io::Error::other)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_holds_the_manifest_and_an_executable_program() {
        let dir = tempfile::tempdir().expect("temp dir");
        let program = dir.path().join("gatehoused");
        std::fs::write(&program, b"#!/bin/sh\n").expect("write");
        let out = dir.path().join("gatehouse.mcpb");
        write(&out, &program).expect("bundle");
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).expect("open")).expect("zip");
        let manifest: Value = {
            let entry = zip.by_name("manifest.json").expect("manifest");
            serde_json::from_reader(entry).expect("json")
        };
        assert_eq!(manifest["server"]["entry_point"], "server/gatehoused");
        assert_eq!(manifest["server"]["mcp_config"]["args"][0], "bridge");
        let server = zip.by_name("server/gatehoused").expect("program");
        assert_eq!(server.unix_mode().map(|m| m & 0o777), Some(0o755));
    }
}
