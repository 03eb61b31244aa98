//! A synthetic live channel on loopback, for tests and demos of live-stream
//! recorders.
//!
//! [`SyntheticOrigin::start`] runs ffmpeg to generate a live test picture
//! (`testsrc`) with a sine tone, encodes it in real time (`-re`) and serves it
//! on `127.0.0.1` over HTTP in two forms:
//!
//! - **HLS** ([`SyntheticOrigin::hls_url`]): a rolling media playlist of short
//!   MPEG-TS segments (old segments are deleted, as on a real live origin);
//! - **HTTP-FLV** ([`SyntheticOrigin::flv_url`]): one ffmpeg per client,
//!   streamed as a chunked response.
//!
//! To simulate a failing origin, [`SyntheticOrigin::freeze`] keeps every
//! connection open but stops answering (a stalled CDN), and
//! [`SyntheticOrigin::stop`] kills the generator, ends every stream and closes
//! the port (a dead origin). [`SyntheticOrigin::restart`] brings it back on
//! the same address.
//!
//! [`BrokenFlvOrigin`] serves a scripted HTTP-FLV stream that misbehaves
//! like the CDNs do (timestamp jumps and resets, a broken connection whose
//! reconnect replays tags, a mid-stream resolution change), for testing
//! stream repair, and [`BrokenHlsOrigin`] a live HLS playlist with a 404
//! segment, a media-sequence jump and a discontinuity.
//!
//! [`SyntheticDanmaku`] is a Bilibili-style live chat server (HTTP
//! `getDanmuInfo` and the danmaku WebSocket) with a steady synthetic feed.
//!
//! Every ffmpeg child is killed when the origin is dropped. Nothing here
//! panics; failures are [`SyntheticError`]s.
//!
//! ```no_run
//! use onelive_synthetic::{SyntheticOptions, SyntheticOrigin};
//!
//! # async fn demo() -> Result<(), onelive_synthetic::SyntheticError> {
//! let origin = SyntheticOrigin::start(SyntheticOptions::default()).await?;
//! println!("record me: {}", origin.hls_url());
//! println!("or me:     {}", origin.flv_url());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod broken;
mod broken_hls;
mod danmaku;
mod origin;
mod server;

pub use broken::{BrokenFlvOptions, BrokenFlvOrigin};
pub use broken_hls::{BrokenHlsOptions, BrokenHlsOrigin};
pub use danmaku::{SyntheticDanmaku, SyntheticDanmakuOptions};
pub use origin::{OriginState, SyntheticError, SyntheticOptions, SyntheticOrigin};
