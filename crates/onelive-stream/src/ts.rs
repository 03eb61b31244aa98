//! The media time spanned by MPEG-TS bytes, from their PES timestamps.

use std::collections::HashMap;

/// Follows the PTS of every PES stream in MPEG-TS bytes, to tell the media
/// duration of a file made of HLS segments without running ffprobe.
///
/// Feed whole 188-byte packets (HLS segments are); a partial packet at the
/// end of a push is ignored.
///
/// The 33-bit PTS wraps every 26.5 hours (95,443.7 s); a part that spans
/// the wrap is timed across it, as ffprobe does: every PTS is read as the
/// nearest value to the previous one (of any stream), so the timeline of
/// all streams stays one continuous line.
#[derive(Debug, Clone, Default)]
pub struct TsSpan {
    /// Per PID: first PTS, highest PTS, last PTS step (90 kHz, unwrapped).
    streams: HashMap<u16, (i64, i64, i64)>,
    /// The previous PTS seen (any PID): raw, and unwrapped.
    last: Option<(u64, i64)>,
    packets: u64,
}

const PACKET: usize = 188;
/// PTS values are 33 bits.
const PTS_MODULO: u64 = 1 << 33;

impl TsSpan {
    /// An empty span.
    pub fn new() -> Self {
        TsSpan::default()
    }

    /// True when `bytes` start like MPEG-TS (a sync byte every 188 bytes).
    pub fn looks_like_ts(bytes: &[u8]) -> bool {
        !bytes.is_empty() && bytes.iter().step_by(PACKET).take(4).all(|b| *b == 0x47)
    }

    /// Packets seen.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Reads the PES timestamps of `bytes`.
    pub fn push(&mut self, bytes: &[u8]) {
        for p in bytes.chunks_exact(PACKET) {
            if p[0] != 0x47 {
                continue;
            }
            self.packets += 1;
            let start = p[1] & 0x40 != 0;
            let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
            let afc = (p[3] >> 4) & 0x03;
            if !start || afc & 0x01 == 0 {
                continue;
            }
            let mut i = 4;
            if afc & 0x02 != 0 {
                i += 1 + usize::from(p[4]);
            }
            let Some(pes) = p.get(i..) else { continue };
            if pes.len() < 14 || pes[..3] != [0, 0, 1] || pes[7] & 0x80 == 0 {
                continue;
            }
            let b = &pes[9..14];
            let pts = (u64::from(b[0] & 0x0e) << 29)
                | (u64::from(b[1]) << 22)
                | (u64::from(b[2] & 0xfe) << 14)
                | (u64::from(b[3]) << 7)
                | (u64::from(b[4]) >> 1);
            let pts = self.unwrap(pts);
            let e = self.streams.entry(pid).or_insert((pts, pts, 0));
            if pts > e.1 {
                e.2 = pts - e.1;
                e.1 = pts;
            }
            e.0 = e.0.min(pts);
        }
    }

    /// The PTS on the continuous timeline: the value nearest to the
    /// previous PTS, modulo 2^33.
    fn unwrap(&mut self, raw: u64) -> i64 {
        let unwrapped = match self.last {
            None => raw as i64,
            Some((last_raw, last)) => {
                let mut d = (raw.wrapping_sub(last_raw) & (PTS_MODULO - 1)) as i64;
                if d >= (PTS_MODULO / 2) as i64 {
                    d -= PTS_MODULO as i64;
                }
                last + d
            }
        };
        self.last = Some((raw, unwrapped));
        unwrapped
    }

    /// Seconds from the earliest PTS to the end of the last frame (the
    /// highest PTS plus one frame step) over all streams, as ffprobe counts it.
    pub fn duration(&self) -> f64 {
        let first = self.streams.values().map(|s| s.0).min();
        let end = self.streams.values().map(|s| s.1 + s.2).max();
        match (first, end) {
            (Some(f), Some(e)) if e > f => (e - f) as f64 / 90_000.0,
            _ => 0.0,
        }
    }

    /// Forgets everything (a new file).
    pub fn reset(&mut self) {
        *self = TsSpan::default();
    }
}
