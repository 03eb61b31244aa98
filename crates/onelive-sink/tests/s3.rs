//! `s3`: uploads to a real S3 server (s3rver, from npm; installed by
//! scripts/install-deps.sh) started by the test on loopback. s3rver knows
//! one access key (`S3RVER`) and refuses others as AWS does; it does not
//! recompute V4 signatures, so a wrong secret with the right key id would
//! pass there (AWS would answer `SignatureDoesNotMatch`, handled alike).

use std::sync::Arc;
use std::time::{Duration, Instant};

use onelive_sink::store::JobState;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::common::*;

/// s3rver's fixed credentials.
const ACCESS: &str = "S3RVER";
const SECRET: &str = "S3RVER";
const BUCKET: &str = "rec";

struct S3Server {
    child: std::process::Child,
    port: u16,
    _data: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether s3rver is installed; outside CI, a test without it says so and
/// skips (in CI it must run: install-deps.sh installs it).
fn have_s3rver() -> bool {
    let found = std::process::Command::new("s3rver")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "s3rver is missing in CI: scripts/install-deps.sh installs it (npm install -g s3rver)"
        );
        eprintln!(
            "SKIPPED: s3rver is not installed (npm install -g s3rver, or scripts/install-deps.sh)"
        );
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts s3rver on `port` with the bucket `rec`; waits until it answers.
async fn s3rver(port: u16) -> S3Server {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("objects")).unwrap();
    let log = std::fs::File::create(data.path().join("requests.log")).unwrap();
    let child = std::process::Command::new("s3rver")
        .arg("-d")
        .arg(data.path().join("objects"))
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "--no-vhost-buckets"])
        .args(["--configure-bucket", BUCKET])
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = S3Server { child, port, _data: data };
    let bucket = bucket(port);
    let start = Instant::now();
    loop {
        let url = bucket.head_bucket(Some(&Credentials::new(ACCESS, SECRET))).sign(HOUR);
        if let Ok(r) = reqwest::Client::new().head(url).send().await
            && r.status().is_success()
        {
            return server;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "s3rver did not come up on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl S3Server {
    /// The requests s3rver logged (one line each: method, path and query).
    fn requests(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self._data.path().join("requests.log")).unwrap();
        log.lines().map(str::to_owned).collect()
    }
}

const HOUR: Duration = Duration::from_secs(3600);

fn bucket(port: u16) -> Bucket {
    let endpoint = format!("http://127.0.0.1:{port}").parse().unwrap();
    Bucket::new(endpoint, UrlStyle::Path, BUCKET, "us-east-1").unwrap()
}

/// The object's bytes and ETag, downloaded back.
async fn download(port: u16, key: &str) -> (Vec<u8>, String) {
    let url = bucket(port).get_object(Some(&Credentials::new(ACCESS, SECRET)), key).sign(HOUR);
    let r = reqwest::Client::new().get(url).send().await.unwrap();
    assert!(r.status().is_success(), "GET {key}: {}", r.status());
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    (r.bytes().await.unwrap().to_vec(), etag)
}

fn s3_config(port: u16, access: &str, extra: &str, tell: &str) -> String {
    config_with(&format!(
        r#"
[[rules]]
name = "store"
events = ["video_transmux_finish"]
[[rules.actions]]
kind = "s3"
endpoint = "http://127.0.0.1:{port}"
bucket = "{BUCKET}"
path_style = true
key = "live/{{{{ channel | lower }}}}/{{{{ file_name }}}}"
access_key_id = "{access}"
secret_access_key = "{SECRET}"
part_size_mib = 5
retry_delay_secs = 0.2
then = ["tell"]
{extra}

[actions.tell]
kind = "forward"
url = "{tell}"
body_template = '{{"url": "{{previous}}"}}'
"#
    ))
}

fn event_for(name: &str) -> String {
    transmux_event(&new_id(), &format!("/app/rec/{name}"))
        .replace("<CHANNEL>", "Room42")
        .replace("<PLATFORM>", "bilibili")
}

