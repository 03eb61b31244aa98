//! Integration tests of the recorder: real ffmpeg against a synthetic live
//! origin on loopback.

mod common;
mod fallback;
mod fmp4;
mod native;
mod record;
mod single_use;
