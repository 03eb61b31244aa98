//! Chained jobs: `then = [...]` runs named actions on the previous output.

use std::time::Duration;

use onelive_sink::store::JobState;

use crate::common::*;

fn chain_config(api: &str, tell_url: &str) -> String {
    config_with(&format!(
        r#"
[[rules]]
name = "post"
events = ["video_transmux_finish"]
[[rules.actions]]
kind = "exec"
command = ["sh", "-c", "cp \"$ONELIVE_FILE\" \"$ONELIVE_FILE.copy.mp4\" && echo \"$ONELIVE_FILE.copy.mp4\""]
then = ["up"]

[actions.up]
kind = "pixeldrain"
api_key = "{API_KEY}"
api = "{api}"
retry_delay_secs = 0.05
then = ["tell"]

[actions.tell]
kind = "forward"
url = "{tell_url}"
attempts = 1
body_template = '{{"text": "{{channel}}: {{previous}}"}}'
then = ["after"]

[actions.after]
kind = "forward"
url = "{tell_url}"
body_template = '{{"after": "{{previous}}"}}'
"#
    ))
}

#[tokio::test]
async fn each_step_runs_on_the_previous_output() {
    let pd = stand_in().await;
    let rx = Receiver::start().await;
    let sink = TestSink::start(&chain_config(&pd.api_base(), &rx.url("/tell"))).await;
    let bytes = write_file(&sink.rec("a.mp4"), 10_000);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    let start = std::time::Instant::now();
    let jobs = loop {
        let jobs = sink.jobs();
        if jobs.len() == 4 && jobs.iter().all(|j| j.state == JobState::Done) {
            break jobs;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "chain not done: {jobs:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut jobs = jobs;
    jobs.sort_by_key(|j| j.id);
    // 1: exec printed the copy's path; 2 uploaded that copy; 3 and 4 told the link.
    let copy = sink.rec("a.mp4.copy.mp4").canonicalize().unwrap();
    assert_eq!(jobs[0].result.as_deref(), Some(copy.to_str().unwrap()));
    assert_eq!(jobs[1].step.as_deref(), Some("up"));
    assert_eq!(jobs[1].parent_id, Some(jobs[0].id));
    assert_eq!(jobs[1].file.as_deref(), Some(copy.to_str().unwrap()));
    let uploads = pd.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].name, "a.mp4.copy.mp4");
    assert_eq!(uploads[0].bytes.as_deref(), Some(bytes.as_slice()));
    let link = format!("https://pixeldrain.com/u/{}", uploads[0].id);
    assert_eq!(jobs[2].input.as_deref(), Some(link.as_str()));
    assert_eq!(jobs[2].parent_id, Some(jobs[1].id));
    assert_eq!(jobs[3].parent_id, Some(jobs[2].id));
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let told: serde_json::Value = serde_json::from_str(&bodies[0].1).unwrap();
    assert_eq!(told["text"], format!("<CHANNEL>: {link}"));
}

#[tokio::test]
async fn a_failed_step_stops_the_chain_and_retry_resumes_from_it() {
    let pd = stand_in().await;
    let rx = Receiver::start().await;
    rx.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let sink = TestSink::start(&chain_config(&pd.api_base(), &rx.url("/tell"))).await;
    write_file(&sink.rec("a.mp4"), 1000);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(60)).await;
    // exec and upload done, `tell` failed with the reason, `after` never created.
    assert_eq!(jobs.len(), 3, "{jobs:#?}");
    let tell = jobs.iter().find(|j| j.step.as_deref() == Some("tell")).unwrap();
    assert_eq!(tell.state, JobState::Failed);
    assert!(tell.last_error.as_deref().unwrap().contains("500"), "{tell:?}");
    assert_eq!(pd.uploads().len(), 1);

    rx.failing.store(false, std::sync::atomic::Ordering::SeqCst);
    sink.sink.store().retry(tell.id).unwrap();
    let start = std::time::Instant::now();
    loop {
        let jobs = sink.jobs();
        if jobs.len() == 4 && jobs.iter().all(|j| j.state == JobState::Done) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "chain not resumed: {jobs:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Resumed from the failed step: nothing before it ran again.
    assert_eq!(pd.uploads().len(), 1);
    assert_eq!(rx.bodies().len(), 2);
}

#[test]
fn unknown_steps_and_cycles_are_config_errors_naming_the_rule() {
    use onelive_sink::config::SinkConfig;
    let rule = r#"
[[rules]]
name = "r"
events = ["live_start"]
[[rules.actions]]
kind = "forward"
url = "http://127.0.0.1:9/"
then = ["a"]
"#;
    let e = SinkConfig::from_toml_str(rule).unwrap_err().to_string();
    assert!(e.contains("rules[0] (\"r\")") && e.contains("unknown action \"a\""), "{e}");
    let cycle = format!(
        "{rule}\n[actions.a]\nkind = \"forward\"\nurl = \"http://127.0.0.1:9/\"\nthen = [\"b\"]\n\
         [actions.b]\nkind = \"forward\"\nurl = \"http://127.0.0.1:9/\"\nthen = [\"a\"]\n"
    );
    let e = SinkConfig::from_toml_str(&cycle).unwrap_err().to_string();
    assert!(
        e.contains("rules[0] (\"r\")") && e.contains("then cycle") && e.contains("a -> b -> a"),
        "{e}"
    );
}
