//! Fragmented MP4 (the fMP4 segments of HLS, `EXT-X-MAP` init + `.m4s`
//! fragments): the media time of a part from its `tfdt`/`trun` boxes, with
//! each part's decode times rebased to start at 0.
//!
//! Hand-written: only a few boxes are read (`moov/trak/tkhd`, `mdhd`,
//! `mvex/trex` in the init section; `moof/traf/tfhd`, `tfdt`, `trun` in a
//! fragment) and `tfdt` is rewritten in place; the MP4 crates parse whole
//! files into owned trees, which costs memory per segment for no gain here.

use std::collections::HashMap;

use crate::StreamError;

/// One track of the init section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Track {
    timescale: u32,
    default_duration: u32,
}

/// Per track in the open part: first decode time seen (the rebase) and the
/// highest end (decode time + sample durations), in the track's timescale,
/// both before rebasing.
#[derive(Debug, Clone, Copy)]
struct Span {
    base: u64,
    end: u64,
}

/// Follows the fragments of one fMP4 part: rebases their decode times
/// (`tfdt`) so the part starts at 0, and tells its media duration.
#[derive(Debug, Clone)]
pub struct Fmp4Span {
    tracks: HashMap<u32, Track>,
    spans: HashMap<u32, Span>,
    /// The part's start in seconds (the earliest decode time of its first segment).
    origin: Option<f64>,
    fragments: u64,
}

/// Box header: (type, header length, total length) at `data[0..]`.
fn header(data: &[u8]) -> Option<([u8; 4], usize, usize)> {
    let size = u32::from_be_bytes(data.get(0..4)?.try_into().ok()?) as u64;
    let kind: [u8; 4] = data.get(4..8)?.try_into().ok()?;
    let (head, total) = match size {
        1 => (16, u64::from_be_bytes(data.get(8..16)?.try_into().ok()?)),
        0 => (8, data.len() as u64),
        n => (8, n),
    };
    let total = usize::try_from(total).ok()?;
    (total >= head && total <= data.len()).then_some((kind, head, total))
}

/// The child boxes of a box body: (type, body range) relative to `data`.
fn children(data: &[u8]) -> Vec<([u8; 4], std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some((kind, head, total)) = data.get(i..).and_then(header) {
        out.push((kind, i + head..i + total));
        i += total;
    }
    out
}

fn u32_at(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(i..i + 4)?.try_into().ok()?))
}

fn u64_at(d: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_be_bytes(d.get(i..i + 8)?.try_into().ok()?))
}

