//! The native engine against live loopback origins: the synthetic FLV
//! channel and the scripted broken FLV origin. Every file is checked with
//! ffprobe/ffmpeg.

use std::path::Path;
use std::time::Duration;

use onelive_events::EventData;
use onelive_recorder::{
    EndReason, Engine, EventContext, RecordingConfig, SplitPolicy, StreamKind, StreamSource, record,
};
use onelive_synthetic::{BrokenFlvOptions, BrokenFlvOrigin, SyntheticOptions, SyntheticOrigin};

use crate::common::{drain, errors};

fn native(url: String, kind: StreamKind, dir: &Path) -> RecordingConfig {
    let mut cfg = RecordingConfig::new(StreamSource::new(url, kind), dir);
    cfg.engine = Engine::Native;
    cfg.min_free_bytes = 0;
    cfg
}

/// What ffprobe sees in a file, packet by packet.
#[derive(Debug)]
pub struct Packets {
    pub video_pts: Vec<f64>,
    pub audio_pts: Vec<f64>,
    pub first_video_key: bool,
    /// Video packets flagged as keyframes.
    pub video_keys: usize,
    pub width: u64,
    /// End of the last packet (pts + duration), the timeline's own duration.
    pub end: f64,
}

pub async fn packets(path: &Path) -> Packets {
    let out = tokio::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=codec_type,pts_time,duration_time,flags:stream=codec_type,width",
        ])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut p = Packets {
        video_pts: vec![],
        audio_pts: vec![],
        first_video_key: false,
        video_keys: 0,
        width: 0,
        end: 0.0,
    };
    for s in v["streams"].as_array().unwrap() {
        if s["codec_type"] == "video" {
            p.width = s["width"].as_u64().unwrap_or(0);
        }
    }
    for pkt in v["packets"].as_array().unwrap() {
        let pts: f64 = pkt["pts_time"].as_str().unwrap().parse().unwrap();
        let dur: f64 = pkt["duration_time"].as_str().and_then(|d| d.parse().ok()).unwrap_or(0.0);
        p.end = p.end.max(pts + dur);
        if pkt["codec_type"] == "video" {
            let key = pkt["flags"].as_str().unwrap().starts_with('K');
            if p.video_pts.is_empty() {
                p.first_video_key = key;
            }
            p.video_keys += usize::from(key);
            p.video_pts.push(pts);
        } else {
            p.audio_pts.push(pts);
        }
    }
    p
}

