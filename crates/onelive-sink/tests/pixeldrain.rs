//! The `pixeldrain` action against the local stand-in.

use std::time::Duration;

use onelive_sink::store::JobState;

use crate::common::*;

#[tokio::test]
async fn retries_after_two_server_errors_and_succeeds_on_the_third_attempt() {
    let pd = stand_in().await;
    pd.fail_next(2);
    let sink = TestSink::start(&config_with(&upload_rule(&pd.api_base(), ""))).await;
    let bytes = write_file(&sink.rec("a.mp4"), 700_000);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    assert_eq!(jobs[0].attempts, 3);
    assert_eq!(pd.requests(), 3);
    // Each attempt re-read the whole file.
    assert_eq!(pd.bytes_received(), 3 * 700_000);
    let uploads = pd.uploads();
    assert_eq!(uploads.len(), 1);
    assert!(
        uploads[0].bytes.as_deref() == Some(bytes.as_slice()),
        "uploaded bytes differ from the file"
    );
}

#[tokio::test]
async fn exhausted_retries_mark_the_job_failed_with_the_reason() {
    let pd = stand_in().await;
    pd.fail_next(10);
    let sink = TestSink::start(&config_with(&upload_rule(&pd.api_base(), ""))).await;
    write_file(&sink.rec("a.mp4"), 10);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs[0].state, JobState::Failed);
    assert_eq!(jobs[0].attempts, 3);
    let reason = jobs[0].last_error.as_deref().unwrap();
    assert!(reason.contains("500"), "{reason}");
    assert_eq!(pd.requests(), 3);

    // `retry` gives it a fresh set of attempts.
    pd.fail_next(0);
    let job = sink.sink.store().retry(jobs[0].id).unwrap();
    assert_eq!(job.state, JobState::Pending);
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    assert_eq!(pd.uploads().len(), 1);
    // Only failed jobs can be retried.
    assert!(sink.sink.store().retry(jobs[0].id).is_err());
    assert!(matches!(sink.sink.store().retry(9999), Err(onelive_sink::Error::JobNotFound(9999))));
}

#[tokio::test]
async fn a_wrong_api_key_fails_with_the_server_answer_and_never_logs_the_key() {
    let pd = stand_in().await;
    let toml =
        config_with(&upload_rule(&pd.api_base(), "attempts = 1")).replace(API_KEY, "wrong-api-key");
    let sink = TestSink::start(&toml).await;
    write_file(&sink.rec("a.mp4"), 10);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs[0].state, JobState::Failed);
    let reason = jobs[0].last_error.as_deref().unwrap();
    assert!(reason.contains("401") && reason.contains("authentication_failed"), "{reason}");
    assert!(!reason.contains("wrong-api-key"));
    assert_eq!(pd.unauthorized(), 1);
    assert!(pd.uploads().is_empty());
}

#[tokio::test]
async fn unreachable_api_fails_with_a_clear_reason() {
    // A port that was just closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sink = TestSink::start(&config_with(&upload_rule(
        &format!("http://127.0.0.1:{port}/api"),
        "attempts = 2",
    )))
    .await;
    write_file(&sink.rec("a.mp4"), 10);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs[0].state, JobState::Failed);
    assert_eq!(jobs[0].attempts, 2);
    assert!(jobs[0].last_error.as_deref().unwrap().contains("upload of a.mp4 failed"), "{jobs:#?}");
}

#[tokio::test]
async fn delete_after_a_verified_upload_only() {
    let pd = stand_in().await;
    let sink = TestSink::start(&config_with(&upload_rule(
        &pd.api_base(),
        "delete_after_upload = true\nattempts = 1",
    )))
    .await;
    write_file(&sink.rec("a.mp4"), 5000);
    let url = sink.url(&format!("?key={KEY}"));
    let (status, _) = post(&url, &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    assert!(!sink.rec("a.mp4").exists(), "verified upload deletes the file");

    // When the server reports another size, the file is kept and the job fails.
    pd.misreport_size_by(1);
    write_file(&sink.rec("b.mp4"), 5000);
    let (status, _) = post(&url, &transmux_event(&new_id(), "/app/rec/b.mp4")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(20)).await;
    let job = jobs.iter().find(|j| j.file.as_deref() == Some("/app/rec/b.mp4")).unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert!(job.last_error.as_deref().unwrap().contains("5001 bytes, not 5000"), "{job:#?}");
    assert!(sink.rec("b.mp4").exists());
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_gib_sparse_file_streams_with_flat_memory() {
    let pd = stand_in().await;
    pd.keep_bytes_up_to(0);
    let sink = TestSink::start(&config_with(&upload_rule(&pd.api_base(), "attempts = 1"))).await;
    let size: u64 = 2 * 1024 * 1024 * 1024;
    let file = std::fs::File::create(sink.rec("big.mp4")).unwrap();
    file.set_len(size).unwrap();
    drop(file);
    let before = vm_hwm_kib();
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/big.mp4"))
            .await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(150)).await;
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    let uploads = pd.uploads();
    assert_eq!(uploads[0].size, size);
    assert!(uploads[0].bytes.is_none());
    // Generous sanity bound (test process: sink + stand-in + client); the
    // precise RSS of the real binary is measured by the bench.
    let growth_mib = (vm_hwm_kib().saturating_sub(before)) / 1024;
    assert!(growth_mib < 128, "peak memory grew by {growth_mib} MiB for a 2 GiB upload");
}

#[tokio::test]
async fn file_names_with_spaces_and_unicode_are_encoded_in_the_url() {
    let pd = stand_in().await;
    let sink = TestSink::start(&config_with(&upload_rule(&pd.api_base(), ""))).await;
    let name = "直播 #1 ?x=y%.mp4";
    let bytes = write_file(&sink.rec(name), 321);
    let (status, _) = post(
        &sink.url(&format!("?key={KEY}")),
        &transmux_event(&new_id(), &format!("/app/rec/{name}")),
    )
    .await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    let uploads = pd.uploads();
    assert_eq!(uploads[0].name, name);
    assert!(
        uploads[0].bytes.as_deref() == Some(bytes.as_slice()),
        "uploaded bytes differ from the file"
    );
}
