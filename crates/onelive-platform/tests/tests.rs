//! Integration tests of onelive-platform: URL parsing, every adapter
//! against a local server replaying fixtures, the registry, the HTTP
//! client, and the streamlink fallback.

mod common;

mod bilibili;
mod twitch;
mod huya;
mod douyu;
mod soop;
mod kick;
mod generic;
