//! The test world of Gatehouse, shared by `gatehouse-core`'s integration tests and the black-box
//! tests in `gatehouse-e2e`: fakes are real servers on real sockets, never mocked traits.
//!
//! - [`world`]: one builder for Gatehouse itself, a store on a temporary directory with its
//!   connections and a registered client, and the real gateway on `127.0.0.1:0` in front of them.
//! - [`connections`], [`clients`], [`tokens`]: the rows the world writes through the store's own
//!   functions (a header, OAuth or open connection, a client registration, an active grant and its
//!   access token), for tests that write more of them.
//! - [`upstream`]: fake upstream MCP servers and authorization servers, axum on `127.0.0.1:0`, that
//!   record what reaches them.
//! - [`proxy`], [`eras`], [`signin`]: the worlds the proxy, protocol-era and upstream sign-in tests
//!   run in (the world with its fake upstream, and the requests those tests make).
//! - [`browser`]: what a browser and `$BROWSER` do with Gatehouse's pages; [`logs`]: every log line
//!   of a test binary, to look for secrets in.

pub mod browser;
pub mod clients;
pub mod connections;
pub mod eras;
pub mod logs;
pub mod proxy;
pub mod signin;
pub mod tokens;
pub mod upstream;
pub mod world;

pub use world::{World, WorldBuilder};
