//! `rclone`: the real rclone program uploading to a WebDAV remote that
//! rclone itself serves on loopback.

use std::sync::Arc;
use std::time::Duration;

use onelive_sink::store::JobState;

use crate::common::*;

fn rclone_config(remote: &str, tell: &str) -> String {
    config_with(&format!(
        r#"
[[rules]]
name = "cloud"
events = ["video_transmux_finish"]
[[rules.actions]]
kind = "rclone"
remote = "{remote}"
attempts = 1
then = ["tell"]

[actions.tell]
kind = "forward"
url = "{tell}"
body_template = '{{"where": "{{previous}}"}}'
"#
    ))
}

#[tokio::test]
async fn uploads_with_rclone_with_progress_and_passes_the_location_on() {
    let dav = serve_webdav();
    let rx = Receiver::start().await;
    let remote = format!(":webdav,url='{}':rec/up", dav.url);
    let progress = Recorded::default();
    let seen = Arc::clone(&progress.0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rec")).unwrap();
    let sink = TestSink::start_with(
        dir,
        &rclone_config(&remote, &rx.url("/tell")),
        Some(Arc::new(progress)),
    )
    .await;
    let bytes = write_file(&sink.rec("a.mp4"), 3 * 1024 * 1024 + 17);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    let start = std::time::Instant::now();
    while rx.bodies().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(120), "{:#?}", sink.jobs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The file is on the remote, whole.
    assert_eq!(std::fs::read(dav.root.path().join("rec/up/a.mp4")).unwrap(), bytes);
    // WebDAV has no public links: the result is the location, without the URL parameter.
    let jobs = sink.settled(Duration::from_secs(30)).await;
    let up = jobs.iter().find(|j| j.action_kind == "rclone").unwrap();
    assert_eq!(up.state, JobState::Done);
    assert_eq!(up.result.as_deref(), Some(":webdav:rec/up/a.mp4"));
    let told: serde_json::Value = serde_json::from_str(&rx.bodies()[0].1).unwrap();
    assert_eq!(told["where"], ":webdav:rec/up/a.mp4");
    // Progress: the bytes rclone reported add up to the file.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, vec![("a.mp4".to_owned(), bytes.len() as u64, bytes.len() as u64, true)]);
}

#[tokio::test]
async fn a_failed_rclone_upload_keeps_the_file_and_hides_the_remote_parameters() {
    // Nothing listens on port 9.
    let remote = ":webdav,url='http://127.0.0.1:9',pass='hunter2hunter2':rec";
    let rx = Receiver::start().await;
    let sink = TestSink::start(&rclone_config(remote, &rx.url("/tell"))).await;
    write_file(&sink.rec("b.mp4"), 1000);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/b.mp4")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(120)).await;
    assert_eq!(jobs.len(), 1, "the chain stopped: {jobs:#?}");
    assert_eq!(jobs[0].state, JobState::Failed);
    let error = jobs[0].last_error.clone().unwrap();
    assert!(error.contains("copyto :webdav:rec/b.mp4 failed"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
    assert!(sink.rec("b.mp4").exists());
    assert!(rx.bodies().is_empty());
}