fn write_time(data: &mut [u8], at: usize, wide: bool, value: u64) {
    if wide {
        data[at..at + 8].copy_from_slice(&value.to_be_bytes());
    } else {
        let v = u32::try_from(value).unwrap_or(u32::MAX);
        data[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
}

impl Fmp4Span {
    /// True when `bytes` start with a box a media fragment or init section
    /// starts with (`ftyp`, `styp`, `moof`, `sidx`, `emsg`, `prft`, `moov`).
    pub fn looks_like_fmp4(bytes: &[u8]) -> bool {
        header(bytes).is_some_and(|(k, _, _)| {
            [b"ftyp", b"styp", b"moof", b"sidx", b"emsg", b"prft", b"moov"].contains(&&k)
        })
    }

    /// Reads the tracks of an init section (`ftyp` + `moov`).
    pub fn from_init(init: &[u8]) -> Result<Self, StreamError> {
        let bad = |why: &str| StreamError::Fmp4(format!("init section: {why}"));
        let top = children(init);
        let moov = top.iter().find(|(k, _)| k == b"moov").ok_or_else(|| bad("no moov box"))?;
        let moov = &init[moov.1.clone()];
        let mut tracks = HashMap::new();
        let mut defaults = HashMap::new();
        for (kind, range) in children(moov) {
            let body = &moov[range];
            if &kind == b"mvex" {
                for (k, r) in children(body) {
                    // trex: version/flags, track_ID, sample_description_index, default duration.
                    if &k == b"trex"
                        && let (Some(id), Some(dur)) =
                            (u32_at(&body[r.clone()], 4), u32_at(&body[r], 12))
                    {
                        defaults.insert(id, dur);
                    }
                }
            }
            if &kind != b"trak" {
                continue;
            }
            let (mut id, mut timescale) = (None, None);
            for (k, r) in children(body) {
                let b = &body[r];
                if &k == b"tkhd" {
                    // track_ID after creation/modification times (4 or 8 bytes each).
                    id = if b.first() == Some(&1) { u32_at(b, 20) } else { u32_at(b, 12) };
                }
                if &k == b"mdia" {
                    for (k2, r2) in children(b) {
                        let m = &b[r2];
                        if &k2 == b"mdhd" {
                            timescale =
                                if m.first() == Some(&1) { u32_at(m, 20) } else { u32_at(m, 12) };
                        }
                    }
                }
            }
            match (id, timescale) {
                (Some(id), Some(ts)) if ts > 0 => {
                    tracks.insert(id, Track { timescale: ts, default_duration: 0 });
                }
                _ => return Err(bad("a trak without track_ID or timescale")),
            }
        }
        if tracks.is_empty() {
            return Err(bad("no tracks"));
        }
        for (id, t) in tracks.iter_mut() {
            t.default_duration = defaults.get(id).copied().unwrap_or(0);
        }
        Ok(Fmp4Span { tracks, spans: HashMap::new(), origin: None, fragments: 0 })
    }

    /// Fragments (`moof`) seen in the part.
    pub fn fragments(&self) -> u64 {
        self.fragments
    }

    /// Reads the fragments of a media segment and rewrites their `tfdt` in
    /// place so the part's timeline starts at 0. A segment whose boxes do not
    /// parse is an error and is left untouched.
    pub fn push(&mut self, segment: &mut [u8]) -> Result<(), StreamError> {
        let bad = |why: String| StreamError::Fmp4(format!("media segment: {why}"));
        // First pass: read (no changes until the whole segment parses).
        let mut edits: Vec<(usize, bool, u32, u64, u64)> = Vec::new();
        // sidx: (offset of earliest_presentation_time, 64-bit, timescale, value).
        let mut sidx: Vec<(usize, bool, u32, u64)> = Vec::new();
        for (kind, range) in children(segment) {
            if &kind == b"sidx" {
                let b = &segment[range.clone()];
                let v1 = b.first() == Some(&1);
                let ts = u32_at(b, 8).filter(|t| *t > 0).ok_or_else(|| bad("short sidx".into()))?;
                let ept = if v1 { u64_at(b, 12) } else { u32_at(b, 12).map(u64::from) };
                let ept = ept.ok_or_else(|| bad("short sidx".into()))?;
                sidx.push((range.start + 12, v1, ts, ept));
                continue;
            }
            if &kind != b"moof" {
                continue;
            }
            let moof_at = range.start;
            let moof = &segment[range];
            for (k, r) in children(moof) {
                if &k != b"traf" {
                    continue;
                }
                let traf_at = moof_at + r.start;
                let traf = &moof[r];
                let (mut id, mut default_dur, mut tfdt, mut total) = (None, None, None, 0u64);
                let mut samples_seen = false;
                for (k2, r2) in children(traf) {
                    let b = &traf[r2.clone()];
                    match &k2 {
                        b"tfhd" => {
                            let flags =
                                u32_at(b, 0).ok_or_else(|| bad("short tfhd".into()))? & 0xff_ffff;
                            id = u32_at(b, 4);
                            let mut i = 8;
                            if flags & 0x01 != 0 {
                                i += 8;
                            }
                            if flags & 0x02 != 0 {
                                i += 4;
                            }
                            if flags & 0x08 != 0 {
                                default_dur = u32_at(b, i);
                            }
                        }
                        b"tfdt" => {
                            let v1 = b.first() == Some(&1);
                            let t = if v1 { u64_at(b, 4) } else { u32_at(b, 4).map(u64::from) };
                            let t = t.ok_or_else(|| bad("short tfdt".into()))?;
                            tfdt = Some((traf_at + r2.start + 4, v1, t));
                        }
                        b"trun" => {
                            samples_seen = true;
                            let flags =
                                u32_at(b, 0).ok_or_else(|| bad("short trun".into()))? & 0xff_ffff;
                            let count = u32_at(b, 4).ok_or_else(|| bad("short trun".into()))?;
                            let mut i = 8;
                            if flags & 0x01 != 0 {
                                i += 4;
                            }
                            if flags & 0x04 != 0 {
                                i += 4;
                            }
                            let per = [0x100, 0x200, 0x400, 0x800]
                                .iter()
                                .filter(|f| flags & **f != 0)
                                .count()
                                * 4;
                            if per > 0 && (b.len().saturating_sub(i)) / per < count as usize {
                                return Err(bad(format!(
                                    "trun lists {count} samples, the box holds fewer"
                                )));
                            }
                            let track = id.and_then(|id| self.tracks.get(&id));
                            let fallback =
                                default_dur.or(track.map(|t| t.default_duration)).unwrap_or(0);
                            if flags & 0x100 == 0 {
                                total =
                                    total.saturating_add(u64::from(count) * u64::from(fallback));
                            } else {
                                // Bounded by the box size (checked above).
                                for _ in 0..count {
                                    total =
                                        total.saturating_add(u64::from(u32_at(b, i).unwrap_or(0)));
                                    i += per;
                                }
                            }
                        }
                        _ => {}
                    }
                }
                let id = id.ok_or_else(|| bad("a traf without tfhd".into()))?;
                if !self.tracks.contains_key(&id) {
                    return Err(bad(format!("track {id} is not in the init section")));
                }
                let (at, v1, t) = tfdt.ok_or_else(|| bad("a traf without tfdt".into()))?;
                if samples_seen {
                    edits.push((at, v1, id, t, total));
                }
            }
            self.fragments += 1;
        }
        // One origin for all tracks (seconds), so rebasing keeps A/V sync.
        if edits.is_empty() {
            return Ok(());
        }
        let origin = *self.origin.get_or_insert_with(|| {
            edits
                .iter()
                .filter_map(|(_, _, id, t, _)| {
                    Some(*t as f64 / f64::from(self.tracks.get(id)?.timescale))
                })
                .fold(f64::MAX, f64::min)
        });
        for (at, v1, id, t, total) in edits {
            let ts = self.tracks.get(&id).map_or(1, |t| t.timescale);
            let base = ((origin * f64::from(ts)) as u64).min(t);
            let span = self.spans.entry(id).or_insert(Span { base, end: base });
            let t = t.max(span.base);
            span.end = span.end.max(t.saturating_add(total));
            write_time(segment, at, v1, t - span.base);
        }
        // The segment index names presentation times too (ffprobe reads it).
        for (at, v1, ts, ept) in sidx {
            let base = (origin * f64::from(ts)) as u64;
            write_time(segment, at, v1, ept.saturating_sub(base));
        }
        Ok(())
    }

    /// Seconds from the part's start to the end of its last sample, over all
    /// tracks.
    pub fn duration(&self) -> f64 {
        self.spans
            .iter()
            .filter_map(|(id, s)| {
                let ts = self.tracks.get(id)?.timescale;
                Some((s.end - s.base) as f64 / f64::from(ts))
            })
            .fold(0.0, f64::max)
    }

    /// Starts a new part with the same init section.
    pub fn reset(&mut self) {
        self.spans.clear();
        self.origin = None;
        self.fragments = 0;
    }
}
