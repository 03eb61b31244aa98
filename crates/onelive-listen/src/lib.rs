//! Server and process hygiene shared by onelive's programs.
//!
//! - [`serve`] (feature `server`, on by default): an HTTP/1 accept loop for
//!   an axum `Router` with what `axum::serve` lacks against slow and hostile
//!   clients: a connection limit (global and per client address), a
//!   header-read timeout that also bounds idle kept-alive connections, a
//!   request-head size limit, and JSON bodies on the error answers hyper
//!   writes itself (400, 408, 431).
//! - [`die_with_parent`]: a child process gets SIGKILL when its parent dies,
//!   by any signal.
//!
//! hyper's server has every piece (`header_read_timeout`,
//! `max_header_size`); what no crate does is the accept loop around it with
//! limits, so it is written here once.
#![deny(missing_docs)]

mod child;
#[cfg(feature = "server")]
mod server;

pub use child::die_with_parent;
#[cfg(feature = "server")]
pub use server::{Limits, serve};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A limit cannot be enforced (zero connections, for example).
    #[error("invalid server limits: {0}")]
    InvalidLimits(String),
}
