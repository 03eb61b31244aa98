//! Integration tests of onelive-listen.
mod child;
mod server;
