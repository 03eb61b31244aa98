//! Integration tests of onelive-sink (loopback only).

mod actions;
mod chains;
mod common;
mod confinement;
mod durability;
mod hardening;
mod pixeldrain;
mod receiving;
