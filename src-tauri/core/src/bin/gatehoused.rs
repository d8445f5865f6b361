//! `gatehoused`: see `gatehouse_core::cli`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = gatehouse_core::cli::Cli::parse();
    match gatehouse_core::cli::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gatehoused: error: {error}");
            ExitCode::FAILURE
        }
    }
}