async fn wait_for(what: &str, sink: &TestSink, mut done: impl FnMut(&TestSink) -> bool) {
    let start = Instant::now();
    while !done(sink) {
        assert!(start.elapsed() < Duration::from_secs(120), "{what}: {:#?}", sink.jobs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn uploads_whole_and_multipart_to_a_real_s3_server_and_passes_the_url_on() {
    if !have_s3rver() {
        return;
    }
    let server = s3rver(free_port()).await;
    let rx = Receiver::start().await;
    let progress = Recorded::default();
    let seen = Arc::clone(&progress.0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rec")).unwrap();
    let toml = s3_config(server.port, ACCESS, "", &rx.url("/tell"));
    let sink = TestSink::start_with(dir, &toml, Some(Arc::new(progress))).await;
    // Below the 5 MiB part size: one PUT. Above it: three parts (5 + 5 + 1).
    let small = write_file(&sink.rec("small.mp4"), 1024 * 1024 + 3);
    let big = write_file(&sink.rec("big.mp4"), 11 * 1024 * 1024 + 5);
    for name in ["small.mp4", "big.mp4"] {
        let (status, _) = post(&sink.url(&format!("?key={KEY}")), &event_for(name)).await;
        assert_eq!(status, 200);
    }
    wait_for("two uploads told", &sink, |_| rx.bodies().len() == 2).await;
    let jobs = sink.settled(Duration::from_secs(60)).await;
    for (name, bytes) in [("small.mp4", &small), ("big.mp4", &big)] {
        let key = format!("live/room42/{name}");
        let (stored, etag) = download(server.port, &key).await;
        assert!(
            stored == *bytes,
            "{key}: {} bytes stored, {} in the file",
            stored.len(),
            bytes.len()
        );
        let url = format!("http://127.0.0.1:{}/{BUCKET}/{key}", server.port);
        let job = jobs
            .iter()
            .find(|j| j.action_kind == "s3" && j.file.as_deref().unwrap().ends_with(name));
        let job = job.unwrap();
        assert_eq!((job.state, job.result.as_deref()), (JobState::Done, Some(url.as_str())));
        assert!(rx.bodies().iter().any(|(_, b)| b == &format!("{{\"url\": \"{url}\"}}")));
        assert!(!etag.is_empty());
    }
    // The server stored three parts of one multipart upload (big.mp4's;
    // small.mp4 was one PUT), logged as `Stored part N of UPLOAD_ID`.
    let mut parts: Vec<(String, String)> = server
        .requests()
        .iter()
        .filter_map(|l| l.split("Stored part ").nth(1))
        .filter_map(|rest| rest.split_once(" of "))
        .map(|(n, id)| (id.split(' ').next().unwrap().to_owned(), n.to_owned()))
        .collect();
    parts.sort();
    let numbers: Vec<&str> = parts.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(numbers, ["1", "2", "3"], "{:#?}", server.requests());
    assert!(parts.iter().all(|(id, _)| *id == parts[0].0), "{parts:?}");
    // Progress: each upload reported its whole size and finished.
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("big.mp4".to_owned(), big.len() as u64, big.len() as u64, true),
            ("small.mp4".to_owned(), small.len() as u64, small.len() as u64, true),
        ]
    );
}

#[tokio::test]
async fn wrong_credentials_fail_precisely_and_the_job_can_be_retried() {
    if !have_s3rver() {
        return;
    }
    let server = s3rver(free_port()).await;
    let rx = Receiver::start().await;
    let wrong = "AKIAWRONGKEY7F3A9C";
    let sink = TestSink::start(&s3_config(server.port, wrong, "", &rx.url("/tell"))).await;
    let bytes = write_file(&sink.rec("a.mp4"), 300_000);
    let (status, _) = post(&sink.url(&format!("?key={KEY}")), &event_for("a.mp4")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(120)).await;
    assert_eq!(jobs.len(), 1, "the chain went on: {jobs:#?}");
    let job = &jobs[0];
    assert_eq!(job.state, JobState::Failed);
    // Refused credentials are not tried again by themselves...
    assert_eq!(job.attempts, 1, "{job:#?}");
    let error = job.last_error.clone().unwrap();
    assert!(error.starts_with("s3: PUT rec/live/room42/a.mp4: 403"), "{error}");
    assert!(
        error.contains("InvalidAccessKeyId: The AWS Access Key Id you provided does not exist"),
        "{error}"
    );
    assert!(error.contains("check access_key_id, secret_access_key"), "{error}");
    assert!(!error.contains(SECRET), "{error}");
    assert!(sink.rec("a.mp4").exists());
    // ...but once the configuration is fixed, `jobs retry` completes it.
    let id = job.id;
    let dir = sink.stop().await;
    let sink = TestSink::start_in(dir, &s3_config(server.port, ACCESS, "", &rx.url("/tell"))).await;
    assert_eq!(sink.sink.store().retry(id).unwrap().state, JobState::Pending);
    wait_for("retried upload told", &sink, |_| rx.bodies().len() == 1).await;
    assert_eq!(sink.sink.store().job(id).unwrap().state, JobState::Done);
    assert!(download(server.port, "live/room42/a.mp4").await.0 == bytes);
}

#[tokio::test]
async fn an_unreachable_server_is_retried_until_it_is_up() {
    if !have_s3rver() {
        return;
    }
    let port = free_port();
    let rx = Receiver::start().await;
    let sink = TestSink::start(&s3_config(port, ACCESS, "attempts = 12", &rx.url("/tell"))).await;
    let bytes = write_file(&sink.rec("late.mp4"), 6 * 1024 * 1024);
    let (status, _) = post(&sink.url(&format!("?key={KEY}")), &event_for("late.mp4")).await;
    assert_eq!(status, 200);
    // The first attempt finds nobody listening; the job waits for another.
    wait_for("a failed attempt", &sink, |s| {
        s.jobs().first().is_some_and(|j| {
            j.state == JobState::Pending
                && j.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("cannot reach http://127.0.0.1"))
        })
    })
    .await;
    let server = s3rver(port).await;
    wait_for("the upload told", &sink, |_| rx.bodies().len() == 1).await;
    let job = sink.jobs().into_iter().find(|j| j.action_kind == "s3").unwrap();
    assert_eq!(job.state, JobState::Done);
    assert!(job.attempts >= 2, "{job:#?}");
    assert!(download(server.port, "live/room42/late.mp4").await.0 == bytes);
}

#[test]
fn s3_config_mistakes_are_precise_errors() {
    let with = |extra: &str| {
        onelive_sink::config::SinkConfig::from_toml_str(&config_with(&format!(
            r#"
[[rules]]
name = "store"
events = ["video_transmux_finish"]
[[rules.actions]]
kind = "s3"
bucket = "rec"
access_key_id = "a"
secret_access_key = "b"
{extra}
"#
        )))
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    with("endpoint = \"http://127.0.0.1:9000\"\npath_style = true").unwrap();
    let e = with("endpoint = \"http://127.0.0.1:9000\"").unwrap_err();
    assert!(e.contains("an IP endpoint needs path_style = true"), "{e}");
    let e = with("endpoint = \"http://127.0.0.1:9000\"\npath_style = true\npart_size_mib = 1")
        .unwrap_err();
    assert!(e.contains("part_size_mib must be between 5 and 5120, got 1"), "{e}");
    let e = with("endpoint = \"ftp://x\"\npath_style = true").unwrap_err();
    assert!(e.contains("rules[0] (\"store\").actions[0] (s3): bucket"), "{e}");
    let e = with("endpoint = \"https://s3.example\"\nkey = \"{{ oops\"").unwrap_err();
    assert!(e.contains("key template"), "{e}");
    let e = with("endpoint = \"https://user:pw@s3.example\"").unwrap_err();
    assert!(e.contains("must not carry a user or password") && !e.contains("pw@"), "{e}");
}

/// The TOML block after `<!-- s3-example -->` in docs/sink.md.
fn documented_example() -> String {
    let doc = include_str!("../../../docs/sink.md");
    let after = doc.split("<!-- s3-example -->").nth(1).expect("marker in docs/sink.md");
    let block = after.split("```toml\n").nth(1).unwrap();
    block.split("```").next().unwrap().to_owned()
}

#[tokio::test]
async fn the_documented_s3_example_runs_end_to_end() {
    if !have_s3rver() {
        return;
    }
    let server = s3rver(free_port()).await;
    let dav = serve_webdav();
    let ntfy = Receiver::start().await;
    // Only the endpoints and the credentials change.
    let toml = documented_example()
        .replace(
            "endpoint = \"https://ACCOUNT.r2.cloudflarestorage.com\"",
            &format!("endpoint = \"http://127.0.0.1:{}\"\npath_style = true", server.port),
        )
        .replace("bucket = \"recordings\"", &format!("bucket = \"{BUCKET}\""))
        .replace("{ env = \"S3_ACCESS_KEY_ID\" }", &format!("\"{ACCESS}\""))
        .replace("{ env = \"S3_SECRET_ACCESS_KEY\" }", &format!("\"{SECRET}\""))
        .replace("\"drive:recordings\"", &format!("\":webdav,url='{}':recordings\"", dav.url))
        .replace("service = \"ntfy\"", &format!("service = \"ntfy\"\nurl = \"{}\"", ntfy.url("")));
    let sink = TestSink::start(&toml).await;
    let bytes = write_file(&sink.rec("a.mp4"), 200_000);
    let (status, _) = post(&sink.url(&format!("?key={KEY}")), &event_for("a.mp4")).await;
    assert_eq!(status, 200);
    wait_for("the notification", &sink, |_| !ntfy.bodies().is_empty()).await;
    let jobs = sink.settled(Duration::from_secs(60)).await;
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j.state == JobState::Done), "{jobs:#?}");
    // The event's ts is 2026-03-11: the key has the date.
    let key = "bilibili/Room42/2026-03-11/a.mp4";
    assert!(download(server.port, key).await.0 == bytes);
    assert_eq!(std::fs::read(dav.root.path().join("recordings/a.mp4")).unwrap(), bytes);
    let sent: serde_json::Value = serde_json::from_str(&ntfy.bodies()[0].1).unwrap();
    assert_eq!(
        sent["message"],
        format!(
            "a.mp4: http://127.0.0.1:{}/{BUCKET}/{key} and :webdav:recordings/a.mp4",
            server.port
        )
    );
}