/// `ffmpeg -v error -i FILE -f null -` prints nothing.
pub async fn decodes_cleanly(path: &Path) {
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{} does not decode cleanly: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every finished file: valid, decodes end to end, starts at 0 with a
/// keyframe, never goes backwards; its event has the true size and a
/// duration within 0.1 s of the packets' timeline. Returns the files' packets.
pub async fn check_finished(events: &[onelive_events::Event]) -> Vec<Packets> {
    check_finished_within(events, 1e-9).await
}

/// [`check_finished`] with the first timestamp allowed up to `max_start`
/// (an fMP4 init section's edit list may delay a track).
pub async fn check_finished_within(
    events: &[onelive_events::Event],
    max_start: f64,
) -> Vec<Packets> {
    let mut out = Vec::new();
    for e in events {
        let EventData::VideoFileFinish(f) = &e.data else { continue };
        let path = Path::new(&f.path);
        assert_eq!(f.filesize, std::fs::metadata(path).unwrap().len(), "true size of {}", f.path);
        decodes_cleanly(path).await;
        let p = packets(path).await;
        assert!(p.first_video_key, "{} does not start with a keyframe", f.path);
        let first = p.video_pts[0].min(p.audio_pts.first().copied().unwrap_or(f64::MAX));
        assert!(first.abs() <= max_start, "{} starts at {first}", f.path);
        for (name, pts) in [("video", &p.video_pts), ("audio", &p.audio_pts)] {
            for w in pts.windows(2) {
                assert!(w[1] > w[0], "{name} goes backwards in {}: {w:?}", f.path);
            }
        }
        assert!(
            (f.duration - p.end).abs() < 0.1,
            "{}: event says {} s, packets end at {}",
            f.path,
            f.duration,
            p.end
        );
        out.push(p);
    }
    out
}

#[tokio::test]
async fn a_broken_cdn_flv_stream_is_recorded_repaired() {
    let origin = BrokenFlvOrigin::start(BrokenFlvOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let cfg = native(origin.url(), StreamKind::Flv, dir.path());
    let recording = record(cfg, EventContext::new("test", "chan"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), recording.wait())
        .await
        .expect("the stream ends");
    let events = drain(&mut rx);
    assert_eq!(outcome.reason, EndReason::StreamEnded, "{:?}", errors(&events));
    assert_eq!(origin.connections_served(), 2, "the recorder reconnected once");
    // The resolution change starts part 2; the reconnect stays in part 1.
    assert_eq!(outcome.files.len(), 2, "{outcome:?}");
    let parts = check_finished(&events).await;
    assert_eq!((parts[0].width, parts[1].width), (320, 640));
    let (a, b) = origin.video_frames();
    // Every frame exactly once: nothing lost at the reconnect, the replay dropped.
    assert_eq!((parts[0].video_pts.len(), parts[1].video_pts.len()), (a, b));
    // The jumps and the reset were stitched: no hole longer than a frame or two.
    for w in parts[0].video_pts.windows(2) {
        assert!(w[1] - w[0] < 0.2, "a gap in part 1: {w:?}");
    }
    assert!((outcome.files[0].duration - 6.0).abs() < 0.2, "{outcome:?}");
}

#[tokio::test]
async fn flv_duration_splits_are_gapless() {
    let opts =
        SyntheticOptions { duration: Some(Duration::from_secs(7)), ..SyntheticOptions::default() };
    let fps = opts.fps as usize;
    let origin = SyntheticOrigin::start(opts).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let mut cfg = native(origin.flv_url(), StreamKind::Flv, dir.path());
    cfg.split = SplitPolicy { max_duration: Some(Duration::from_secs(2)), max_bytes: None };
    let recording = record(cfg, EventContext::new("test", "chan"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), recording.wait())
        .await
        .expect("the stream ends");
    let events = drain(&mut rx);
    assert_eq!(outcome.reason, EndReason::StreamEnded, "{:?}", errors(&events));
    assert!(errors(&events).is_empty(), "{:?}", errors(&events));
    let parts = check_finished(&events).await;
    assert_eq!(parts.len(), 4, "{outcome:?}");
    // Each split is at a keyframe (1 s GOP): exactly 2 s of frames per part,
    // and all 7 s of frames across the parts, none lost or duplicated.
    let counts: Vec<usize> = parts.iter().map(|p| p.video_pts.len()).collect();
    assert_eq!(counts, [2 * fps, 2 * fps, 2 * fps, fps]);
    // Part N ends one frame before part N+1 starts: last PTS + one frame
    // is its duration, and the next part starts at 0.
    for p in &parts[..3] {
        assert!(
            (p.video_pts.last().unwrap() + 1.0 / fps as f64 - 2.0).abs() < 1e-3,
            "{:?}",
            p.video_pts.last()
        );
    }
    assert_eq!(outcome.next_part, 5);
}

#[tokio::test]
async fn a_stream_that_is_not_flv_falls_back_to_ffmpeg_with_an_error_event() {
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    // An HLS playlist announced as FLV.
    let mut cfg = native(origin.hls_url(), StreamKind::Flv, dir.path());
    cfg.stop_after = Some(Duration::from_secs(3));
    let recording = record(cfg, EventContext::new("test", "chan"), tx).await.unwrap();
    let outcome =
        tokio::time::timeout(Duration::from_secs(120), recording.wait()).await.expect("it ends");
    let events = drain(&mut rx);
    let errs = errors(&events);
    assert!(
        errs.iter().any(|e| e.contains("native engine cannot record this stream")
            && e.contains("not an FLV stream")),
        "{errs:?}"
    );
    // ffmpeg took over and recorded it.
    assert_eq!(outcome.reason, EndReason::LimitReached, "{errs:?}");
    assert_eq!(outcome.files.len(), 1);
}

#[tokio::test]
async fn stopping_a_native_flv_recording_finalizes_a_seekable_file() {
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let cfg = native(origin.flv_url(), StreamKind::Flv, dir.path());
    let recording = record(cfg, EventContext::new("test", "chan"), tx).await.unwrap();
    // Wait for three seconds of media (a condition, not a time).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while recording.progress().media_time < Duration::from_secs(3) {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", recording.progress());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let outcome = recording.stop().await;
    assert_eq!(outcome.reason, EndReason::Stopped);
    let events = drain(&mut rx);
    let parts = check_finished(&events).await;
    assert_eq!(parts.len(), 1);
    // The onMetaData written at close: ffprobe's format duration is ours,
    // and the keyframe index lets ffmpeg seek to the last second directly.
    let f = &outcome.files[0];
    let (duration, _) = crate::common::probe(&f.path).await;
    assert!((duration - f.duration).abs() < 1e-3);
    let seek = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-ss"])
        .arg(format!("{:.3}", f.duration - 1.0))
        .arg("-i")
        .arg(&f.path)
        .args(["-f", "null", "-"])
        .output()
        .await
        .unwrap();
    assert!(
        seek.status.success() && seek.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&seek.stderr)
    );
    // The keyframe index: one entry per keyframe ffprobe sees, each file
    // position the start of a video keyframe tag with that timestamp.
    let bytes = std::fs::read(&f.path).unwrap();
    let times = amf_numbers_after(&bytes, b"times");
    let positions = amf_numbers_after(&bytes, b"filepositions");
    assert_eq!(times.len(), parts[0].video_keys, "{times:?}");
    assert_eq!(positions.len(), times.len());
    let keyframe_tags = video_keyframe_tags(&bytes);
    let index: Vec<(u64, u32)> = positions
        .iter()
        .zip(&times)
        .map(|(p, t)| (*p as u64, (t * 1000.0).round() as u32))
        .collect();
    assert_eq!(index, keyframe_tags);
    let meta_duration = amf_numbers_after(&bytes, b"duration");
    assert!((meta_duration[0] - f.duration).abs() < 1e-6, "{meta_duration:?}");
    let filesize = amf_numbers_after(&bytes, b"filesize");
    assert_eq!(filesize[0] as u64, f.size);
}

/// The AMF0 number, or the numbers of the strict array, that follow the
/// property `name` in the file's `onMetaData` (the first script tag).
fn amf_numbers_after(flv: &[u8], name: &[u8]) -> Vec<f64> {
    let mut key = (name.len() as u16).to_be_bytes().to_vec();
    key.extend_from_slice(name);
    let at = flv.windows(key.len()).position(|w| w == key).expect("property in onMetaData");
    let mut i = at + key.len();
    let num = |i: usize| f64::from_be_bytes(flv[i..i + 8].try_into().unwrap());
    match flv[i] {
        0x00 => vec![num(i + 1)],
        0x0a => {
            let n = u32::from_be_bytes(flv[i + 1..i + 5].try_into().unwrap()) as usize;
            i += 5;
            (0..n)
                .map(|k| {
                    assert_eq!(flv[i + k * 9], 0x00, "a number");
                    num(i + k * 9 + 1)
                })
                .collect()
        }
        t => panic!("AMF type {t} after {}", String::from_utf8_lossy(name)),
    }
}

/// (file offset, timestamp in ms) of every video keyframe tag (not the
/// sequence header), walking the tags from the header.
fn video_keyframe_tags(flv: &[u8]) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    let mut i = 13;
    while i + 11 <= flv.len() {
        let size =
            usize::from(flv[i + 1]) << 16 | usize::from(flv[i + 2]) << 8 | usize::from(flv[i + 3]);
        let ts = u32::from(flv[i + 7]) << 24
            | u32::from(flv[i + 4]) << 16
            | u32::from(flv[i + 5]) << 8
            | u32::from(flv[i + 6]);
        if flv[i] == 9 && size >= 2 && flv[i + 11] >> 4 == 1 && flv[i + 12] == 1 {
            out.push((i as u64, ts));
        }
        i += 11 + size + 4;
    }
    assert_eq!(i, flv.len(), "the tags fill the file exactly");
    out
}

