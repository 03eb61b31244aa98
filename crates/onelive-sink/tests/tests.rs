//! Integration tests of onelive-sink (loopback only).

mod actions;
mod chains;
mod common;
mod confinement;
mod durability;
mod example;
mod fanin;
mod hardening;
mod health;
mod merge;
mod notify;
mod pixeldrain;
mod rclone;
mod receiving;
mod s3;
