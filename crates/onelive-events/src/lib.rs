//! Typed webhook events of onelive, wire-compatible with OneLiveRec.
//!
//! A live recorder tells the world what happens (a channel goes live, a
//! recording file is finished, a file is transmuxed) by POSTing JSON events
//! to webhooks. This crate is that contract: the envelope [`Event`]
//! (`{"id", "ts", "type", "data"}`), the [`EventData`] of every event type,
//! [`LiveInfo`], and [`EventType`] names for filters.
//!
//! It has no HTTP or async dependencies: use it in any receiver.
//!
//! # Parse an incoming webhook body
//!
//! ```
//! use onelive_events::{Event, EventData};
//!
//! let body = br#"{"id":"398ea849-7c4b-45c4-bd2f-093df217266c",
//!   "ts":"2026-03-11T05:22:38.393477700Z","type":"video_transmux_finish",
//!   "data":{"platform":"bilibili","channel":"21452505",
//!           "input":"rec/a.ts","output":"rec/a.mp4"}}"#;
//! let event = Event::from_json(body)?;
//! if let EventData::VideoTransmuxFinish(d) = &event.data {
//!     assert_eq!(d.output, "rec/a.mp4");
//! }
//! // Serializing gives the same bytes back for `id` and `ts`.
//! assert!(event.to_json().contains("2026-03-11T05:22:38.393477700Z"));
//! # Ok::<(), onelive_events::Error>(())
//! ```
//!
//! # Compatibility rules
//!
//! - `data` is always a JSON object (`{}` for `app_launch`/`app_exit`).
//! - Every channel event's `data` carries `platform` and `channel`.
//! - `filesize` is a JSON integer of bytes, `duration` a JSON number of seconds.
//! - `session_id` and `live_info` on file events are onelive extensions;
//!   receivers must ignore keys they do not know, and so does this crate.
//! - Unknown event types parse into [`EventData::Unknown`] and serialize
//!   back unchanged.
#![deny(missing_docs)]

mod data;
mod error;
mod event;
mod live_info;
mod stream_kind;
mod timestamp;

pub use data::{
    ErrorData, EventData, EventType, LiveData, LiveInfoChangeData, TestData, VideoFileCreateData,
    VideoFileFinishData, VideoTransmuxFinishData,
};
pub use error::Error;
pub use event::Event;
pub use live_info::{LiveInfo, LiveStatus};
pub use stream_kind::StreamKind;

/// Re-exported so that callers can build timestamps without naming `time`.
pub use time::OffsetDateTime;
/// Re-exported so that callers can build ids without naming `uuid`.
pub use uuid::Uuid;