#[tokio::test]
async fn native_hls_splits_at_segment_boundaries_with_true_durations() {
    let opts =
        SyntheticOptions { duration: Some(Duration::from_secs(8)), ..SyntheticOptions::default() };
    let origin = SyntheticOrigin::start(opts).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let mut cfg = native(origin.hls_url(), StreamKind::Hls, dir.path());
    cfg.split = SplitPolicy { max_duration: Some(Duration::from_secs(2)), max_bytes: None };
    let recording = record(cfg, EventContext::new("test", "chan"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), recording.wait())
        .await
        .expect("the stream ends");
    let events = drain(&mut rx);
    assert_eq!(outcome.reason, EndReason::StreamEnded, "{:?}", errors(&events));
    assert!(errors(&events).is_empty(), "{:?}", errors(&events));
    assert!(outcome.files.len() >= 3, "{outcome:?}");
    let mut frames = 0;
    let mut previous: Option<Packets> = None;
    for e in &events {
        let EventData::VideoFileFinish(f) = &e.data else { continue };
        let path = Path::new(&f.path);
        assert_eq!(f.filesize, std::fs::metadata(path).unwrap().len());
        decodes_cleanly(path).await;
        let p = packets(path).await;
        // Gapless: the parts keep the origin's timestamps, so part N+1's
        // first frame is part N's last frame plus one frame (15 fps), and
        // its first audio frame follows the last one by at most one frame.
        if let Some(prev) = &previous {
            let step = p.video_pts[0] - prev.video_pts.last().unwrap();
            assert!((step - 1.0 / 15.0).abs() < 1e-3, "{}: video step {step}", f.path);
            let a = p.audio_pts[0] - prev.audio_pts.last().unwrap();
            assert!(a > 0.0 && a < 0.05, "{}: audio step {a}", f.path);
        }
        // The transmux of a part (stream copy to .mp4, verified) starts the
        // .mp4 at 0 with the part's duration.
        let job = onelive_transmux::TransmuxJob::new(path, onelive_transmux::OutputFormat::Mp4);
        let report = onelive_transmux::transmux(&job, &Default::default()).await.unwrap();
        let (mp4_duration, _) = crate::common::probe(&report.output).await;
        assert!((mp4_duration - f.duration).abs() < 0.1, "{}: mp4 {mp4_duration}", f.path);
        let mp4 = packets(&report.output).await;
        let mp4_first = mp4.video_pts[0].min(mp4.audio_pts[0]);
        assert!(mp4_first.abs() < 0.05, "{}: the .mp4 starts at {mp4_first}", f.path);
        assert_eq!(mp4.video_pts.len(), p.video_pts.len(), "every frame in the .mp4");
        assert!(p.first_video_key, "{} does not start with a keyframe", f.path);
        for w in p.video_pts.windows(2) {
            assert!(w[1] > w[0], "video goes backwards in {}: {w:?}", f.path);
        }
        let (duration, types) = crate::common::probe(path).await;
        assert_eq!(types, ["audio", "video"]);
        assert!(
            (f.duration - duration).abs() < 0.1,
            "{}: event {} vs ffprobe {duration}",
            f.path,
            f.duration
        );
        frames += p.video_pts.len();
        previous = Some(p);
    }
    // Consecutive segments, each once: the frames add up to whole seconds
    // of the 15 fps stream (the recording starts a few segments behind the
    // live edge, so not necessarily from the first second).
    assert_eq!(frames % 15, 0, "{frames} frames");
    // The parts joined byte for byte (`cat`) are one clean stream: every
    // frame once, one frame apart.
    let joined = dir.path().join("joined.ts");
    let mut all = Vec::new();
    for f in &outcome.files {
        all.extend_from_slice(&std::fs::read(&f.path).unwrap());
    }
    std::fs::write(&joined, all).unwrap();
    decodes_cleanly(&joined).await;
    let p = packets(&joined).await;
    assert_eq!(p.video_pts.len(), frames);
    for w in p.video_pts.windows(2) {
        assert!((w[1] - w[0] - 1.0 / 15.0).abs() < 1e-3, "a jump in the joined parts: {w:?}");
    }
}

