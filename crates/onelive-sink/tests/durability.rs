//! Jobs survive a restart of the sink (in-process; the SIGKILL test of the
//! real binary is in bins/onelive-sink/tests).

use std::time::Duration;

use onelive_sink::store::JobState;

use crate::common::*;

#[tokio::test]
async fn pending_jobs_resume_after_a_restart() {
    let pd = stand_in().await;
    // First life: the upload keeps failing with a long retry delay.
    pd.fail_next(1);
    let toml = config_with(&upload_rule(&pd.api_base(), ""))
        .replace("retry_delay_secs = 0.05", "retry_delay_secs = 0.5");
    let sink = TestSink::start(&toml).await;
    let bytes = write_file(&sink.rec("a.mp4"), 4096);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    // Stop once the failed first attempt is on record (not merely once the
    // stand-in saw the request: the sink may still be storing its answer).
    let start = std::time::Instant::now();
    loop {
        let jobs = sink.jobs();
        if pd.requests() >= 1
            && jobs.iter().any(|j| j.attempts >= 1 && j.state != JobState::Running)
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "first attempt not recorded: {jobs:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dir = sink.stop().await;

    // Second life on the same folder and database.
    let sink = TestSink::start_in(dir, &toml).await;
    let jobs = sink.settled(Duration::from_secs(60)).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    assert_eq!(jobs[0].attempts, 2, "one failed attempt, one good one: {jobs:#?}");
    let uploads = pd.uploads();
    assert_eq!(uploads.len(), 1);
    assert!(
        uploads[0].bytes.as_deref() == Some(bytes.as_slice()),
        "uploaded bytes differ from the file"
    );
}

#[tokio::test]
async fn config_errors_are_precise() {
    use onelive_sink::config::SinkConfig;
    let cases = [
        ("[server]\nlisten = \"nope\"", "invalid socket address"),
        (
            "[[rules]]\nname = \"a\"\nevents = [\"video_transmux_finnish\"]\nactions = [{ kind = \"exec\", command = [\"true\"] }]",
            "unknown event type \"video_transmux_finnish\"",
        ),
        (
            "[[rules]]\nname = \"a\"\nevents = [\"live_start\"]\nactions = [{ kind = \"pixeldrain\", api_key = \"k\" }]",
            "carries no file",
        ),
        (
            "[[rules]]\nname = \"a\"\nevents = [\"video_file_finish\"]\nactions = [{ kind = \"pixeldrain\", api_key = \"k\" }]",
            "allowed_roots is empty",
        ),
        (
            "[[rules]]\nname = \"a\"\nevents = [\"live_start\"]\nactions = [{ kind = \"ftp\" }]",
            "unknown variant `ftp`",
        ),
        (
            "[[rules]]\nname = \"a\"\nevents = [\"live_start\"]\nactions = [{ kind = \"forward\", url = \"http://x\", body_template = \"{chanel}\" }]",
            "unknown placeholder {chanel}",
        ),
        ("[auth]\nsecrets = [\"whsec_\"]", "auth.secrets[0]"),
        ("[auth]\nkeyz = []", "unknown field `keyz`"),
        ("[jobs]\nconcurrency = 0", "concurrency"),
        (
            "[auth]\nkeys = [{ env = \"ONELIVE_SINK_TEST_SURELY_UNSET\" }]",
            "environment variable ONELIVE_SINK_TEST_SURELY_UNSET is not set",
        ),
        ("[auth]\nkeys = [42]", "expected a string or { env"),
    ];
    for (toml, expected) in cases {
        let err = SinkConfig::from_toml_str(toml).unwrap_err().to_string();
        assert!(err.contains(expected), "{toml:?}: {err}");
    }
    let err = SinkConfig::from_file("/nonexistent/sink.toml".as_ref()).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/sink.toml"), "{err}");
}

#[tokio::test]
async fn an_unusable_job_store_is_a_clear_startup_error() {
    use onelive_sink::config::SinkConfig;
    use onelive_sink::{Sink, SinkOptions};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("db-is-a-folder")).unwrap();
    let config = SinkConfig::from_toml_str(&format!(
        "[auth]\nkeys = [\"{KEY}\"]\n[store]\npath = \"db-is-a-folder\""
    ))
    .unwrap();
    let options = SinkOptions { base_dir: Some(dir.path().to_owned()), ..Default::default() };
    let err = Sink::new(config, options).unwrap_err();
    assert!(matches!(err, onelive_sink::Error::Store { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("db-is-a-folder") && text.contains("unable to open"), "{text}");
    assert!(!text.contains(KEY));
}

#[test]
fn secrets_can_come_from_the_environment() {
    use onelive_sink::config::SinkConfig;
    // PATH is set in every test environment; it stands for e.g. PIXELDRAIN_API_KEY.
    let config =
        SinkConfig::from_toml_str("[auth]\nkeys = [{ env = \"PATH\" }, \"literal\"]").unwrap();
    assert_eq!(config.auth.keys[0].expose(), std::env::var("PATH").unwrap());
    assert_eq!(config.auth.keys[1].expose(), "literal");
}
