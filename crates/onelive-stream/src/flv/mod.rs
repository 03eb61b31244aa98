//! FLV: tags, an incremental reader, the repair rules and the part writer.
//!
//! The tag format is small and fixed (an 11-byte header, the payload, a
//! 4-byte back pointer), and a recorder needs an incremental, zero-copy
//! reader that hands back the original tag bytes, keeps going past
//! broken back pointers, and classifies sequence headers and keyframes of
//! AVC, HEVC (codec id 12, as sent by Chinese CDNs) and enhanced-RTMP
//! FourCC video. The FLV crates on crates.io either parse whole files,
//! allocate per field, or do not know codec id 12, so this module reads
//! tags itself.

mod amf;
mod reader;
mod repair;
mod writer;

pub use reader::{FlvReader, Item};
pub use repair::{FlvRepairer, Output, RepairConfig, RepairStats, SplitReason};
pub use writer::{FlvPartWriter, PartSummary};

use bytes::Bytes;

/// The FLV file header flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvHeader {
    /// The audio flag.
    pub has_audio: bool,
    /// The video flag.
    pub has_video: bool,
}

impl FlvHeader {
    /// The 9-byte header followed by the first back pointer (0): 13 bytes.
    pub fn to_bytes(self) -> [u8; 13] {
        let flags = (u8::from(self.has_audio) << 2) | u8::from(self.has_video);
        [b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]
    }
}

/// What a tag carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagKind {
    /// Type 8.
    Audio,
    /// Type 9.
    Video,
    /// Type 18 (`onMetaData` and other AMF0 data).
    Script,
}

impl TagKind {
    /// The tag type byte.
    pub fn type_byte(self) -> u8 {
        match self {
            TagKind::Audio => 8,
            TagKind::Video => 9,
            TagKind::Script => 18,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b & 0x1f {
            8 => Some(TagKind::Audio),
            9 => Some(TagKind::Video),
            18 => Some(TagKind::Script),
            _ => None,
        }
    }
}

/// One FLV tag: kind, timestamp in milliseconds, payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Audio, video or script.
    pub kind: TagKind,
    /// Decoding timestamp in milliseconds (32 bits in the file).
    pub timestamp: u32,
    /// The tag body (after the 11-byte header, without the back pointer).
    pub data: Bytes,
}

/// Video codec ids of the legacy FLV video header.
const CODEC_AVC: u8 = 7;
const CODEC_HEVC: u8 = 12;
/// Sound format of AAC.
const SOUND_AAC: u8 = 10;

impl Tag {
    /// The bytes this tag takes in a file: header, body and back pointer.
    pub fn encoded_len(&self) -> u64 {
        11 + self.data.len() as u64 + 4
    }

    /// Appends the tag (header, body, back pointer) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.data.len()).unwrap_or(u32::MAX) & 0x00ff_ffff;
        let ts = self.timestamp;
        out.push(self.kind.type_byte());
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.extend_from_slice(&ts.to_be_bytes()[1..]);
        out.push((ts >> 24) as u8);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&(len + 11).to_be_bytes());
    }

    /// True for a video tag that starts a GOP (frame type 1), sequence
    /// headers excluded.
    pub fn is_keyframe(&self) -> bool {
        self.kind == TagKind::Video
            && self.data.first().is_some_and(|b| (b >> 4) & 0x07 == 1)
            && !self.is_sequence_header()
            && !self.is_video_info()
    }

    /// True for a video or audio sequence header (AVC/HEVC decoder
    /// configuration, enhanced-RTMP `SequenceStart`, AAC AudioSpecificConfig).
    pub fn is_sequence_header(&self) -> bool {
        let d = &self.data;
        match self.kind {
            TagKind::Video => match d.first() {
                Some(b) if b & 0x80 != 0 => b & 0x0f == 0,
                Some(b) => matches!(b & 0x0f, CODEC_AVC | CODEC_HEVC) && d.get(1) == Some(&0),
                None => false,
            },
            TagKind::Audio => {
                d.first().is_some_and(|b| b >> 4 == SOUND_AAC) && d.get(1) == Some(&0)
            }
            TagKind::Script => false,
        }
    }

    /// True for a video tag that carries no picture: an end-of-sequence
    /// marker, a command frame (frame type 5) or enhanced-RTMP metadata.
    pub fn is_video_info(&self) -> bool {
        let d = &self.data;
        if self.kind != TagKind::Video {
            return false;
        }
        match d.first() {
            Some(b) if (b >> 4) & 0x07 == 5 => true,
            Some(b) if b & 0x80 != 0 => matches!(b & 0x0f, 2 | 4),
            Some(b) => matches!(b & 0x0f, CODEC_AVC | CODEC_HEVC) && d.get(1) == Some(&2),
            None => true,
        }
    }

    /// True for a tag that carries a picture or a sound frame.
    pub fn is_media_frame(&self) -> bool {
        match self.kind {
            TagKind::Video => !self.is_sequence_header() && !self.is_video_info(),
            TagKind::Audio => !self.is_sequence_header() && !self.data.is_empty(),
            TagKind::Script => false,
        }
    }

    /// The FLV video codec id (7 AVC, 12 HEVC) or, for enhanced RTMP, the
    /// FourCC as a number; the sound format for audio.
    pub fn codec_id(&self) -> Option<u32> {
        let d = &self.data;
        match self.kind {
            TagKind::Video => match d.first() {
                Some(b) if b & 0x80 != 0 => {
                    d.get(1..5).map(|f| u32::from_be_bytes([f[0], f[1], f[2], f[3]]))
                }
                Some(b) => Some(u32::from(b & 0x0f)),
                None => None,
            },
            TagKind::Audio => d.first().map(|b| u32::from(b >> 4)),
            TagKind::Script => None,
        }
    }
}