#[tokio::test]
async fn native_unreachable_origin_is_reported_without_secrets() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for kind in [StreamKind::Flv, StreamKind::Hls] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("http://127.0.0.1:{port}/live.flv?token=supersecret-token");
        let mut cfg = native(url, kind, dir.path());
        cfg.source = cfg.source.with_cookie("SESSDATA=cookie-secret-value");
        cfg.reconnect = false;
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let recording = record(cfg, EventContext::new("test", "chan"), tx).await.unwrap();
        let outcome =
            tokio::time::timeout(Duration::from_secs(20), recording.wait()).await.unwrap();
        let EndReason::SourceLost { stderr } = &outcome.reason else { panic!("{outcome:?}") };
        assert!(stderr.contains("Connection refused"), "{stderr}");
        let events = drain(&mut rx);
        let errs = errors(&events);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("lost the stream source"), "{errs:?}");
        for text in [stderr, &errs[0]] {
            assert!(
                !text.contains("supersecret-token") && !text.contains("cookie-secret"),
                "{text}"
            );
        }
        assert!(outcome.files.is_empty() && outcome.discarded.is_empty());
    }
}

#[tokio::test]
async fn native_watchdog_fires_when_the_origin_stalls_and_the_file_is_kept() {
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    for (url, kind) in [(origin.flv_url(), StreamKind::Flv), (origin.hls_url(), StreamKind::Hls)] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = native(url, kind, dir.path());
        cfg.stall_timeout = Duration::from_secs(3);
        cfg.io_timeout = Duration::from_secs(60);
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let recording = record(cfg, EventContext::new("test", "chan"), tx).await.unwrap();
        crate::common::wait_for_file_bytes(&recording, 80_000).await;
        origin.freeze();
        let outcome =
            tokio::time::timeout(Duration::from_secs(30), recording.wait()).await.unwrap();
        origin.unfreeze();
        assert_eq!(
            outcome.reason,
            EndReason::Stalled { after: Duration::from_secs(3) },
            "{kind:?} {outcome:?}"
        );
        let events = drain(&mut rx);
        assert_eq!(outcome.files.len(), 1, "{outcome:?}");
        assert!(errors(&events).iter().any(|e| e.contains("stalled")));
        assert_eq!(outcome.next_part, 2, "the caller restarts into part 2");
        let (duration, types) = crate::common::probe(&outcome.files[0].path).await;
        assert_eq!(types, ["audio", "video"]);
        assert!(
            (duration - outcome.files[0].duration).abs() < 0.1,
            "{kind:?}: {duration} vs {outcome:?}"
        );
    }
}

