//! `gatehouse-core`: everything of Gatehouse that is not the window.
//!
//! The Tauri shell (`src-tauri/app`) and the headless `gatehoused` binary both drive the same
//! [`gateway`](crate::gateway) over the same [`vault::Vault`] (store + data key); nothing here
//! depends on tauri or GTK.
//!
//! # The map
//!
//! Imports point one way, down this list; each line may use the lines above it, never below
//! (`tests/architecture.rs` parses the `use crate::` paths and fails on an arrow pointing up):
//!
//! ```text
//! clock, config, net            time, where things live, the network at its edges
//!   store, crypto, logging,     SQLite rows and events; AES-GCM and hashes; log files;
//!   clients                     MCP clients' config files (pure file editing)
//!     settings, vault           saved settings; the store with its data key
//!       stdio, bridge           local stdio servers; the stdio bridge (a client of the gateway)
//!         oauth                 role 1 (authorization server) and role 2 (upstream sign-in)
//!           proxy               /mcp/<slug>: guard, forward, filter, era bridge
//!             gateway           the Runtime that owns the shared parts and composes the routes
//!               admin           the use cases: the one door of the shell and the command line
//!                 cli           `gatehoused`; the app (src-tauri/app) stands beside it
//! ```
//!
//! The handlers never import the gateway that composes them: [`gateway::Runtime`] builds the
//! upstream OAuth state and the stdio host once per process and hands each router its parts.

pub mod admin;
pub mod bridge;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod gateway;
pub mod logging;
pub mod net;
pub mod oauth;
pub mod proxy;
pub mod settings;
pub mod stdio;
pub mod store;
pub mod vault;
