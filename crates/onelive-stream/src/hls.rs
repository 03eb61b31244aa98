//! Following a live HLS media playlist (parsed with `m3u8-rs`).

use std::collections::VecDeque;

use m3u8_rs::{KeyMethod, Playlist};

use crate::StreamError;

/// One media segment to fetch, once.
#[derive(Debug, Clone, PartialEq)]
pub struct HlsSegment {
    /// Its media sequence number.
    pub sequence: u64,
    /// Its URI as written in the playlist (resolve it against the playlist URL).
    pub uri: String,
    /// `EXTINF` duration in seconds.
    pub duration: f64,
    /// The timeline breaks before it: `EXT-X-DISCONTINUITY`, segments that
    /// were missed between two reloads, or a playlist reset.
    pub discontinuity: bool,
    /// The fMP4 initialization section (`EXT-X-MAP`) it needs, if any.
    pub init: Option<String>,
}

/// What one playlist reload tells.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlaylistUpdate {
    /// Segments not handed out before, in order.
    pub new_segments: Vec<HlsSegment>,
    /// `#EXT-X-ENDLIST`: the stream is over once these are fetched.
    pub ended: bool,
    /// The media sequence went backwards or the segments were replaced: the
    /// origin restarted its playlist.
    pub reset: bool,
    /// Segments that left the playlist before they could be handed out.
    pub missed: u64,
    /// `EXT-X-TARGETDURATION` in seconds (reload interval hint).
    pub target_duration: f64,
}

/// Keeps track of which segments of a live media playlist were handed out.
///
/// The first reload starts at the live edge (the newest
/// `live_edge_segments`); later reloads hand out only segments not seen
/// before. Encrypted playlists (`EXT-X-KEY` other than `NONE`) and master
/// playlists are refused with an error, so a recorder can fall back.
#[derive(Debug, Clone)]
pub struct PlaylistTracker {
    live_edge_segments: usize,
    last: Option<u64>,
    /// (sequence, uri) of recent segments, to tell a reset from a reload.
    recent: VecDeque<(u64, String)>,
    map: Option<String>,
}

const RECENT: usize = 64;

impl PlaylistTracker {
    /// A tracker that starts `live_edge_segments` (at least 1) from the end.
    pub fn new(live_edge_segments: usize) -> Self {
        PlaylistTracker {
            live_edge_segments: live_edge_segments.max(1),
            last: None,
            recent: VecDeque::new(),
            map: None,
        }
    }

    /// The last sequence number handed out.
    pub fn last_sequence(&self) -> Option<u64> {
        self.last
    }