#[tokio::test]
async fn native_origin_killed_mid_recording_is_source_lost_with_a_valid_file() {
    let mut origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = native(origin.hls_url(), StreamKind::Hls, dir.path());
    cfg.stall_timeout = Duration::from_secs(4);
    cfg.io_timeout = Duration::from_secs(3);
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let recording = record(cfg, EventContext::new("test", "chan"), tx).await.unwrap();
    crate::common::wait_for_file_bytes(&recording, 80_000).await;
    origin.stop().await;
    let outcome = tokio::time::timeout(Duration::from_secs(30), recording.wait()).await.unwrap();
    let EndReason::SourceLost { stderr } = &outcome.reason else { panic!("{outcome:?}") };
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert_eq!(outcome.files.len(), 1, "{outcome:?}");
    let events = drain(&mut rx);
    assert!(errors(&events).iter().any(|e| e.contains("lost the stream source")));
    check_finished_ts(&events).await;
}

/// TS parts: valid, decode cleanly, true sizes, durations within 0.1 s of ffprobe.
async fn check_finished_ts(events: &[onelive_events::Event]) {
    for e in events {
        let EventData::VideoFileFinish(f) = &e.data else { continue };
        let path = Path::new(&f.path);
        assert_eq!(f.filesize, std::fs::metadata(path).unwrap().len());
        decodes_cleanly(path).await;
        let (duration, _) = crate::common::probe(path).await;
        assert!((f.duration - duration).abs() < 0.1, "{}: {} vs {duration}", f.path, f.duration);
    }
}

