//! The test world of Gatehouse, shared by `gatehouse-core`'s integration tests and the black-box
//! tests in `gatehouse-e2e`: fakes are real servers on real sockets, never mocked traits.
//!
//! - [`world`]: one builder for Gatehouse itself, a store on a temporary directory with its
//!   connections and a registered client, and the real gateway on `127.0.0.1:0` in front of them.
//! - [`connections`], [`clients`], [`tokens`]: the rows the world writes through the store's own
//!   functions (a header or OAuth connection, a client registration, an active grant and its access
//!   token), for tests that write more of them.
//! - [`upstream`]: fake upstream MCP servers, axum on `127.0.0.1:0`, that record what reaches them.
//! - [`proxy`], [`eras`]: the worlds the proxy and protocol-era tests run in (the world with its
//!   fake upstream, and the requests those tests make).

pub mod clients;
pub mod connections;
pub mod eras;
pub mod proxy;
pub mod tokens;
pub mod upstream;
pub mod world;

pub use world::{World, WorldBuilder};
