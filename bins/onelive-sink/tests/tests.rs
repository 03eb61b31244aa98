//! Real-process tests of the `onelive-sink` binary (loopback only).

mod common;
mod ops;
mod process;
