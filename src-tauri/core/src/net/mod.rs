//! Network helpers shared by both OAuth roles.
//!
//! - [`outbound`]: the one way Gatehouse fetches a URL that someone else handed it (a client's CIMD
//!   URL in role 1; a `resource_metadata` URL, an authorization server or any of its endpoints in
//!   role 2).
//! - [`browser`]: opening the system browser on an authorization URL.
//! - [`caller`]: who is at the other end of a loopback connection (OS account, process).
//! - [`loopback`]: the gateway's own authority (`Host`, base URL) and loopback origins.

pub mod browser;
pub mod caller;
pub mod loopback;
pub mod outbound;
#[cfg(test)]
pub(crate) mod test_server;