#[tokio::test]
async fn a_broken_hls_stream_gives_valid_parts_and_reports_the_gap() {
    use onelive_synthetic::{BrokenHlsOptions, BrokenHlsOrigin};
    let origin = BrokenHlsOrigin::start(BrokenHlsOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let cfg = native(origin.url(), StreamKind::Hls, dir.path());
    let recording = record(cfg, EventContext::new("test", "chan"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), recording.wait())
        .await
        .expect("the stream ends");
    let events = drain(&mut rx);
    let errs = errors(&events);
    assert_eq!(outcome.reason, EndReason::StreamEnded, "{errs:?}");
    // The 404 segment is retried, then recorded as a gap; the recording goes on.
    assert!(
        errs.iter().any(|e| e.contains("segment 3 failed") && e.contains("recorded as a gap")),
        "{errs:?}"
    );
    // A new part after the gap, after the media-sequence jump and at the
    // discontinuity (another resolution): each file has one timeline.
    assert!(outcome.files.len() >= 3, "{outcome:?} {errs:?}");
    let mut widths = Vec::new();
    let mut frames = 0;
    for f in &outcome.files {
        decodes_cleanly(&f.path).await;
        let p = packets(&f.path).await;
        assert!(p.first_video_key, "{} does not start with a keyframe", f.path.display());
        for w in p.video_pts.windows(2) {
            assert!(w[1] > w[0] && w[1] - w[0] < 0.2, "a jump in {}: {w:?}", f.path.display());
        }
        let (duration, _) = crate::common::probe(&f.path).await;
        assert!(
            (f.duration - duration).abs() < 0.1,
            "{}: {} vs {duration}",
            f.path.display(),
            f.duration
        );
        assert_eq!(p.video_pts.len() % 15, 0, "whole segments only");
        frames += p.video_pts.len();
        widths.push(p.width);
    }
    assert_eq!(widths.last(), Some(&480), "{widths:?}");
    assert!(widths[..widths.len() - 1].iter().all(|w| *w == 320), "{widths:?}");
    let (a, b) = origin.recordable_segments();
    assert!(frames <= ((a + b) * 15) as usize && frames >= (b * 15) as usize, "{frames} frames");
}

#[tokio::test]
async fn repair_flv_file_fixes_a_raw_dump_of_a_broken_stream() {
    let origin =
        BrokenFlvOrigin::start(BrokenFlvOptions { speed: 50.0, ..BrokenFlvOptions::default() })
            .await
            .unwrap();
    // What a recorder that writes the bytes as received leaves behind: both
    // connections' bytes, back to back.
    let mut raw = Vec::new();
    for _ in 0..2 {
        let mut resp = reqwest::get(origin.url()).await.unwrap();
        while let Ok(Some(chunk)) = resp.chunk().await {
            raw.extend_from_slice(&chunk);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("raw.flv");
    std::fs::write(&input, &raw).unwrap();
    let output = dir.path().join("fixed.flv");
    let report = tokio::task::spawn_blocking({
        let (i, o) = (input.clone(), output.clone());
        move || onelive_recorder::repair_flv_file(&i, &o)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.files.len(), 2, "{report:?}");
    assert_eq!(report.files[0].path, output);
    // How many replayed tags overlap depends on how much of connection 1
    // got out before its abort; the frame counts below are exact.
    assert!(report.stats.duplicates_dropped > 0 && report.stats.discontinuities >= 3, "{report:?}");
    assert_eq!(report.stats.reconnects, 1);
    let (a, b) = origin.video_frames();
    for (f, (frames, width)) in report.files.iter().zip([(a, 320), (b, 640)]) {
        decodes_cleanly(&f.path).await;
        let p = packets(&f.path).await;
        assert_eq!((p.video_pts.len(), p.width), (frames, width), "{}", f.path.display());
        assert!(
            p.video_pts.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] < 0.2),
            "{}",
            f.path.display()
        );
        assert!((f.duration - p.end).abs() < 0.1);
        assert_eq!(f.size, std::fs::metadata(&f.path).unwrap().len());
    }
    // Not an FLV: a clear error, nothing written.
    std::fs::write(dir.path().join("x.txt"), b"#EXTM3U\n").unwrap();
    let err =
        onelive_recorder::repair_flv_file(&dir.path().join("x.txt"), &dir.path().join("y.flv"))
            .unwrap_err();
    assert!(err.to_string().contains("not a readable FLV"), "{err}");
    assert!(!dir.path().join("y.flv").exists());
}
