//! Helpers shared by the integration tests: a sink served on loopback, a
//! Pixeldrain stand-in, and request builders.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use onelive_sink::config::SinkConfig;
use onelive_sink::stand_in::PixeldrainStandIn;
use onelive_sink::store::{Job, JobState};
use onelive_sink::{Sink, SinkOptions};
use tempfile::TempDir;

pub const KEY: &str = "my_super_secret_webhook_key_123";
pub const API_KEY: &str = "5f45f184-64bb-4eaa-be19-4a5f0459db49";

pub struct TestSink {
    pub dir: TempDir,
    pub addr: SocketAddr,
    pub sink: Sink,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), onelive_sink::Error>>>,
}

impl TestSink {
    /// Starts a sink in a fresh tempdir (which has an empty `rec/` folder).
    /// `{api}` in `toml` is replaced by `api`.
    pub async fn start(toml: &str) -> TestSink {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("rec")).unwrap();
        Self::start_in(dir, toml).await
    }

    pub async fn start_in(dir: TempDir, toml: &str) -> TestSink {
        Self::start_with(dir, toml, None).await
    }

    /// Like `start_in`, with upload progress going to `progress`.
    pub async fn start_with(
        dir: TempDir,
        toml: &str,
        progress: Option<std::sync::Arc<dyn onelive_sink::progress::ProgressReporter>>,
    ) -> TestSink {
        let config = SinkConfig::from_toml_str(toml).unwrap();
        let sink = Sink::new(
            config,
            SinkOptions { base_dir: Some(dir.path().to_owned()), progress, ..Default::default() },
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(sink.clone().serve(listener, async move {
            let _ = rx.await;
        }));
        TestSink { dir, addr, sink, stop: Some(tx), task: Some(task) }
    }

    /// Stops serving and the workers; returns the tempdir for a restart.
    pub async fn stop(mut self) -> TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn url(&self, query: &str) -> String {
        format!("http://{}/webhook{query}", self.addr)
    }

    pub fn rec(&self, name: &str) -> PathBuf {
        self.dir.path().join("rec").join(name)
    }

    pub fn jobs(&self) -> Vec<Job> {
        self.sink.store().list(None, 1000).unwrap()
    }

    /// Waits until every job is done or failed.
    pub async fn settled(&self, timeout: Duration) -> Vec<Job> {
        let start = Instant::now();
        loop {
            let jobs = self.jobs();
            if !jobs.is_empty()
                && jobs.iter().all(|j| matches!(j.state, JobState::Done | JobState::Failed))
            {
                return jobs;
            }
            assert!(start.elapsed() < timeout, "jobs not settled after {timeout:?}: {jobs:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestSink {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Config with `?key=` auth, `/app/rec` -> `rec`, roots = `rec`, and `rules`.
pub fn config_with(rules: &str) -> String {
    format!(
        r#"
[auth]
keys = ["{KEY}"]

[paths]
allowed_roots = ["rec"]
map = [{{ from = "/app/rec", to = "rec" }}]

[jobs]
concurrency = 2

{rules}
"#
    )
}

pub fn upload_rule(api: &str, extra: &str) -> String {
    format!(
        r#"
[[rules]]
name = "upload"
events = ["video_transmux_finish"]
[[rules.actions]]
kind = "pixeldrain"
api_key = "{API_KEY}"
api = "{api}"
retry_delay_secs = 0.05
{extra}
"#
    )
}

/// The seed's `video_transmux_finish` example, in a full envelope.
pub fn transmux_event(id: &str, output: &str) -> String {
    serde_json::json!({
        "id": id,
        "ts": "2026-03-11T05:22:38.393477700Z",
        "type": "video_transmux_finish",
        "data": {"platform": "<PLATFORM>", "channel": "<CHANNEL>", "input": "path/to/input.file", "output": output}
    })
    .to_string()
}

pub fn new_id() -> String {
    onelive_events::Uuid::new_v4().to_string()
}

pub async fn post(url: &str, body: &str) -> (u16, serde_json::Value) {
    post_with(url, body, &[("content-type", "application/json")]).await
}

pub async fn post_with(
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().post(url).body(body.to_owned());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    (status, json)
}

pub async fn stand_in() -> PixeldrainStandIn {
    PixeldrainStandIn::start(API_KEY).await.unwrap()
}

pub fn write_file(path: &Path, len: usize) -> Vec<u8> {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(path, &bytes).unwrap();
    bytes
}

/// A loopback HTTP receiver that records every request (path with query,
/// body, headers) and answers 200 `{"ok":true}`, or 500 while told to fail.
pub struct Receiver {
    pub addr: SocketAddr,
    pub bodies: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    pub failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    headers: std::sync::Arc<std::sync::Mutex<Vec<axum::http::HeaderMap>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let headers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let state: Shared = (bodies.clone(), failing.clone(), headers.clone());
        let app = axum::Router::new().fallback(record).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, bodies, failing, headers, task }
    }

    /// The headers of each recorded request, in order.
    pub fn headers(&self) -> Vec<axum::http::HeaderMap> {
        self.headers.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn bodies(&self) -> Vec<(String, String)> {
        self.bodies.lock().unwrap().clone()
    }
}

type Shared = (
    std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::sync::Arc<std::sync::Mutex<Vec<axum::http::HeaderMap>>>,
);

async fn record(
    axum::extract::State((bodies, failing, headers)): axum::extract::State<Shared>,
    uri: axum::http::Uri,
    map: axum::http::HeaderMap,
    body: String,
) -> (axum::http::StatusCode, &'static str) {
    if failing.load(std::sync::atomic::Ordering::SeqCst) {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down");
    }
    let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    bodies.lock().unwrap().push((target, body));
    headers.lock().unwrap().push(map);
    (axum::http::StatusCode::OK, "{\"ok\":true}")
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct WebDav {
    child: std::process::Child,
    pub url: String,
    pub root: tempfile::TempDir,
}

impl Drop for WebDav {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rclone serve webdav` on an ephemeral loopback port.
pub fn serve_webdav() -> WebDav {
    let root = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("rclone")
        .args(["serve", "webdav", "--addr", "127.0.0.1:0"])
        .arg(root.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("rclone is installed (scripts/install-deps.sh)");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let url = loop {
        let line = lines.next().expect("rclone serve ended").unwrap();
        if let Some(rest) = line.split("started on ").nth(1) {
            break rest.trim().trim_end_matches('/').to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    WebDav { child, url, root }
}

/// A real 1-second H.264 + AAC part made by ffmpeg.
pub fn make_part(path: &Path, size: &str) {
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=25"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "1"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Per upload: label, total, bytes reported, finished successfully.
pub type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, u64, u64, bool)>>>;

/// Records the bytes reported per upload.
#[derive(Debug, Default)]
pub struct Recorded(pub Seen);

struct Handle(Seen, usize);

impl onelive_sink::progress::ProgressReporter for Recorded {
    fn start(&self, label: &str, total: u64) -> Box<dyn onelive_sink::progress::ProgressHandle> {
        let mut v = self.0.lock().unwrap();
        v.push((label.to_owned(), total, 0, false));
        Box::new(Handle(std::sync::Arc::clone(&self.0), v.len() - 1))
    }
}

impl onelive_sink::progress::ProgressHandle for Handle {
    fn advance(&mut self, bytes: u64) {
        self.0.lock().unwrap()[self.1].2 += bytes;
    }
    fn finish(&mut self, success: bool) {
        self.0.lock().unwrap()[self.1].3 = success;
    }
}
