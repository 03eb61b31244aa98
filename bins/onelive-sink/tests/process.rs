//! The binary as a user runs it: crash recovery, refusing to run without
//! auth, secrets kept out of logs, the jobs CLI.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use onelive_sink::stand_in::PixeldrainStandIn;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_upload_then_restart_completes_the_upload_once() {
    let pd = PixeldrainStandIn::start(API_KEY).await.unwrap();
    pd.set_rate_limit(4 * 1024 * 1024);
    pd.keep_bytes_up_to(64 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &key_auth(), &pd.api_base(), "");
    let bytes = write_file(&dir.path().join("rec/stream_record_01.mp4"), 32 * 1024 * 1024);

    let first = SinkProcess::start(dir.path(), &[]);
    let (status, json) =
        post(&first.url(&format!("?key={KEY}")), &transmux_event("/app/rec/stream_record_01.mp4"))
            .await;
    assert_eq!((status, json), (200, serde_json::json!({"status": "success"})));
    wait_for("the upload to be under way", Duration::from_secs(20), || {
        pd.bytes_received() > 1024 * 1024
    })
    .await;
    // Not a terminal: periodic progress lines instead of bars. Wait for one before the kill
    // (the 32 MiB upload at 4 MiB/s takes about 8 s; progress is logged every 0.2 s).
    wait_for("a progress line", Duration::from_secs(20), || {
        let log = first.log();
        log.contains("upload stream_record_01.mp4: ") && log.contains("/s, ETA ")
    })
    .await;
    let first_log = first.kill();
    assert!(first_log.contains("upload stream_record_01.mp4: "), "{first_log}");
    assert!(first_log.contains("/s, ETA "), "{first_log}");
    assert!(pd.uploads().is_empty(), "the killed upload must not have completed");
    let jobs = jobs_json(dir.path());
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["state"], "running", "left running by the crash");

    pd.set_rate_limit(0);
    let second = SinkProcess::start(dir.path(), &[]);
    wait_for("the resumed upload", Duration::from_secs(30), || !pd.uploads().is_empty()).await;
    wait_for("the job to be done", Duration::from_secs(10), || {
        jobs_json(dir.path())[0]["state"] == "done"
    })
    .await;
    wait_for("the resume to be logged", Duration::from_secs(10), || {
        second.log().contains("resuming 1 job(s) interrupted by a restart")
    })
    .await;
    // Once the sink is gone, no wrongly repeated upload can still arrive.
    let log = second.kill();
    let uploads = pd.uploads();
    assert_eq!(uploads.len(), 1, "completed exactly once");
    assert!(
        uploads[0].bytes.as_deref() == Some(bytes.as_slice()),
        "uploaded bytes differ from the file"
    );
    let jobs = jobs_json(dir.path());
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["result"], format!("https://pixeldrain.com/u/{}", uploads[0].id));
    assert!(log.contains("resuming 1 job(s) interrupted by a restart"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_start_without_auth_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "", "http://127.0.0.1:9/api", "");
    let err = SinkProcess::try_start(dir.path(), &[]).err().expect("must not start");
    assert!(err.contains("--insecure-no-auth"), "{err}");
    let sink = SinkProcess::start(dir.path(), &["--insecure-no-auth"]);
    let log = sink.kill();
    assert!(log.contains("WITHOUT authentication"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_secrets_never_reach_the_logs() {
    let pd = PixeldrainStandIn::start(API_KEY).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &key_auth(), &pd.api_base(), "");
    write_file(&dir.path().join("rec/a.mp4"), 1000);
    let sink = SinkProcess::start(dir.path(), &["--log", "debug"]);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}x&other=1")), &transmux_event("/app/rec/a.mp4")).await;
    assert_eq!(status, 403);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event("/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    wait_for("the upload", Duration::from_secs(20), || !pd.uploads().is_empty()).await;
    // The result line reaches the console and (through a background writer) the log file.
    let log_files = || {
        let mut files = String::new();
        for entry in std::fs::read_dir(dir.path().join("logs")).unwrap() {
            let path = entry.unwrap().path();
            assert!(
                path.file_name().unwrap().to_str().unwrap().starts_with("onelive-sink.log."),
                "{path:?}"
            );
            files.push_str(&std::fs::read_to_string(path).unwrap());
        }
        files
    };
    wait_for("the result line in the console and the log file", Duration::from_secs(20), || {
        sink.log().contains("SUCCESS: a.mp4") && log_files().contains("SUCCESS: a.mp4")
    })
    .await;
    let console = sink.kill();
    let files = log_files();
    for (name, text) in [("console", &console), ("log file", &files)] {
        assert!(text.contains("key=<redacted>&other=1"), "{name}: {text}");
        assert!(text.contains("SUCCESS: a.mp4 -> https://pixeldrain.com/u/"), "{name}: {text}");
        assert!(!text.contains(KEY), "{name} leaks the webhook key");
        assert!(!text.contains(API_KEY), "{name} leaks the API key");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_cli_lists_shows_and_retries_failed_jobs() {
    let pd = PixeldrainStandIn::start(API_KEY).await.unwrap();
    pd.fail_next(100);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &key_auth(), &pd.api_base(), "attempts = 2");
    write_file(&dir.path().join("rec/a.mp4"), 1000);
    let sink = SinkProcess::start(dir.path(), &[]);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event("/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    wait_for("the job to fail", Duration::from_secs(20), || {
        jobs_json(dir.path())[0]["state"] == "failed"
    })
    .await;

    let out = run(dir.path(), &["jobs", "list", "--state", "failed"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("failed") && table.contains("2/2") && table.contains("500"), "{table}");
    let out = run(dir.path(), &["jobs", "list", "--state", "done", "--json"]);
    assert!(out.stdout.is_empty());
    let id = jobs_json(dir.path())[0]["id"].as_i64().unwrap().to_string();
    let out = run(dir.path(), &["jobs", "show", &id]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["event"]["data"]["output"], "/app/rec/a.mp4");
    assert!(shown["last_error"].as_str().unwrap().contains("500"));

    pd.fail_next(0);
    let out = run(dir.path(), &["jobs", "retry", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for("the retried job", Duration::from_secs(20), || {
        jobs_json(dir.path())[0]["state"] == "done"
    })
    .await;
    assert_eq!(pd.uploads().len(), 1);

    let out = run(dir.path(), &["jobs", "retry", "999"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job with id 999"));
    let out = run(dir.path(), &["jobs", "list", "--state", "bogus"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown job state"));
    drop(sink);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_reports_errors_precisely() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &key_auth(), "http://127.0.0.1:9/api", "");
    let out = run(dir.path(), &["check-config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 rule(s)"));
    // No sink has run here yet: the jobs CLI says so instead of creating a database.
    let out = run(dir.path(), &["jobs", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job store at jobs.db"));
    assert!(!dir.path().join("jobs.db").exists());
    std::fs::write(dir.path().join("sink.toml"), "[server]\nport = 5000\n").unwrap();
    let out = run(dir.path(), &["check-config"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `port`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &key_auth(), "http://127.0.0.1:9/api", "");
    let mut sink = SinkProcess::start(dir.path(), &[]);
    let pid = sink.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = sink.child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
    let log = sink.full_log();
    assert!(log.contains("onelive-sink stopped"), "{log}");
}

#[test]
fn jobs_list_into_a_closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &key_auth(), "http://127.0.0.1:9/api", "");
    // The store exists (as after a first run), so the listing prints.
    drop(onelive_sink::store::JobStore::open(&dir.path().join("jobs.db")).unwrap());
    // `| head` that has already exited: the read end is closed before the
    // program writes, so its first write fails with EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(bin())
        .current_dir(dir.path())
        .args(["--config", "sink.toml", "jobs", "list"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// A loopback receiver counting the POSTs it gets (the chain's last step).
async fn counting_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::clone(&bodies);
    let app = axum::Router::new().fallback(move |body: String| {
        let shared = Arc::clone(&shared);
        async move {
            shared.lock().unwrap().push(body);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/told", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_chain_step_resumes_at_that_step_and_runs_each_step_once() {
    let pd = PixeldrainStandIn::start(API_KEY).await.unwrap();
    pd.keep_bytes_up_to(64 * 1024 * 1024);
    pd.set_rate_limit(4 * 1024 * 1024);
    let (told_url, told) = counting_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    // upload -> again (a second upload) -> tell (forward with the link).
    let extra = format!(
        "then = [\"again\"]\n\n[actions.again]\nkind = \"pixeldrain\"\napi_key = \"{API_KEY}\"\n\
         api = \"{}\"\nthen = [\"tell\"]\n\n[actions.tell]\nkind = \"forward\"\nurl = \"{told_url}\"\n\
         body_template = '{{\"link\": \"{{previous}}\"}}'\n",
        pd.api_base()
    );
    write_config(dir.path(), &key_auth(), &pd.api_base(), &extra);
    let bytes = write_file(&dir.path().join("rec/part.mp4"), 16 * 1024 * 1024);

    let first = SinkProcess::start(dir.path(), &[]);
    let (status, _) =
        post(&first.url(&format!("?key={KEY}")), &transmux_event("/app/rec/part.mp4")).await;
    assert_eq!(status, 200);
    // Uploads run at 4 MiB/s (the first takes about 4 s); once the first is in, the
    // second is slowed to 64 KiB/s, so it is still under way when the sink is killed.
    wait_for("the first step's upload", Duration::from_secs(60), || pd.uploads().len() == 1).await;
    pd.set_rate_limit(64 * 1024);
    wait_for("the second step to be under way", Duration::from_secs(60), || {
        pd.bytes_received() > 16 * 1024 * 1024
            && jobs_json(dir.path()).iter().any(|j| j["step"] == "again" && j["state"] == "running")
    })
    .await;
    first.kill();
    assert_eq!(pd.uploads().len(), 1, "the killed second upload must not have completed");

    pd.set_rate_limit(0);
    let second = SinkProcess::start(dir.path(), &[]);
    wait_for("the whole chain to be done", Duration::from_secs(60), || {
        let jobs = jobs_json(dir.path());
        jobs.len() == 3 && jobs.iter().all(|j| j["state"] == "done")
    })
    .await;
    second.kill();
    let uploads = pd.uploads();
    assert_eq!(uploads.len(), 2, "each upload step completed exactly once");
    assert!(uploads.iter().all(|u| u.bytes.as_deref() == Some(bytes.as_slice())));
    let told = told.lock().unwrap().clone();
    assert_eq!(told.len(), 1, "the last step ran once: {told:?}");
    let link = format!("https://pixeldrain.com/u/{}", uploads[1].id);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&told[0]).unwrap()["link"], link);
    let jobs = jobs_json(dir.path());
    let again = jobs.iter().find(|j| j["step"] == "again").unwrap();
    assert_eq!(again["attempts"], 1, "the interrupted attempt does not count: {again}");
    // `jobs list` shows the chain.
    let out = run(dir.path(), &["jobs", "list"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("pixeldrain again <- #1"), "{table}");
    assert!(table.contains("forward tell <- #2"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_a_branch_runs_resumes_the_fan_in_and_joins_once() {
    let pd = PixeldrainStandIn::start(API_KEY).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("rec");
    // upload -> (slow, quick, join); join waits for slow and quick. `slow`
    // holds until the test creates `release`, and records its pid.
    let extra = format!(
        r#"then = ["slow", "quick", "join"]

[actions.slow]
kind = "exec"
command = ["sh", "-c", "echo $$ > {d}/slow.pid; while [ ! -e {d}/release ]; do sleep 0.05; done; echo done >> {d}/slow.log; echo slow-out"]

[actions.quick]
kind = "exec"
command = ["sh", "-c", "echo done >> {d}/quick.log; echo quick-out"]

[actions.join]
kind = "exec"
after = ["slow", "quick"]
command = ["sh", "-c", "printf '%s\n' \"$ONELIVE_PREVIOUS\" >> {d}/join.txt"]
"#,
        d = d.display()
    );
    write_config(dir.path(), &key_auth(), &pd.api_base(), &extra);
    write_file(&d.join("part.mp4"), 4096);
    let step = |jobs: &[serde_json::Value], name: &str| {
        jobs.iter().find(|j| j["step"] == name).cloned().unwrap_or_default()
    };

    let first = SinkProcess::start(dir.path(), &[]);
    let (status, _) =
        post(&first.url(&format!("?key={KEY}")), &transmux_event("/app/rec/part.mp4")).await;
    assert_eq!(status, 200);
    wait_for("slow running, quick done, join waiting", Duration::from_secs(60), || {
        let jobs = jobs_json(dir.path());
        d.join("slow.pid").exists()
            && step(&jobs, "slow")["state"] == "running"
            && step(&jobs, "quick")["state"] == "done"
            && step(&jobs, "join")["state"] == "waiting"
    })
    .await;
    let out = run(dir.path(), &["jobs", "list"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("waiting for slow, quick"), "{table}");
    first.kill();
    // The killed sink's `sh` lives on as an orphan: end it, so that only the
    // resumed attempt can finish.
    let pid = std::fs::read_to_string(d.join("slow.pid")).unwrap().trim().to_owned();
    assert!(std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    std::fs::remove_file(d.join("slow.pid")).unwrap();
    std::fs::write(d.join("release"), "").unwrap();

    let second = SinkProcess::start(dir.path(), &[]);
    wait_for("the whole chain to be done", Duration::from_secs(60), || {
        let jobs = jobs_json(dir.path());
        jobs.len() == 4 && jobs.iter().all(|j| j["state"] == "done")
    })
    .await;
    second.kill();
    let lines = |name: &str| std::fs::read_to_string(d.join(name)).unwrap().lines().count();
    assert_eq!((lines("slow.log"), lines("quick.log"), lines("join.txt")), (1, 1, 1));
    let jobs = jobs_json(dir.path());
    let joined: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(d.join("join.txt")).unwrap().trim()).unwrap();
    assert_eq!(
        joined,
        serde_json::json!({"slow": step(&jobs, "slow")["result"], "quick": step(&jobs, "quick")["result"]})
    );
    assert!(joined["slow"].as_str().unwrap().contains("slow-out"), "{joined}");
    assert_eq!(step(&jobs, "slow")["attempts"], 1, "the interrupted attempt does not count");
    // `jobs show` of the join shows the whole fan-out and what it waited for.
    let id = step(&jobs, "join")["id"].to_string();
    let out = run(dir.path(), &["jobs", "show", &id]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["after"], serde_json::json!(["slow", "quick"]));
    let chain = shown["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 4, "{chain:#?}");
    assert!(chain.iter().any(|s| s["step"] == "join" && s["after"][0] == "slow"), "{chain:#?}");
}
