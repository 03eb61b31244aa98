//! Integration tests of onelive-sink (loopback only).

mod actions;
mod common;
mod confinement;
mod durability;
mod hardening;
mod pixeldrain;
mod receiving;
