//! `merge` on `live_end`: real ffmpeg-made parts, concat demuxer, ffprobe.

use std::path::Path;
use std::time::Duration;

use onelive_sink::store::JobState;

use crate::common::*;

fn duration(path: &Path) -> f64 {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn event(kind: &str, data: serde_json::Value, ts: &str) -> String {
    serde_json::json!({"id": new_id(), "ts": ts, "type": kind, "data": data}).to_string()
}

fn merge_config(extra: &str) -> String {
    config_with(&format!(
        r#"
[[rules]]
name = "merge"
events = ["live_end"]
[[rules.actions]]
kind = "merge"
retry_delay_secs = 0.1
{extra}
"#
    ))
}

async fn post_parts(sink: &TestSink, session: &str, parts: &[&str], transmuxed: usize) {
    let url = sink.url(&format!("?key={KEY}"));
    for (i, p) in parts.iter().enumerate() {
        let ts = format!("2026-03-11T05:2{i}:00Z");
        let data = serde_json::json!({"platform": "p", "channel": "c", "path": format!("/app/rec/{p}.flv"),
            "filesize": 1, "duration": 1.0, "session_id": session});
        assert_eq!(post(&url, &event("video_file_finish", data, &ts)).await.0, 200);
        if i < transmuxed {
            let data = serde_json::json!({"platform": "p", "channel": "c", "input": format!("/app/rec/{p}.flv"),
                "output": format!("/app/rec/{p}.mp4"), "session_id": session});
            assert_eq!(post(&url, &event("video_transmux_finish", data, &ts)).await.0, 200);
        }
    }
}

async fn live_end(sink: &TestSink, session: &str) {
    let data = serde_json::json!({"platform": "p", "channel": "c", "url": "https://live.example/c",
        "live_info": {"title": "t"}, "session_id": session});
    let url = sink.url(&format!("?key={KEY}"));
    assert_eq!(post(&url, &event("live_end", data, "2026-03-11T06:00:00Z")).await.0, 200);
}

async fn wait_job(
    sink: &TestSink,
    what: &str,
    mut done: impl FnMut(&onelive_sink::store::Job) -> bool,
) {
    let start = std::time::Instant::now();
    loop {
        let jobs = sink.jobs();
        if jobs.iter().any(&mut done) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{what}: {jobs:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn three_parts_become_one_verified_file_once_every_part_is_transmuxed() {
    let sink = TestSink::start(&merge_config("")).await;
    for p in ["p1", "p2", "p3"] {
        make_part(&sink.rec(&format!("{p}.mp4")), "320x240");
    }
    let session = new_id();
    // live_end arrives while the last part is still being transmuxed.
    post_parts(&sink, &session, &["p1", "p2", "p3"], 2).await;
    live_end(&sink, &session).await;
    wait_job(&sink, "the merge waiting for part 3", |j| {
        j.last_error.as_deref().is_some_and(|e| e.contains("waiting for the transmux of 1 part(s)"))
    })
    .await;
    assert!(!sink.rec("p1.merged.mp4").exists());
    let data = serde_json::json!({"platform": "p", "channel": "c", "input": "/app/rec/p3.flv",
        "output": "/app/rec/p3.mp4", "session_id": session});
    let url = sink.url(&format!("?key={KEY}"));
    assert_eq!(
        post(&url, &event("video_transmux_finish", data, "2026-03-11T05:22:30Z")).await.0,
        200
    );
    wait_job(&sink, "the merge", |j| j.state == JobState::Done).await;
    let merged = sink.rec("p1.merged.mp4");
    let expected: f64 =
        ["p1", "p2", "p3"].iter().map(|p| duration(&sink.rec(&format!("{p}.mp4")))).sum();
    assert!((duration(&merged) - expected).abs() < 1.0, "{} vs {expected}", duration(&merged));
    let job = sink.jobs().into_iter().find(|j| j.action_kind == "merge").unwrap();
    assert!(job.result.as_deref().unwrap().contains("merged 3 part(s)"), "{job:?}");
    // The parts are kept (delete_parts is off).
    assert!(sink.rec("p2.mp4").exists());
}

#[tokio::test]
async fn incompatible_parts_are_merged_in_compatible_runs_with_the_reason() {
    let sink = TestSink::start(&merge_config("delete_parts = true")).await;
    make_part(&sink.rec("a1.mp4"), "320x240");
    make_part(&sink.rec("a2.mp4"), "320x240");
    make_part(&sink.rec("a3.mp4"), "160x120");
    let session = new_id();
    post_parts(&sink, &session, &["a1", "a2", "a3"], 3).await;
    live_end(&sink, &session).await;
    wait_job(&sink, "the merge", |j| j.state == JobState::Done).await;
    let job = sink.jobs().into_iter().find(|j| j.action_kind == "merge").unwrap();
    let result = job.result.unwrap();
    assert!(result.contains("merged 2 part(s)"), "{result}");
    assert!(
        result.contains("part 3") && result.contains("160x120") && result.contains("320x240"),
        "{result}"
    );
    assert!((duration(&sink.rec("a1.merged.mp4")) - 2.0).abs() < 1.0);
    // Verified, so the merged parts were deleted; the odd one is kept as it is.
    assert!(!sink.rec("a1.mp4").exists() && !sink.rec("a2.mp4").exists());
    assert!(sink.rec("a3.mp4").exists());
}

#[test]
fn merge_outside_live_end_and_a_missing_ffmpeg_are_clear_errors() {
    let e = onelive_sink::config::SinkConfig::from_toml_str(
        "[[rules]]\nname = \"m\"\nevents = [\"video_transmux_finish\"]\nactions = [{ kind = \"merge\" }]",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("merge runs on live_end only"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rec")).unwrap();
    let config = onelive_sink::config::SinkConfig::from_toml_str(&merge_config(
        "ffmpeg = \"/nonexistent/ffmpeg\"",
    ))
    .unwrap();
    let e = onelive_sink::Sink::new(
        config,
        onelive_sink::SinkOptions { base_dir: Some(dir.path().to_owned()), ..Default::default() },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("rule \"merge\" (merge) needs \"/nonexistent/ffmpeg\""), "{e}");
}
