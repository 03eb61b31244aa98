//! Fan-in: a step with `after = [...]` waits for the other steps of its
//! `then` and runs once, on all their outputs.

use std::time::Duration;

use onelive_sink::config::SinkConfig;
use onelive_sink::store::JobState;

use crate::common::*;

/// origin -> (a, b, join); join waits for a and b. `a` succeeds only once
/// the file `go` exists next to the recording; `join` appends what it got.
fn fanin_config() -> String {
    config_with(
        r#"
[[rules]]
name = "post"
events = ["video_transmux_finish"]
[[rules.actions]]
kind = "exec"
command = ["sh", "-c", "echo origin"]
then = ["a", "b", "join"]

[actions.a]
kind = "exec"
command = ["sh", "-c", "test -e \"$(dirname \"$ONELIVE_FILE\")/go\" && echo out-a"]

[actions.b]
kind = "exec"
command = ["sh", "-c", "echo out-b"]

[actions.join]
kind = "exec"
after = ["a", "b"]
command = ["sh", "-c", "printf '%s\\n' \"$ONELIVE_PREVIOUS\" >> \"$(dirname \"$ONELIVE_FILE\")/join.txt\""]
"#,
    )
}

async fn wait_until(
    sink: &TestSink,
    what: &str,
    done: impl Fn(&[onelive_sink::store::Job]) -> bool,
) {
    let start = std::time::Instant::now();
    loop {
        let jobs = sink.jobs();
        if done(&jobs) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: {jobs:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_join_step_waits_for_all_its_branches_and_runs_once_on_their_outputs() {
    let sink = TestSink::start(&fanin_config()).await;
    write_file(&sink.rec("a.mp4"), 100);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    let step = |jobs: &[onelive_sink::store::Job], name: &str| {
        jobs.iter().find(|j| j.step.as_deref() == Some(name)).cloned()
    };
    // `a` fails, `b` is done: the join keeps waiting (and says for what).
    wait_until(&sink, "a failed and b done", |jobs| {
        step(jobs, "a").is_some_and(|j| j.state == JobState::Failed)
            && step(jobs, "b").is_some_and(|j| j.state == JobState::Done)
    })
    .await;
    let jobs = sink.jobs();
    let join = step(&jobs, "join").unwrap();
    assert_eq!(join.state, JobState::Waiting);
    assert_eq!(join.after, ["a", "b"]);
    assert_eq!(join.attempts, 0);
    assert!(!sink.rec("join.txt").exists());
    // Retrying `a` once it can succeed releases the join.
    std::fs::write(sink.rec("go"), "").unwrap();
    let a = step(&jobs, "a").unwrap();
    sink.sink.store().retry(a.id).unwrap();
    wait_until(&sink, "the join done", |jobs| {
        step(jobs, "join").is_some_and(|j| j.state == JobState::Done)
    })
    .await;
    let jobs = sink.jobs();
    let (a, b, join) =
        (step(&jobs, "a").unwrap(), step(&jobs, "b").unwrap(), step(&jobs, "join").unwrap());
    let got = std::fs::read_to_string(sink.rec("join.txt")).unwrap();
    assert_eq!(got.lines().count(), 1, "the join ran once: {got}");
    let input: serde_json::Value = serde_json::from_str(got.trim()).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"a": a.result.unwrap(), "b": b.result.unwrap()}),
        "the join's input is its branches' outputs by name"
    );
    assert!(input["a"].as_str().unwrap().contains("out-a"), "{input}");
    assert_eq!(join.attempts, 1);
    assert_eq!(jobs.len(), 4);
}

#[test]
fn after_mistakes_are_config_errors() {
    let base = fanin_config();
    let check = |from: &str, to: &str| {
        assert!(base.contains(from), "{from}");
        SinkConfig::from_toml_str(&base.replace(from, to)).unwrap_err().to_string()
    };
    let e = check("then = [\"a\", \"b\", \"join\"]", "then = [\"a\", \"join\"]");
    assert!(
        e.contains("actions.join (exec): rules[\"post\"].actions[0] starts it without \"b\""),
        "{e}"
    );
    let e = check("after = [\"a\", \"b\"]", "after = [\"a\", \"nope\"]");
    assert!(e.contains("actions.join (exec): after names unknown action \"nope\""), "{e}");
    let e = check("after = [\"a\", \"b\"]", "after = [\"a\", \"join\"]");
    assert!(e.contains("after names the step itself"), "{e}");
    let e = check(
        "then = [\"a\", \"b\", \"join\"]",
        "then = [\"a\", \"b\", \"join\"]\nafter = [\"a\"]",
    );
    assert!(
        e.contains("rules[0] (\"post\").actions[0] (exec): after is for [actions] steps"),
        "{e}"
    );
    let e = check("then = [\"a\", \"b\", \"join\"]", "then = [\"a\", \"b\", \"b\", \"join\"]");
    assert!(e.contains("then names \"b\" twice"), "{e}");
}
