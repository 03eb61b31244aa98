//! The reader and the repair rules on real FLV made by ffmpeg, checked with
//! ffprobe/ffmpeg. The broken streams are built here from those real tags
//! (the same damage CDNs do: timestamp jumps and resets, replays after a
//! reconnect, a resolution change).

use std::path::{Path, PathBuf};
use std::process::Command;

use onelive_stream::flv::{
    FlvPartWriter, FlvReader, FlvRepairer, Item, Output, RepairConfig, SplitReason, Tag, TagKind,
};
use proptest::prelude::*;

/// A real FLV from ffmpeg: H.264 + AAC, `secs` seconds at 15 fps, a keyframe every second.
fn encode(dir: &Path, name: &str, size: &str, secs: u32) -> Vec<u8> {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=15"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t"])
        .arg(secs.to_string())
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "15",
            "-keyint_min",
            "15",
            "-sc_threshold",
            "0",
        ])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

fn read_all(bytes: &[u8], chunk: usize) -> Vec<Item> {
    let mut r = FlvReader::new();
    let mut items = Vec::new();
    for c in bytes.chunks(chunk.max(1)) {
        r.push(c);
        while let Some(item) = r.next_item().unwrap() {
            items.push(item);
        }
    }
    items
}

fn tags(items: &[Item]) -> Vec<Tag> {
    items.iter().filter_map(|i| if let Item::Tag(t) = i { Some(t.clone()) } else { None }).collect()
}

/// Runs the repairer over `items` and writes the parts into `dir`.
fn repair_to_files(
    items: Vec<Item>,
    cfg: RepairConfig,
    dir: &Path,
) -> (Vec<PathBuf>, Vec<SplitReason>, FlvRepairer, Vec<onelive_stream::flv::PartSummary>) {
    let mut rep = FlvRepairer::new(cfg);
    let mut files: Vec<PathBuf> = Vec::new();
    let mut reasons = Vec::new();
    let mut summaries = Vec::new();
    let mut current: Option<(FlvPartWriter, Vec<u8>)> = None;
    let mut out = Vec::new();
    let close = |cur: Option<(FlvPartWriter, Vec<u8>)>,
                 files: &mut Vec<PathBuf>,
                 summaries: &mut Vec<_>| {
        if let Some((w, mut bytes)) = cur {
            let (summary, meta) = w.finish();
            let off = w.metadata_offset() as usize;
            bytes[off..off + meta.len()].copy_from_slice(&meta);
            let path = dir.join(format!("part{}.flv", files.len() + 1));
            std::fs::write(&path, bytes).unwrap();
            files.push(path);
            summaries.push(summary);
        }
    };
    for item in items {
        rep.push(item, &mut out);
        for o in out.drain(..) {
            match o {
                Output::NewPart { header, reason } => {
                    close(current.take(), &mut files, &mut summaries);
                    reasons.push(reason);
                    let mut w = FlvPartWriter::new(header, 1000);
                    let start = w.start();
                    current = Some((w, start));
                }
                Output::Tag(t) => {
                    let (w, bytes) = current.as_mut().expect("a tag before any part");
                    w.write_tag(&t, bytes);
                }
            }
        }
    }
    close(current.take(), &mut files, &mut summaries);
    (files, reasons, rep, summaries)
}

#[derive(Debug)]
struct Probe {
    video_pts: Vec<i64>,
    audio_pts: Vec<i64>,
    first_video_key: bool,
    width: u64,
    duration: f64,
}

fn probe(path: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=codec_type,pts,flags:stream=codec_type,width:format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "ffprobe complains about {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut p = Probe {
        video_pts: vec![],
        audio_pts: vec![],
        first_video_key: false,
        width: 0,
        duration: 0.0,
    };
    for s in v["streams"].as_array().unwrap() {
        if s["codec_type"] == "video" {
            p.width = s["width"].as_u64().unwrap_or(0);
        }
    }
    p.duration = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    for pkt in v["packets"].as_array().unwrap() {
        let pts = pkt["pts"].as_i64().unwrap();
        if pkt["codec_type"] == "video" {
            if p.video_pts.is_empty() {
                p.first_video_key = pkt["flags"].as_str().unwrap().starts_with('K');
            }
            p.video_pts.push(pts);
        } else {
            p.audio_pts.push(pts);
        }
    }
    p
}

/// `ffmpeg -v error -i FILE -f null -` prints nothing: the file decodes end to end.
fn decodes_cleanly(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{} does not decode cleanly: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn dts_of(items: &[Item], kind: TagKind) -> Vec<u32> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Tag(t) if t.kind == kind && t.is_media_frame() => Some(t.timestamp),
            _ => None,
        })
        .collect()
}

