//! `gatehoused settings`: what the window's Settings does not show. Today that is the URL of
//! Gatehouse's OAuth client metadata document (`oauth::upstream::registration`), and the document
//! to publish there. Everything goes through `admin`.

use std::io::Write as _;
use std::path::Path;

use clap::Subcommand;

use super::CliError;
use super::admin::emit;
use crate::{admin, config};

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show the client metadata document URL (unset: Gatehouse registers dynamically)
    Show,
    /// Save the https URL where Gatehouse's client metadata document is published; authorization
    /// servers that support Client ID Metadata Documents then know Gatehouse by it
    ClientMetadataUrl {
        #[arg(value_name = "URL", required_unless_present = "clear")]
        url: Option<String>,
        /// Remove the URL (register dynamically again)
        #[arg(long, conflicts_with = "url")]
        clear: bool,
    },
    /// Print the client metadata document to publish at URL (default: the saved URL)
    ClientMetadataDocument {
        #[arg(value_name = "URL")]
        url: Option<String>,
        /// The gateway's port, for the loopback callback (default as for `serve`)
        #[arg(long)]
        port: Option<u16>,
    },
}

pub fn settings(data_dir: &Path, command: &SettingsCommand, json: bool) -> Result<(), CliError> {
    match command {
        SettingsCommand::Show => {
            let url = admin::client_metadata_url(data_dir)?;
            let value = serde_json::json!({ "client_metadata_url": url });
            emit(json, &value, |out| match &url {
                Some(url) => writeln!(out, "client metadata document URL: {url}"),
                None => writeln!(
                    out,
                    "client metadata document URL: (none; Gatehouse registers dynamically)"
                ),
            })
        }
        SettingsCommand::ClientMetadataUrl { url, clear } => {
            let saved = admin::set_client_metadata_url(
                data_dir,
                if *clear { None } else { url.as_deref() },
            )?;
            let value = serde_json::json!({ "client_metadata_url": saved });
            emit(json, &value, |out| match &saved {
                Some(url) => writeln!(
                    out,
                    "saved {url}; publish `gatehoused settings client-metadata-document` there"
                ),
                None => writeln!(out, "removed; Gatehouse registers dynamically"),
            })
        }
        SettingsCommand::ClientMetadataDocument { url, port } => {
            let url = match url {
                Some(url) => url.clone(),
                None => admin::client_metadata_url(data_dir)?.ok_or_else(|| {
                    CliError::Usage(
                        "no URL given and none saved (gatehoused settings client-metadata-url URL)"
                            .into(),
                    )
                })?,
            };
            let document = admin::client_metadata_document(&url, config::resolve_port(*port)?)?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &document).map_err(std::io::Error::from)?;
            writeln!(out)?;
            Ok(())
        }
    }
}
