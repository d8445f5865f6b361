//! `gatehouse-core`: everything of Gatehouse that is not the window.
//!
//! The Tauri shell (`src-tauri/app`) and the headless `gatehoused` binary both drive the same
//! [`gateway`] and the same store; nothing here depends on tauri or GTK.

pub mod clock;
pub mod crypto;
pub mod store;
