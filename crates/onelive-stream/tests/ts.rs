//! `TsSpan` on real MPEG-TS made by ffmpeg, checked against ffprobe,
//! including a file whose 33-bit PTS wraps; arbitrary bytes never panic.

use std::path::Path;
use std::process::Command;

use onelive_stream::ts::TsSpan;
use proptest::prelude::*;

/// `secs` s of H.264 + AAC MPEG-TS from ffmpeg, timestamps starting at
/// `offset` s (ffmpeg's muxer writes them modulo 2^33, as an origin does).
fn encode(dir: &Path, name: &str, secs: u32, offset: f64) -> Vec<u8> {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t"])
        .arg(secs.to_string())
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-f", "mpegts", "-output_ts_offset"])
        .arg(offset.to_string())
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// ffprobe's format duration and start time.
fn probe(path: &Path) -> (f64, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration,start_time", "-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let num = |k: &str| v["format"][k].as_str().unwrap().parse::<f64>().unwrap();
    (num("duration"), num("start_time"))
}

fn span_of(bytes: &[u8], chunk_packets: usize) -> TsSpan {
    let mut span = TsSpan::new();
    for c in bytes.chunks(188 * chunk_packets) {
        span.push(c);
    }
    span
}

#[test]
fn the_span_agrees_with_ffprobe_with_and_without_a_pts_wrap() {
    let dir = tempfile::tempdir().unwrap();
    // 2^33 / 90 kHz = 95,443.72 s: the second file wraps 3.7 s in.
    for (name, offset) in [("plain.ts", 10.0), ("wraps.ts", 95_440.0)] {
        let bytes = encode(dir.path(), name, 8, offset);
        let (duration, start) = probe(&dir.path().join(name));
        for chunk in [1, 7, 1000] {
            let span = span_of(&bytes, chunk);
            assert!(span.packets() as usize == bytes.len() / 188);
            assert!(
                (span.duration() - duration).abs() < 0.1,
                "{name}: span {} vs ffprobe {duration} (start {start})",
                span.duration()
            );
        }
    }
}

#[test]
fn looks_like_ts_tells_ts_from_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = encode(dir.path(), "a.ts", 1, 0.0);
    assert!(TsSpan::looks_like_ts(&bytes));
    assert!(!TsSpan::looks_like_ts(b"FLV\x01\x05"));
    assert!(!TsSpan::looks_like_ts(b""));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_input_makes_the_span_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        sync_every in proptest::option::of(0usize..4),
    ) {
        let mut bytes = bytes;
        // Mostly-valid packets reach the PES parsing.
        if let Some(k) = sync_every {
            for (i, p) in bytes.chunks_mut(188).enumerate() {
                if i % (k + 1) == 0 {
                    p[0] = 0x47;
                    if p.len() > 1 { p[1] |= 0x40; }
                }
            }
        }
        let mut span = TsSpan::new();
        span.push(&bytes);
        span.push(&bytes);
        let d = span.duration();
        prop_assert!(d.is_finite() && d >= 0.0);
    }
}
