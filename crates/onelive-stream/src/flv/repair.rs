//! The repair rules, applied tag by tag.

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};

use bytes::Bytes;

use super::{FlvHeader, Item, Tag, TagKind};

/// Thresholds of the repair rules and the split policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairConfig {
    /// A timestamp that moves forward by more than this (ms) from the
    /// previous tag is a discontinuity: the stream is stitched on one frame
    /// later instead of leaving a hole.
    pub max_forward_jump_ms: u32,
    /// A timestamp that moves backwards by more than this (ms) is a
    /// discontinuity (a reset or a rebound); less is audio/video
    /// interleaving jitter and is kept.
    pub max_backward_jump_ms: u32,
    /// How many recent tags are remembered to recognise replays.
    pub dedup_window: usize,
    /// Start a new part at the first keyframe at or after this much media
    /// time in the part.
    pub split_after_ms: Option<u64>,
    /// Start a new part at the first keyframe once the part holds this many
    /// bytes of tags.
    pub split_after_bytes: Option<u64>,
}

impl Default for RepairConfig {
    fn default() -> Self {
        RepairConfig {
            max_forward_jump_ms: 1500,
            max_backward_jump_ms: 500,
            dedup_window: 512,
            split_after_ms: None,
            split_after_bytes: None,
        }
    }
}

/// Why a new part starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitReason {
    /// The first part of the stream.
    Start,
    /// [`RepairConfig::split_after_ms`] was reached.
    Duration,
    /// [`RepairConfig::split_after_bytes`] was reached.
    Size,
    /// A sequence header changed (resolution, codec or audio config).
    CodecChange,
    /// [`FlvRepairer::request_split`] asked for it.
    Requested,
}

/// What the repairer produces, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Close the current part (if any) and open a new file with this header.
    /// The sequence headers and the keyframe that start it follow.
    NewPart {
        /// Header flags of the new file.
        header: FlvHeader,
        /// Why.
        reason: SplitReason,
    },
    /// Write this tag (timestamps already rebased) to the current part.
    Tag(Tag),
}

/// Counters of what the repair did, for logs and events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RepairStats {
    /// Tags written.
    pub tags_out: u64,
    /// Tags dropped as replays of tags already written.
    pub duplicates_dropped: u64,
    /// Timestamp jumps and resets stitched over.
    pub discontinuities: u64,
    /// Sequence header changes (each starts a part).
    pub codec_changes: u64,
    /// Frames dropped while waiting for a keyframe (stream start, after a
    /// reconnect that left a hole).
    pub dropped_before_keyframe: u64,
    /// Script tags of the source dropped (each part gets its own metadata).
    pub scripts_dropped: u64,
    /// New connections seen (a second FLV header).
    pub reconnects: u64,
}

/// Audio tags to wait for video when the header announces video that never
/// comes.
const AUDIO_ONLY_AFTER: u32 = 300;
/// Frame lengths assumed before one is measured.
const DEFAULT_VIDEO_STEP: i64 = 33;
const DEFAULT_AUDIO_STEP: i64 = 23;

/// Applies the repair rules to the items of one or more consecutive
/// connections to the same stream. Feed every [`Item`] of every connection
/// in order (a new connection starts with its header); take the
/// [`Output`]s.
///
/// Rules:
/// - each part starts at a video keyframe (or at an audio frame for audio
///   only streams) with its sequence headers, at timestamp 0;
/// - timestamps never go backwards per track; a jump forward by more than
///   [`RepairConfig::max_forward_jump_ms`] or backwards by more than
///   [`RepairConfig::max_backward_jump_ms`] is stitched on one frame after
///   the previous tag;
/// - after a reconnect, tags already written are dropped (recognised by
///   their bytes, whatever their timestamps); if nothing overlapped, video
///   resumes at the next keyframe;
/// - a replay within a connection (same timestamp and bytes) is dropped;
/// - a repeated identical sequence header is dropped; a different one
///   starts a new part at the next keyframe;
/// - source `onMetaData` tags are dropped (each part gets its own).
#[derive(Debug)]
pub struct FlvRepairer {
    cfg: RepairConfig,
    header: Option<FlvHeader>,
    video_seq: Option<Bytes>,
    audio_seq: Option<Bytes>,
    seen_video: bool,
    seen_audio: bool,
    in_part: bool,
    pending: Option<SplitReason>,
    need_keyframe: bool,
    audio_waiting: u32,
    /// After a reconnect: dropping replays until the first new tag.
    replay_check: bool,
    replays_matched: u64,
    recent: VecDeque<(u64, u64)>,
    /// Continuous session timeline of the previous media tag (before the
    /// per-track clamp) and the largest value reached.
    last_in: Option<u32>,
    last_cont: i64,
    max_cont: i64,
    last_cont_video: Option<i64>,
    last_cont_audio: Option<i64>,
    step_video: i64,
    step_audio: i64,
    /// Part-relative state.
    part_base: i64,
    last_out_video: i64,
    last_out_audio: i64,
    part_bytes: u64,
    stats: RepairStats,
}

