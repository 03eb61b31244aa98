//! Path mapping and confinement: refused paths answer 422 and run nothing.

use std::time::Duration;

use crate::common::*;

async fn refused(sink: &TestSink, output: &str) -> String {
    let (status, json) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), output)).await;
    assert_eq!(status, 422, "{output}: {json}");
    assert_eq!(json["status"], "refused");
    json["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn traversal_outside_roots_and_symlinks_are_refused() {
    let pd = stand_in().await;
    let sink = TestSink::start(&config_with(&upload_rule(&pd.api_base(), ""))).await;
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, b"top secret").unwrap();

    let e = refused(&sink, "/app/rec/../../etc/passwd").await;
    assert!(e.contains("'..'"), "{e}");
    let e = refused(&sink, "/etc/passwd").await;
    assert!(e.contains("outside the allowed roots"), "{e}");
    let e = refused(&sink, secret.to_str().unwrap()).await;
    assert!(e.contains("outside the allowed roots"), "{e}");
    // A symlink inside rec/ pointing out.
    std::os::unix::fs::symlink(&secret, sink.rec("link.mp4")).unwrap();
    let e = refused(&sink, "/app/rec/link.mp4").await;
    assert!(e.contains("outside the allowed roots"), "{e}");
    // A symlinked folder pointing out.
    std::os::unix::fs::symlink(outside.path(), sink.rec("dir")).unwrap();
    let e = refused(&sink, "/app/rec/dir/secret.txt").await;
    assert!(e.contains("outside the allowed roots"), "{e}");
    // A prefix that only looks like the mapped one is not mapped.
    let e = refused(&sink, "/app/recording/a.mp4").await;
    assert!(e.contains("/app/recording/a.mp4"), "{e}");
    // Missing files and folders are refused with the reason.
    let e = refused(&sink, "/app/rec/missing.mp4").await;
    assert!(e.contains("No such file"), "{e}");
    std::fs::create_dir(sink.rec("folder.mp4")).unwrap();
    let e = refused(&sink, "/app/rec/folder.mp4").await;
    assert!(e.contains("not a regular file"), "{e}");

    // Refused events store nothing: the answer comes after the store decided.
    assert!(sink.jobs().is_empty());
    assert_eq!(sink.sink.store().event_count().unwrap(), 0);
    assert_eq!(pd.requests(), 0);
}

#[tokio::test]
async fn symlink_inside_roots_and_relative_paths_are_accepted() {
    let pd = stand_in().await;
    let sink = TestSink::start(&config_with(&upload_rule(&pd.api_base(), ""))).await;
    let bytes = write_file(&sink.rec("real.mp4"), 2000);
    std::os::unix::fs::symlink(sink.rec("real.mp4"), sink.rec("alias.mp4")).unwrap();
    let url = sink.url(&format!("?key={KEY}"));
    let (status, _) = post(&url, &transmux_event(&new_id(), "/app/rec/alias.mp4")).await;
    assert_eq!(status, 200);
    // A relative path is taken relative to the base folder (rec/real.mp4).
    let (status, _) = post(&url, &transmux_event(&new_id(), "rec/real.mp4")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert!(jobs.iter().all(|j| j.state == onelive_sink::store::JobState::Done), "{jobs:#?}");
    let uploads = pd.uploads();
    assert_eq!(uploads.len(), 2);
    // The canonical file is uploaded under its real name.
    assert!(
        uploads
            .iter()
            .all(|u| u.name == "real.mp4" && u.bytes.as_deref() == Some(bytes.as_slice()))
    );
}

#[tokio::test]
async fn a_file_swapped_for_an_escaping_symlink_after_acceptance_is_not_uploaded() {
    let pd = stand_in().await;
    // The stand-in fails the first attempt so that the swap happens before the retry.
    pd.fail_next(1);
    let toml = config_with(&upload_rule(&pd.api_base(), "attempts = 2\n"))
        .replace("retry_delay_secs = 0.05", "retry_delay_secs = 1.0");
    let sink = TestSink::start(&toml).await;
    write_file(&sink.rec("a.mp4"), 100);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    // Wait for the first attempt to fail, then swap the file.
    let start = std::time::Instant::now();
    while pd.requests() < 1 {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    std::fs::remove_file(sink.rec("a.mp4")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x"), b"private").unwrap();
    std::os::unix::fs::symlink(outside.path().join("x"), sink.rec("a.mp4")).unwrap();
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs[0].state, onelive_sink::store::JobState::Failed);
    assert!(
        jobs[0].last_error.as_deref().unwrap().contains("outside the allowed roots"),
        "{jobs:#?}"
    );
    assert_eq!(pd.requests(), 1);
}