/// Audio frames before the first picture (a part starts at a keyframe).
fn audio_before_first_picture(items: &[Item]) -> usize {
    let first_video = items
        .iter()
        .position(|i| matches!(i, Item::Tag(t) if t.kind == TagKind::Video && t.is_media_frame()))
        .unwrap();
    items[..first_video]
        .iter()
        .filter(|i| matches!(i, Item::Tag(t) if t.kind == TagKind::Audio && t.is_media_frame()))
        .count()
}

fn check_part(path: &Path) -> Probe {
    let p = probe(path);
    decodes_cleanly(path);
    assert!(p.first_video_key, "{} does not start with a keyframe", path.display());
    assert_eq!(
        p.audio_pts.first().copied().unwrap_or(0).min(p.video_pts[0]),
        0,
        "{} does not start at 0",
        path.display()
    );
    for w in p.audio_pts.windows(2) {
        assert!(w[1] > w[0], "audio goes backwards in {}: {w:?}", path.display());
    }
    p
}

#[test]
fn a_clean_ffmpeg_flv_passes_through_unchanged_in_one_part() {
    let dir = tempfile::tempdir().unwrap();
    let src = encode(dir.path(), "src.flv", "320x180", 4);
    let items = read_all(&src, 1000);
    let src_video = dts_of(&items, TagKind::Video);
    assert_eq!(src_video.len(), 60);
    let (files, reasons, rep, summaries) =
        repair_to_files(items.clone(), RepairConfig::default(), dir.path());
    assert_eq!(reasons, [SplitReason::Start]);
    let s = rep.stats();
    assert_eq!((s.discontinuities, s.duplicates_dropped), (0, 0));
    // Only audio that comes before the first picture is left out.
    let audio_before = audio_before_first_picture(&items);
    assert_eq!(s.dropped_before_keyframe, audio_before as u64);
    let p = check_part(&files[0]);
    assert_eq!(p.video_pts.len(), 60);
    assert_eq!(p.audio_pts.len() + audio_before, dts_of(&items, TagKind::Audio).len());
    // The duration told by the stream's timestamps agrees with ffprobe's
    // packet timeline (last packet end) within 0.1 s.
    let packets_end = (*p.video_pts.last().unwrap() as f64 + 1000.0 / 15.0) / 1000.0;
    assert!(
        (summaries[0].duration - packets_end).abs() < 0.1,
        "{} vs {packets_end}",
        summaries[0].duration
    );
    assert!((p.duration - summaries[0].duration).abs() < 0.1);
    assert_eq!(summaries[0].bytes, std::fs::metadata(&files[0]).unwrap().len());
    assert_eq!(summaries[0].keyframes, 4);
}

/// The damage of a CDN, on real tags: jump forward 30 s, jump back 20 s,
/// reset to 0, a reconnect that replays the last 25 tags (with a new header
/// and the sequence headers again), then a second encode at another resolution.
#[test]
fn a_broken_stream_is_repaired_into_valid_monotonic_parts() {
    let dir = tempfile::tempdir().unwrap();
    let a = read_all(&encode(dir.path(), "a.flv", "320x180", 6), 4096);
    let b = read_all(&encode(dir.path(), "b.flv", "640x360", 3), 4096);
    let a_tags = tags(&a);
    let header = a[0].clone();
    let seq: Vec<Tag> = a_tags.iter().filter(|t| t.is_sequence_header()).cloned().collect();
    let mut broken = vec![header.clone()];
    let n = a_tags.len();
    let shift = |t: &Tag, by: i64| Tag {
        timestamp: (i64::from(t.timestamp) + by).max(0) as u32,
        ..t.clone()
    };
    for (i, t) in a_tags.iter().enumerate() {
        let by = if i < n / 5 {
            0
        } else if i < 2 * n / 5 {
            30_000
        } else if i < 3 * n / 5 {
            10_000
        } else {
            // Reset: the stream restarts its clock at 0.
            -i64::from(a_tags[3 * n / 5].timestamp)
        };
        broken.push(Item::Tag(shift(t, by)));
        if i == 4 * n / 5 {
            // Reconnect: a new header, the sequence headers, and the last 25
            // tags replayed with the new connection's own timestamps.
            broken.push(header.clone());
            for s in &seq {
                broken.push(Item::Tag(s.clone()));
            }
            for r in &a_tags[i - 24..=i] {
                if r.is_media_frame() {
                    broken.push(Item::Tag(shift(r, 5_000)));
                }
            }
        }
    }
    broken.extend(b.into_iter().skip(1));

    let (files, reasons, rep, summaries) =
        repair_to_files(broken, RepairConfig::default(), dir.path());
    let s = rep.stats();
    assert_eq!(reasons, [SplitReason::Start, SplitReason::CodecChange], "{s:?}");
    assert_eq!(s.reconnects, 1);
    assert!(s.duplicates_dropped >= 20, "{s:?}");
    assert!(s.discontinuities >= 3, "{s:?}");
    let p1 = check_part(&files[0]);
    let p2 = check_part(&files[1]);
    assert_eq!((p1.width, p2.width), (320, 640));
    // Nothing lost, nothing duplicated: every source frame once.
    assert_eq!(p1.video_pts.len(), dts_of(&a, TagKind::Video).len());
    assert_eq!(p2.video_pts.len(), 45);
    // Gapless within a part: no frame step larger than the jump threshold.
    for w in p1.video_pts.windows(2) {
        assert!(w[1] > w[0] && w[1] - w[0] <= 1500, "video jump in part 1: {w:?}");
    }
    assert!((summaries[0].duration - 6.0).abs() < 0.2, "part 1 lasts {}", summaries[0].duration);
}

