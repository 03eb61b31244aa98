//! The bytes of one output part, with a seekable `onMetaData`.

use bytes::Bytes;

use super::amf::{Amf, on_metadata};
use super::{FlvHeader, Tag, TagKind};

/// Most keyframes the index can hold (18 bytes each are reserved).
const MAX_CAPACITY: usize = 20_000;

/// What a closed part holds, from the stream's own timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct PartSummary {
    /// Bytes of the file.
    pub bytes: u64,
    /// Media duration in seconds: the end of the last video or audio frame
    /// (its timestamp plus one frame), the part starting at 0.
    pub duration: f64,
    /// Video frames written (sequence headers excluded).
    pub video_frames: u64,
    /// Audio frames written (sequence headers excluded).
    pub audio_frames: u64,
    /// Keyframes written.
    pub keyframes: u64,
}

/// Serializes one FLV part: the header, an `onMetaData` tag reserved at the
/// start, then the tags. When the part closes, [`finish`](Self::finish)
/// gives the final `onMetaData` (duration, file size, keyframe index) to
/// write over the reserved one: it has exactly the same length, so no byte
/// after it moves. A file cut short by a crash still plays (its metadata
/// just has no duration and no index).
#[derive(Debug, Clone)]
pub struct FlvPartWriter {
    header: FlvHeader,
    capacity: usize,
    reserved_len: usize,
    written: u64,
    keyframes: Vec<(u32, u64)>,
    video: Track,
    audio: Track,
    video_codec: Option<u32>,
    audio_codec: Option<u32>,
}

/// Timing of one track, for the duration.
#[derive(Debug, Clone, Copy, Default)]
struct Track {
    frames: u64,
    last: u32,
    step: u32,
}

impl Track {
    fn add(&mut self, ts: u32) {
        if self.frames > 0 && ts > self.last {
            self.step = ts - self.last;
        }
        self.last = if self.frames == 0 { ts } else { self.last.max(ts) };
        self.frames += 1;
    }

    fn end_ms(&self) -> u64 {
        if self.frames == 0 { 0 } else { u64::from(self.last) + u64::from(self.step) }
    }
}

impl FlvPartWriter {
    /// A writer whose keyframe index holds up to `keyframe_capacity`
    /// entries (at most 20000, 18 bytes each reserved; a longer part keeps an evenly thinned index).
    pub fn new(header: FlvHeader, keyframe_capacity: usize) -> Self {
        FlvPartWriter {
            header,
            capacity: keyframe_capacity.clamp(1, MAX_CAPACITY),
            reserved_len: 0,
            written: 0,
            keyframes: Vec::new(),
            video: Track::default(),
            audio: Track::default(),
            video_codec: None,
            audio_codec: None,
        }
    }

    /// The file's first bytes: header, first back pointer and the reserved
    /// `onMetaData` tag.
    pub fn start(&mut self) -> Vec<u8> {
        let mut out = self.header.to_bytes().to_vec();
        let body = self.metadata_body(0.0, 0, &[]);
        self.reserved_len = body.len();
        Tag { kind: TagKind::Script, timestamp: 0, data: Bytes::from(body) }.encode_into(&mut out);
        self.written = out.len() as u64;
        out
    }

    /// Byte offset of the `onMetaData` tag in the file.
    pub fn metadata_offset(&self) -> u64 {
        13
    }

