//! Integration tests of onelive-platform: URL parsing, every adapter
//! against a local server replaying fixtures, the registry, the HTTP
//! client, and the streamlink fallback.

mod common;

mod bilibili;
mod douyu;
mod errors;
mod fields;
mod generic;
mod http_client;
mod huya;
mod kick;
mod registry;
mod shape;
mod soop;
mod streamlink;
mod twitch;
mod url_parsing;