#[test]
fn duration_splits_are_at_keyframes_and_lose_no_frame() {
    let dir = tempfile::tempdir().unwrap();
    let items = read_all(&encode(dir.path(), "src.flv", "320x180", 5), 777);
    let src_video = dts_of(&items, TagKind::Video).len();
    let src_audio = dts_of(&items, TagKind::Audio).len() - audio_before_first_picture(&items);
    let cfg = RepairConfig { split_after_ms: Some(2000), ..RepairConfig::default() };
    let (files, reasons, _, summaries) = repair_to_files(items, cfg, dir.path());
    assert_eq!(reasons, [SplitReason::Start, SplitReason::Duration, SplitReason::Duration]);
    let mut video = 0;
    let mut audio = 0;
    for (f, s) in files.iter().zip(&summaries) {
        let p = check_part(f);
        video += p.video_pts.len();
        audio += p.audio_pts.len();
        // Part N ends one frame before part N+1's keyframe: its last frame
        // plus one frame is its duration.
        let end = (*p.video_pts.last().unwrap() as f64 + 1000.0 / 15.0) / 1000.0;
        assert!((s.duration - end).abs() < 0.1, "{} vs {end}", s.duration);
    }
    assert_eq!((video, audio), (src_video, src_audio));
    assert_eq!(summaries.iter().map(|s| s.video_frames).collect::<Vec<_>>(), [30, 30, 15]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn no_input_makes_the_reader_or_repairer_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), chunk in 1usize..300) {
        let mut input = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        input.extend(bytes);
        let mut r = FlvReader::new();
        let mut rep = FlvRepairer::new(RepairConfig { split_after_bytes: Some(100), ..RepairConfig::default() });
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            r.push(c);
            while let Ok(Some(item)) = r.next_item() {
                rep.push(item, &mut out);
            }
        }
        let mut w = FlvPartWriter::new(onelive_stream::flv::FlvHeader { has_audio: true, has_video: true }, 5);
        let mut file = w.start();
        let reserved = file.len();
        for o in out {
            if let Output::Tag(t) = o { w.write_tag(&t, &mut file); }
        }
        prop_assert_eq!(w.finish().1.len() + 13, reserved);
    }
}

#[test]
fn mutated_real_flv_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let src = encode(dir.path(), "src.flv", "160x90", 1);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(128));
    runner
        .run(
            &(proptest::collection::vec((0..src.len(), any::<u8>()), 1..40), 1usize..5000),
            |(flips, chunk)| {
                let mut bytes = src.clone();
                for (at, v) in flips {
                    bytes[at] = v;
                }
                let mut r = FlvReader::new();
                let mut rep = FlvRepairer::new(RepairConfig::default());
                let mut out = Vec::new();
                for c in bytes.chunks(chunk) {
                    r.push(c);
                    while let Ok(Some(item)) = r.next_item() {
                        rep.push(item, &mut out);
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn no_playlist_makes_the_tracker_panic(text in "(#EXTM3U\n)?((#EXT-X-MEDIA-SEQUENCE:[0-9]{1,3}|#EXTINF:[0-9.]{1,4},|#EXT-X-DISCONTINUITY|#EXT-X-ENDLIST|#EXT-X-MAP:URI=\"i.mp4\"|#EXT-X-KEY:METHOD=[A-Z-]{1,8}|[a-z0-9]{1,4}\\.ts|[ -~]{0,20})\n){0,12}", raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut t = onelive_stream::hls::PlaylistTracker::new(2);
        let _ = t.update(text.as_bytes());
        let _ = t.update(&raw);
        let _ = t.update(text.as_bytes());
    }
}