fn signatures(tag: &Tag) -> (u64, u64) {
    let mut h = DefaultHasher::new();
    tag.kind.hash(&mut h);
    tag.data.hash(&mut h);
    let without_ts = h.finish();
    tag.timestamp.hash(&mut h);
    (h.finish(), without_ts)
}

impl FlvRepairer {
    /// A repairer with these thresholds.
    pub fn new(cfg: RepairConfig) -> Self {
        FlvRepairer {
            cfg,
            header: None,
            video_seq: None,
            audio_seq: None,
            seen_video: false,
            seen_audio: false,
            in_part: false,
            pending: None,
            need_keyframe: false,
            audio_waiting: 0,
            replay_check: false,
            replays_matched: 0,
            recent: VecDeque::with_capacity(cfg.dedup_window.min(4096)),
            last_in: None,
            last_cont: 0,
            max_cont: 0,
            last_cont_video: None,
            last_cont_audio: None,
            step_video: DEFAULT_VIDEO_STEP,
            step_audio: DEFAULT_AUDIO_STEP,
            part_base: 0,
            last_out_video: -1,
            last_out_audio: -1,
            part_bytes: 0,
            stats: RepairStats::default(),
        }
    }

    /// What the repair did so far.
    pub fn stats(&self) -> RepairStats {
        self.stats
    }

    /// True while a part is open.
    pub fn in_part(&self) -> bool {
        self.in_part
    }

    /// Starts a new part at the next keyframe.
    pub fn request_split(&mut self) {
        if self.in_part {
            self.pending.get_or_insert(SplitReason::Requested);
        }
    }

    fn expects_video(&self) -> bool {
        self.video_seq.is_some()
            || self.seen_video
            || (self.header.is_some_and(|h| h.has_video) && self.audio_waiting < AUDIO_ONLY_AFTER)
    }

    fn part_header(&self) -> FlvHeader {
        let h = self.header.unwrap_or(FlvHeader { has_audio: false, has_video: false });
        FlvHeader {
            has_audio: h.has_audio || self.audio_seq.is_some() || self.seen_audio,
            has_video: h.has_video || self.video_seq.is_some() || self.seen_video,
        }
    }

    /// Feeds one item; appends what to write to `out`.
    pub fn push(&mut self, item: Item, out: &mut Vec<Output>) {
        match item {
            Item::Header(h) => {
                if self.header.is_some() {
                    self.stats.reconnects += 1;
                    self.replay_check = true;
                    self.replays_matched = 0;
                }
                let old = self.header.unwrap_or(h);
                self.header = Some(FlvHeader {
                    has_audio: old.has_audio || h.has_audio,
                    has_video: old.has_video || h.has_video,
                });
            }
            Item::Tag(tag) => self.push_tag(tag, out),
        }
    }

    fn push_tag(&mut self, tag: Tag, out: &mut Vec<Output>) {
        if tag.kind == TagKind::Script {
            self.stats.scripts_dropped += 1;
            return;
        }
        if tag.is_sequence_header() {
            self.sequence_header(tag, out);
            return;
        }
        if !tag.is_media_frame() {
            // End-of-sequence markers and command frames: nothing to keep.
            return;
        }
        let video = tag.kind == TagKind::Video;
        // Replays.
        let (sig_ts, sig) = signatures(&tag);
        if self.replay_check {
            if self.recent.iter().any(|r| r.1 == sig) {
                self.replays_matched += 1;
                self.stats.duplicates_dropped += 1;
                return;
            }
            self.replay_check = false;
            if self.replays_matched == 0 && self.in_part {
                // A hole: resume video at a keyframe.
                self.need_keyframe = true;
            }
        } else if self.recent.iter().any(|r| r.0 == sig_ts) {
            self.stats.duplicates_dropped += 1;
            return;
        }
        if self.cfg.dedup_window > 0 {
            if self.recent.len() >= self.cfg.dedup_window {
                self.recent.pop_front();
            }
            self.recent.push_back((sig_ts, sig));
        }

        if video {
            self.seen_video = true;
        } else {
            self.seen_audio = true;
        }
        let starts_gop = if self.expects_video() { tag.is_keyframe() } else { true };
        let video_ready = !self.expects_video() || self.video_seq.is_some();

        // Waiting for a place to start (stream start, after a hole, or a
        // codec change that must not mix with the old pictures).
        let waiting =
            !self.in_part || self.need_keyframe || self.pending == Some(SplitReason::CodecChange);
        if waiting && !(starts_gop && video_ready) {
            if !video && !self.in_part {
                self.audio_waiting += 1;
            }
            if video || !self.in_part || self.need_keyframe {
                self.stats.dropped_before_keyframe += 1;
                return;
            }
        }

        let cont = self.continuous(&tag);
        if starts_gop && video_ready {
            let reason = if !self.in_part {
                Some(SplitReason::Start)
            } else if let Some(r) = self.pending {
                Some(r)
            } else if self.cfg.split_after_ms.is_some_and(|ms| cont - self.part_base >= ms as i64) {
                Some(SplitReason::Duration)
            } else if self.cfg.split_after_bytes.is_some_and(|b| self.part_bytes >= b) {
                Some(SplitReason::Size)
            } else {
                None
            };
            self.need_keyframe = false;
            if let Some(reason) = reason {
                self.start_part(reason, cont, out);
            }
        }
        let ts = self.part_ts(video, cont);
        self.emit(Tag { timestamp: ts, ..tag }, out);
    }

