//! Native fMP4 HLS (`EXT-X-MAP` init sections, `.m4s` fragments): a live
//! playlist served by the test over ffmpeg-made fMP4 segments, revealed one
//! segment a second as a live origin does. Every part is checked with
//! ffprobe/ffmpeg.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use onelive_events::EventData;
use onelive_recorder::{
    EndReason, Engine, EventContext, RecordingConfig, SplitPolicy, StreamKind, StreamSource, record,
};
use tokio::io::AsyncWriteExt;

use crate::common::{drain, errors, probe, read_head};
use crate::native::{check_finished_within, packets};

/// ffmpeg's fMP4 init section delays the video track by one AAC frame's
/// priming (an empty edit of 23 ms); parts keep the init section as it is.
const EDIT_DELAY: f64 = 0.03;

/// One media segment of the origin: its file, EXTINF and init section.
#[derive(Clone)]
struct Seg {
    file: String,
    duration: f64,
    map: String,
}

/// Encodes `secs` s of `size` fMP4 HLS into `dir` with names prefixed `tag`.
async fn encode(dir: &Path, tag: &str, size: &str, secs: u32) -> Vec<Seg> {
    let status = tokio::process::Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-v", "error", "-nostdin", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=25"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t"])
        .arg(secs.to_string())
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0"])
        .args(["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename"])
        .arg(format!("init_{tag}.mp4"))
        .arg("-hls_segment_filename")
        .arg(format!("{tag}%d.m4s"))
        .arg(format!("{tag}.m3u8"))
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(dir.join(format!("{tag}.m3u8"))).unwrap();
    let mut out = Vec::new();
    let mut dur = 0.0;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            dur = d.trim_end_matches(',').parse().unwrap();
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push(Seg { file: line.to_owned(), duration: dur, map: format!("init_{tag}.mp4") });
        }
    }
    assert!(out.len() >= 4, "{text}");
    out
}

/// Serves `dir` and a live playlist over `segs`: 3 segments at first, one
/// more each second, a window of 6, `#EXT-X-ENDLIST` once all are out.
async fn live_origin(dir: PathBuf, segs: Vec<Seg>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let started = tokio::time::Instant::now();
    let (dir, segs) = (Arc::new(dir), Arc::new(segs));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (dir, segs) = (dir.clone(), segs.clone());
            tokio::spawn(async move {
                let Some(text) = read_head(&mut sock).await else { return };
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let name = path.trim_start_matches('/').split('?').next().unwrap_or("").to_owned();
                let body = if name == "live.m3u8" {
                    let shown = (3 + started.elapsed().as_secs() as usize).min(segs.len());
                    let first = shown.saturating_sub(6);
                    let mut p = format!(
                        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
                    );
                    let mut map = "";
                    for s in &segs[first..shown] {
                        if s.map != map {
                            map = &s.map;
                            p.push_str(&format!("#EXT-X-MAP:URI=\"{map}\"\n"));
                        }
                        p.push_str(&format!("#EXTINF:{:.6},\n{}\n", s.duration, s.file));
                    }
                    if shown == segs.len() {
                        p.push_str("#EXT-X-ENDLIST\n");
                    }
                    Some(p.into_bytes())
                } else if !name.contains('/') && !name.contains("..") {
                    std::fs::read(dir.join(&name)).ok()
                } else {
                    None
                };
                let reply = match body {
                    Some(b) => {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(&b);
                        r
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = sock.write_all(&reply).await;
            });
        }
    });
    format!("http://{addr}/live.m3u8?token=fmp4secret")
}

fn config(url: String, dir: &Path) -> RecordingConfig {
    let mut cfg = RecordingConfig::new(StreamSource::new(url, StreamKind::Hls), dir);
    cfg.engine = Engine::Native;
    cfg.min_free_bytes = 0;
    cfg
}

async fn run(
    cfg: RecordingConfig,
) -> (onelive_recorder::RecordingOutcome, Vec<onelive_events::Event>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let recording = record(cfg, EventContext::new("test", "fmp4"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), recording.wait())
        .await
        .expect("the stream ends");
    let events = drain(&mut rx);
    (outcome, events)
}

#[tokio::test]
async fn fmp4_hls_is_recorded_natively_in_gapless_parts_that_start_at_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let segs = encode(&media, "a", "320x240", 6).await;
    let frames = packets(&media.join("a.m3u8")).await.video_pts.len();
    let url = live_origin(media.clone(), segs).await;
    let mut cfg = config(url, &tmp.path().join("out"));
    cfg.split = SplitPolicy { max_duration: Some(Duration::from_secs(2)), max_bytes: None };
    let (outcome, events) = run(cfg).await;
    assert_eq!(outcome.reason, EndReason::StreamEnded, "{:?}", errors(&events));
    assert!(errors(&events).is_empty(), "no fallback, no gap: {:?}", errors(&events));
    assert_eq!(outcome.files.len(), 3, "6 s in 2 s parts: {outcome:?}");
    for f in &outcome.files {
        assert_eq!(f.path.extension().unwrap(), "m4s");
        let (duration, types) = probe(&f.path).await;
        assert_eq!(types, ["audio", "video"]);
        assert!(
            (duration - f.duration).abs() < 0.1,
            "{}: ffprobe {duration}, event {}",
            f.path.display(),
            f.duration
        );
    }
    // Valid, decodes, starts at 0 (up to the 23 ms empty edit ffmpeg's init
    // section gives the video track), monotonic, true sizes and durations.
    let parts = check_finished_within(&events, EDIT_DELAY).await;
    // Gapless: every frame of the stream once, over the parts.
    let recorded: usize = parts.iter().map(|p| p.video_pts.len()).sum();
    assert_eq!(recorded, frames);
}

#[tokio::test]
async fn a_new_init_section_mid_stream_starts_a_new_part() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let mut segs = encode(&media, "a", "320x240", 4).await;
    segs.extend(encode(&media, "b", "640x480", 4).await);
    let url = live_origin(media.clone(), segs).await;
    let (outcome, events) = run(config(url, &tmp.path().join("out"))).await;
    assert_eq!(outcome.reason, EndReason::StreamEnded, "{:?}", errors(&events));
    assert_eq!(outcome.files.len(), 2, "{outcome:?} {:?}", errors(&events));
    let parts = check_finished_within(&events, EDIT_DELAY).await;
    assert_eq!((parts[0].width, parts[1].width), (320, 640));
    for p in &parts {
        assert!((p.end - 4.0).abs() < 0.15, "each encode is 4 s: {p:?}");
    }
    let created = events.iter().filter(|e| matches!(e.data, EventData::VideoFileCreate(_))).count();
    assert_eq!(created, 2);
}

#[tokio::test]
async fn fmp4_hls_with_ts_asked_for_falls_back_to_ffmpeg_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let segs = encode(&media, "a", "320x240", 4).await;
    let url = live_origin(media.clone(), segs).await;
    let mut cfg = config(url, &tmp.path().join("out"));
    cfg.container = Some(onelive_recorder::Container::Ts);
    let (outcome, events) = run(cfg).await;
    let errs = errors(&events);
    assert!(
        errs.iter()
            .any(|e| e.contains("fMP4 (EXT-X-MAP)") && e.contains("recording it with ffmpeg")),
        "{errs:?}"
    );
    assert!(!errs.iter().any(|e| e.contains("fmp4secret")), "{errs:?}");
    assert!(!outcome.files.is_empty(), "{outcome:?}");
    assert!(outcome.files.iter().all(|f| f.path.extension().unwrap() == "ts"));
}
