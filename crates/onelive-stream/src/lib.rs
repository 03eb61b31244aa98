//! Pure live-stream parsing and repair for recorders. No I/O: bytes go in,
//! tags, parts and segment lists come out, so everything is testable and
//! embeddable.
//!
//! - [`flv::FlvReader`]: an incremental FLV tag reader (feed bytes as they
//!   arrive from the network, take complete tags out).
//! - [`flv::FlvRepairer`]: the repair rules applied to the tag stream:
//!   timestamps rebased so each part starts at 0 and never jumps backwards
//!   or forwards by more than a threshold; tags replayed after a reconnect
//!   dropped; the latest AVC/HEVC/AAC sequence headers kept, and a new part
//!   started when they change; part splits by duration or size at a video
//!   keyframe, with nothing lost or duplicated between parts.
//! - [`flv::FlvPartWriter`]: the bytes of one output file, with an
//!   `onMetaData` (duration, file size, keyframe index) reserved at the start
//!   and filled in when the part closes, so files are seekable.
//! - [`hls::PlaylistTracker`]: follows a live HLS media playlist (media
//!   sequence, discontinuities, playlist resets, `EXT-X-MAP`, encryption) and
//!   says which segments are new.
//! - [`fmp4::Fmp4Span`]: the media duration of fMP4 fragments (HLS
//!   `EXT-X-MAP` streams), their decode times rebased so a part starts at 0.
//! - [`ts::TsSpan`]: the media duration of MPEG-TS bytes from their PES
//!   timestamps (no ffprobe run needed).
//!
//! ```
//! use onelive_stream::flv::{FlvReader, FlvRepairer, Output, RepairConfig};
//!
//! let mut reader = FlvReader::new();
//! let mut repairer = FlvRepairer::new(RepairConfig::default());
//! let mut out = Vec::new();
//! reader.push(b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00");
//! while let Some(item) = reader.next_item()? {
//!     repairer.push(item, &mut out);
//! }
//! assert!(out.iter().all(|o| !matches!(o, Output::NewPart { .. })));
//! # Ok::<(), onelive_stream::StreamError>(())
//! ```
#![deny(missing_docs)]

mod error;
pub mod flv;
pub mod fmp4;
pub mod hls;
pub mod ts;

pub use error::StreamError;
