//! Live chat ("danmaku") capture for live-stream recorders.
//!
//! - **Clients**: one [`ChatProtocol`] per platform — [`BilibiliChat`],
//!   [`DouyuChat`], [`TwitchChat`] — driven by [`ChatClient::spawn`], which
//!   owns the WebSocket, sends heartbeats, reconnects with a capped
//!   exponential backoff and buffers events in a bounded **drop-oldest**
//!   queue (drops are counted in [`ChatStats::dropped`]).
//! - **Files**: [`XmlChatWriter`] writes the XML that BililiveRecorder writes
//!   (`<i>` root, `<d p="…">`, `<gift>`, `<sc>`, `<guard>`), times relative
//!   to a part's first frame, valid XML even after a crash; optional JSON
//!   Lines. [`ChatRecorder`] drains a client into per-part files.
//! - **Push detection**: [`LiveSignals`] yields [`LiveSignal::Live`] /
//!   [`LiveSignal::Offline`] as the chat feed announces them.
//!
//! Huya, Douyin and TikTok chat are not implemented yet.
//!
//! ```no_run
//! use onelive_danmaku::*;
//! # async fn demo() -> Result<(), DanmakuError> {
//! let chat = BilibiliChat::new(21452505, BilibiliOptions::default())?;
//! let (client, events, mut signals) = ChatClient::spawn(chat, ClientOptions::default())?;
//! let recorder = ChatRecorder::spawn(events, XmlOptions::default())?;
//! let part_start = std::time::Instant::now();
//! recorder.start_part(std::path::Path::new("part1.xml"), part_start, &PartInfo::default())?;
//! if let Some(LiveSignal::Offline) = signals.recv().await { /* poll now */ }
//! let summary = recorder.finish_part()?;
//! client.stop().await;
//! # let _ = summary; Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod bilibili;
mod buffer;
mod client;
pub mod douyu;
mod error;
mod event;
mod json;
mod recorder;
pub mod twitch;
mod xml;

pub use bilibili::{BilibiliChat, BilibiliOptions};
pub use client::{
    ChatClient, ChatEvents, ChatProtocol, ChatStats, ClientOptions, Decoded, Endpoint, Frame,
    LiveSignals,
};
pub use douyu::{DouyuChat, DouyuOptions};
pub use error::DanmakuError;
pub use event::{
    ChatEvent, Comment, Gift, Guard, LiveSignal, Platform, Received, Sender, SuperChat,
};
pub use recorder::ChatRecorder;
pub use twitch::{TwitchChat, TwitchOptions};
pub use xml::{
    PartInfo, PartSummary, RepairOutcome, XmlChatWriter, XmlOptions, escape_into, repair,
    xml_path_for,
};