    /// Parses a reload of the playlist and returns the new segments.
    pub fn update(&mut self, playlist: &[u8]) -> Result<PlaylistUpdate, StreamError> {
        let parsed = m3u8_rs::parse_playlist_res(playlist)
            .map_err(|e| StreamError::Playlist(short(&format!("{e:?}"))))?;
        let media = match parsed {
            Playlist::MasterPlaylist(_) => return Err(StreamError::MasterPlaylist),
            Playlist::MediaPlaylist(m) => m,
        };
        let mut update = PlaylistUpdate {
            ended: media.end_list,
            target_duration: media.target_duration as f64,
            ..Default::default()
        };
        let first = media.media_sequence;
        let count = media.segments.len() as u64;
        // A reset: the newest sequence is older than what we have, or a
        // sequence we handed out now names another URI.
        let reset = match self.last {
            Some(last) if count > 0 && first + count - 1 < last => true,
            Some(_) => media.segments.iter().enumerate().any(|(i, s)| {
                let seq = first + i as u64;
                self.recent.iter().any(|(q, u)| *q == seq && *u != s.uri)
            }),
            None => false,
        };
        if reset {
            update.reset = true;
            self.recent.clear();
            // Everything listed is new; start where a fresh recording would.
            self.last = None;
        }
        let start = match self.last {
            Some(last) => {
                if first > last + 1 {
                    update.missed = first - last - 1;
                }
                (last + 1).saturating_sub(first) as usize
            }
            None => media.segments.len().saturating_sub(self.live_edge_segments),
        };
        let mut first_new = true;
        for (i, seg) in media.segments.iter().enumerate() {
            if let Some(key) = &seg.key {
                match &key.method {
                    KeyMethod::None => {}
                    KeyMethod::AES128 => return Err(StreamError::Encrypted("AES-128".into())),
                    KeyMethod::SampleAES => {
                        return Err(StreamError::Encrypted("SAMPLE-AES".into()));
                    }
                    KeyMethod::Other(m) => return Err(StreamError::Encrypted(short(m))),
                }
            }
            if let Some(map) = &seg.map {
                if map.byte_range.is_some() {
                    return Err(StreamError::Playlist(
                        "EXT-X-MAP with a byte range is not supported".into(),
                    ));
                }
                self.map = Some(map.uri.clone());
            }
            if i < start {
                continue;
            }
            if seg.byte_range.is_some() {
                return Err(StreamError::Playlist(
                    "EXT-X-BYTERANGE segments are not supported".into(),
                ));
            }
            let sequence = first + i as u64;
            let discontinuity =
                seg.discontinuity || (first_new && (update.reset || update.missed > 0));
            first_new = false;
            update.new_segments.push(HlsSegment {
                sequence,
                uri: seg.uri.clone(),
                duration: f64::from(seg.duration),
                discontinuity,
                init: self.map.clone(),
            });
            if self.recent.len() >= RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back((sequence, seg.uri.clone()));
            self.last = Some(sequence);
        }
        Ok(update)
    }
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playlist(first: u64, uris: &[&str], end: bool) -> Vec<u8> {
        let mut s = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
        );
        for u in uris {
            s.push_str(&format!("#EXTINF:1.000000,\n{u}\n"));
        }
        if end {
            s.push_str("#EXT-X-ENDLIST\n");
        }
        s.into_bytes()
    }

    #[test]
    fn hands_out_each_segment_once_from_the_live_edge() {
        let mut t = PlaylistTracker::new(2);
        let u = t.update(&playlist(10, &["a10.ts", "a11.ts", "a12.ts"], false)).unwrap();
        let seqs: Vec<u64> = u.new_segments.iter().map(|s| s.sequence).collect();
        assert_eq!(seqs, [11, 12]);
        let u = t.update(&playlist(11, &["a11.ts", "a12.ts", "a13.ts"], false)).unwrap();
        assert_eq!(u.new_segments.len(), 1);
        assert_eq!(u.new_segments[0].uri, "a13.ts");
        assert!(!u.new_segments[0].discontinuity);
        let u = t.update(&playlist(11, &["a11.ts", "a12.ts", "a13.ts"], true)).unwrap();
        assert!(u.new_segments.is_empty() && u.ended);
    }

    #[test]
    fn a_sequence_jump_is_a_gap_and_a_reset_starts_again() {
        let mut t = PlaylistTracker::new(1);
        t.update(&playlist(5, &["s5.ts"], false)).unwrap();
        let u = t.update(&playlist(9, &["s9.ts", "s10.ts"], false)).unwrap();
        assert_eq!(u.missed, 3);
        assert!(u.new_segments[0].discontinuity && !u.new_segments[1].discontinuity);
        let u = t.update(&playlist(0, &["n0.ts", "n1.ts"], false)).unwrap();
        assert!(u.reset);
        assert_eq!(u.new_segments.len(), 1);
        assert!(u.new_segments[0].discontinuity);
        assert_eq!(u.new_segments[0].uri, "n1.ts");
    }

    #[test]
    fn refuses_encryption_and_master_playlists() {
        let mut t = PlaylistTracker::new(1);
        let enc = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:1,\na.ts\n";
        assert_eq!(t.update(enc).unwrap_err(), StreamError::Encrypted("AES-128".into()));
        let master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n";
        assert_eq!(t.update(master).unwrap_err(), StreamError::MasterPlaylist);
    }

    #[test]
    fn fmp4_segments_carry_their_map() {
        let mut t = PlaylistTracker::new(3);
        let pl = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1,\n1.m4s\n#EXTINF:1,\n2.m4s\n";
        let u = t.update(pl).unwrap();
        assert_eq!(u.new_segments.len(), 2);
        assert!(u.new_segments.iter().all(|s| s.init.as_deref() == Some("init.mp4")));
    }
}