    /// Bytes produced so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// The media duration so far, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.video.end_ms().max(self.audio.end_ms())
    }

    /// Appends `tag` to `out` and indexes it.
    pub fn write_tag(&mut self, tag: &Tag, out: &mut Vec<u8>) {
        match tag.kind {
            TagKind::Video => {
                if tag.is_sequence_header() {
                    self.video_codec = tag.codec_id();
                } else if tag.is_media_frame() {
                    if tag.is_keyframe() {
                        self.keyframes.push((tag.timestamp, self.written));
                    }
                    self.video.add(tag.timestamp);
                }
            }
            TagKind::Audio => {
                if tag.is_sequence_header() {
                    self.audio_codec = tag.codec_id();
                } else if tag.is_media_frame() {
                    self.audio_codec = self.audio_codec.or(tag.codec_id());
                    self.audio.add(tag.timestamp);
                }
            }
            TagKind::Script => {}
        }
        tag.encode_into(out);
        self.written += tag.encoded_len();
    }

    /// The summary of the part and the final `onMetaData` tag bytes to write
    /// at [`metadata_offset`](Self::metadata_offset) (same length as the
    /// reserved one).
    pub fn finish(&self) -> (PartSummary, Vec<u8>) {
        let duration = self.duration_ms() as f64 / 1000.0;
        let index = thin(&self.keyframes, self.capacity);
        let body = self.metadata_body(duration, self.written, &index);
        let mut out = Vec::with_capacity(body.len() + 15);
        Tag { kind: TagKind::Script, timestamp: 0, data: Bytes::from(body) }.encode_into(&mut out);
        let summary = PartSummary {
            bytes: self.written,
            duration,
            video_frames: self.video.frames,
            audio_frames: self.audio.frames,
            keyframes: self.keyframes.len() as u64,
        };
        (summary, out)
    }

    fn metadata_body(&self, duration: f64, filesize: u64, index: &[(u32, u64)]) -> Vec<u8> {
        let num = |v: f64| Amf::Number(v);
        let has_video = self.header.has_video || self.video.frames > 0;
        let has_audio = self.header.has_audio || self.audio.frames > 0;
        let last_kf = index.last().map_or(0.0, |k| f64::from(k.0) / 1000.0);
        let times = index.iter().map(|k| num(f64::from(k.0) / 1000.0)).collect();
        let positions = index.iter().map(|k| num(k.1 as f64)).collect();
        // Fixed-size numbers first, so the body length only depends on the
        // index length; the padding makes up for the entries not used.
        // Two AMF0 numbers (18 bytes) per unused index entry. ffmpeg refuses
        // long AMF0 strings, so the padding is an array of zeros.
        let pad = (self.capacity - index.len()) * 2;
        let entries = vec![
            ("duration", num(duration)),
            ("filesize", num(filesize as f64)),
            ("hasVideo", Amf::Bool(has_video)),
            ("hasAudio", Amf::Bool(has_audio)),
            ("videocodecid", num(f64::from(self.video_codec.unwrap_or(0)))),
            ("audiocodecid", num(f64::from(self.audio_codec.unwrap_or(0)))),
            ("hasKeyframes", Amf::Bool(!index.is_empty())),
            ("canSeekToEnd", Amf::Bool(filesize > 0)),
            ("lastkeyframetimestamp", num(last_kf)),
            ("metadatacreator", Amf::Str("onelive".into())),
            (
                "keyframes",
                Amf::Object(vec![
                    ("times", Amf::StrictArray(times)),
                    ("filepositions", Amf::StrictArray(positions)),
                ]),
            ),
            ("_padding", Amf::StrictArray(vec![num(0.0); pad])),
        ];
        on_metadata(&entries)
    }
}

/// At most `cap` entries of `all`, evenly spread, the first always kept.
fn thin(all: &[(u32, u64)], cap: usize) -> Vec<(u32, u64)> {
    if all.len() <= cap {
        return all.to_vec();
    }
    (0..cap).map(|i| all[i * all.len() / cap]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(ts: u32, key: bool) -> Tag {
        Tag {
            kind: TagKind::Video,
            timestamp: ts,
            data: Bytes::from(vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 9, 9]),
        }
    }

    #[test]
    fn final_metadata_has_the_reserved_length_and_real_figures() {
        for kf in [0_u32, 1, 7, 50] {
            let mut w = FlvPartWriter::new(FlvHeader { has_audio: false, has_video: true }, 10);
            let mut file = w.start();
            let reserved = file.len() - 13;
            for i in 0..kf * 3 {
                w.write_tag(&video(i * 40, i % 3 == 0), &mut file);
            }
            let (summary, meta) = w.finish();
            assert_eq!(meta.len(), reserved, "keyframes {kf}");
            assert_eq!(summary.bytes, file.len() as u64);
            assert_eq!(summary.video_frames, u64::from(kf * 3));
            assert_eq!(summary.keyframes, u64::from(kf));
            let expected = if kf == 0 { 0.0 } else { f64::from(kf * 3) * 0.04 };
            assert!(
                (summary.duration - expected).abs() < 1e-9,
                "{} vs {expected}",
                summary.duration
            );
        }
    }

    #[test]
    fn thinning_keeps_the_first_and_spreads_the_rest() {
        let all: Vec<(u32, u64)> = (0..100).map(|i| (i, u64::from(i))).collect();
        let t = thin(&all, 10);
        assert_eq!(t.len(), 10);
        assert_eq!(t[0], (0, 0));
        assert_eq!(t[9], (90, 90));
    }
}