    fn start_part(&mut self, reason: SplitReason, cont: i64, out: &mut Vec<Output>) {
        self.in_part = true;
        self.pending = None;
        self.part_base = cont;
        self.last_out_video = -1;
        self.last_out_audio = -1;
        self.part_bytes = 0;
        out.push(Output::NewPart { header: self.part_header(), reason });
        for (kind, data) in [(TagKind::Video, &self.video_seq), (TagKind::Audio, &self.audio_seq)] {
            if let Some(data) = data {
                let tag = Tag { kind, timestamp: 0, data: data.clone() };
                self.part_bytes += tag.encoded_len();
                self.stats.tags_out += 1;
                out.push(Output::Tag(tag));
            }
        }
    }

    fn emit(&mut self, tag: Tag, out: &mut Vec<Output>) {
        self.part_bytes += tag.encoded_len();
        self.stats.tags_out += 1;
        out.push(Output::Tag(tag));
    }

    fn sequence_header(&mut self, tag: Tag, out: &mut Vec<Output>) {
        let slot = match tag.kind {
            TagKind::Video => &mut self.video_seq,
            _ => &mut self.audio_seq,
        };
        match slot {
            Some(current) if *current == tag.data => {}
            Some(current) => {
                *current = tag.data;
                self.stats.codec_changes += 1;
                if self.in_part {
                    self.pending = Some(SplitReason::CodecChange);
                }
            }
            None => {
                *slot = Some(tag.data.clone());
                if self.in_part {
                    // A track that starts late: its header goes in as is.
                    let ts = if tag.kind == TagKind::Video {
                        self.last_out_video.max(0)
                    } else {
                        self.last_out_audio.max(0)
                    };
                    let ts = u32::try_from(ts).unwrap_or(u32::MAX);
                    self.emit(Tag { timestamp: ts, ..tag }, out);
                }
            }
        }
    }

    /// Maps the tag onto the continuous session timeline.
    fn continuous(&mut self, tag: &Tag) -> i64 {
        let video = tag.kind == TagKind::Video;
        let step = if video { self.step_video } else { self.step_audio };
        let cont = match self.last_in {
            None => 0,
            Some(last) => {
                // Wrapping difference: handles the 32-bit rollover.
                let delta = i64::from(tag.timestamp.wrapping_sub(last) as i32);
                if delta > i64::from(self.cfg.max_forward_jump_ms)
                    || delta < -i64::from(self.cfg.max_backward_jump_ms)
                {
                    self.stats.discontinuities += 1;
                    self.max_cont + step
                } else {
                    self.last_cont + delta
                }
            }
        };
        self.last_in = Some(tag.timestamp);
        self.last_cont = cont;
        self.max_cont = self.max_cont.max(cont);
        let last_of_track =
            if video { &mut self.last_cont_video } else { &mut self.last_cont_audio };
        if let Some(l) = *last_of_track {
            let d = cont - l;
            if (1..=200).contains(&d) {
                if video {
                    self.step_video = d;
                } else {
                    self.step_audio = d;
                }
            }
        }
        *last_of_track = Some(cont);
        cont
    }

    /// The part-relative timestamp, strictly increasing per track.
    fn part_ts(&mut self, video: bool, cont: i64) -> u32 {
        let last = if video { &mut self.last_out_video } else { &mut self.last_out_audio };
        let ts = (cont - self.part_base).max(*last + 1).max(0);
        *last = ts;
        u32::try_from(ts).unwrap_or(u32::MAX)
    }
}
