//! `gatehouse-core`: everything of Gatehouse that is not the window.
//!
//! The Tauri shell (`src-tauri/app`) and the headless `gatehoused` binary both drive the same
//! [`gateway`](crate::gateway) over the same [`vault::Vault`] (store + data key); nothing here depends on tauri or GTK.

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
