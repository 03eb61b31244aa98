//! Helpers shared by the recorder tests.

use std::path::Path;
use std::time::Duration;

use onelive_events::{Event, EventData};
use tokio::sync::mpsc;

/// Reads an HTTP request head from `sock` (up to the blank line); `None`
/// when the peer closes or fails first. For the tests' hand-written origins.
pub async fn read_head(sock: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Everything received so far.
pub fn drain(rx: &mut mpsc::Receiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

/// ffprobe's format duration and stream types of a file; panics when unreadable.
pub async fn probe(path: &Path) -> (f64, Vec<String>) {
    let out = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration:stream=codec_type"])
        .args(["-of", "default=nw=1"])
        .arg(path)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut duration = 0.0;
    let mut types = Vec::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("duration=") {
            duration = d.parse().unwrap();
        }
        if let Some(t) = line.strip_prefix("codec_type=") {
            types.push(t.to_owned());
        }
    }
    // MPEG-TS lists each stream once per program and once globally.
    types.sort();
    types.dedup();
    (duration, types)
}

/// Waits until the recording has written bytes.
pub async fn wait_for_bytes(recording: &onelive_recorder::Recording) {
    wait_for_file_bytes(recording, 1).await;
}

/// Waits until the current file holds at least `min` bytes (the synthetic origin sends about
/// 40 kB a second), so a test stops or breaks a recording that has real content.
pub async fn wait_for_file_bytes(recording: &onelive_recorder::Recording, min: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while recording.progress().current_file_bytes < min {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than {min} bytes written in 60 s: {:?}",
            recording.progress()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks that file events come as create/finish pairs for the same path,
/// with the true size and duration of the file, and returns the finished paths.
pub async fn check_file_events(events: &[Event]) -> Vec<String> {
    let file_events: Vec<&EventData> = events
        .iter()
        .map(|e| &e.data)
        .filter(|d| matches!(d, EventData::VideoFileCreate(_) | EventData::VideoFileFinish(_)))
        .collect();
    assert_eq!(file_events.len() % 2, 0, "unpaired file events: {file_events:?}");
    let mut paths = Vec::new();
    for pair in file_events.chunks(2) {
        let (EventData::VideoFileCreate(c), EventData::VideoFileFinish(f)) = (pair[0], pair[1])
        else {
            panic!("events out of order: {pair:?}");
        };
        assert_eq!(c.path, f.path);
        assert_eq!(c.platform, "test");
        assert_eq!(f.channel, "chan");
        let path = Path::new(&f.path);
        let size = std::fs::metadata(path).unwrap().len();
        assert_eq!(f.filesize, size, "filesize is the true size");
        let (duration, types) = probe(path).await;
        assert!((f.duration - duration).abs() < 0.01, "{} vs ffprobe {duration}", f.duration);
        assert_eq!(types, ["audio", "video"]);
        paths.push(f.path.clone());
    }
    paths
}

/// The error events' messages.
pub fn errors(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::Error(d) => Some(d.error.clone()),
            _ => None,
        })
        .collect()
}
