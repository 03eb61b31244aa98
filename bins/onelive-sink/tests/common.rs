//! Spawning the real binary and talking to it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const KEY: &str = "my_super_secret_webhook_key_123";
pub const API_KEY: &str = "5f45f184-64bb-4eaa-be19-4a5f0459db49";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_onelive-sink")
}

pub struct SinkProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: Arc<Mutex<String>>,
    /// Signals that the stderr reader reached the end of the pipe.
    stderr_done: std::sync::mpsc::Receiver<()>,
}

impl SinkProcess {
    /// Starts `onelive-sink` in `dir` with `sink.toml`, on an ephemeral port.
    pub fn start(dir: &Path, extra: &[&str]) -> SinkProcess {
        Self::try_start(dir, extra).unwrap_or_else(|out| panic!("sink did not start:\n{out}"))
    }

    pub fn try_start(dir: &Path, extra: &[&str]) -> Result<SinkProcess, String> {
        let mut child = Command::new(bin())
            .current_dir(dir)
            .args(["--config", "sink.toml", "--listen", "127.0.0.1:0", "--log-dir", "logs"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, stderr_done) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let _done = DropSignal(done_tx);
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split('/').next().unwrap().parse::<SocketAddr>().unwrap();
                    let _ = tx.send(addr);
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let start = Instant::now();
        loop {
            if let Ok(addr) = rx.recv_timeout(Duration::from_millis(50)) {
                return Ok(SinkProcess { child, addr, stderr, stderr_done });
            }
            if let Ok(Some(status)) = child.try_wait() {
                wait_for_eof(&stderr_done);
                return Err(format!("exited with {status}:\n{}", stderr.lock().unwrap()));
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                return Err(format!("no listening line:\n{}", stderr.lock().unwrap()));
            }
        }
    }

    pub fn url(&self, query: &str) -> String {
        format!("http://{}/webhook{query}", self.addr)
    }

    /// What the process has written to stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGKILL, then everything it wrote to stderr.
    pub fn kill(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.full_log()
    }

    /// Everything written to stderr, once the process has exited (waits for the end of the pipe).
    pub fn full_log(&self) -> String {
        wait_for_eof(&self.stderr_done);
        self.log()
    }
}

/// Sends on drop, so the receiver learns that the reader thread has finished.
struct DropSignal(std::sync::mpsc::Sender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

fn wait_for_eof(done: &std::sync::mpsc::Receiver<()>) {
    // The pipe closes when the process is gone; a generous deadline in case a child holds it open.
    let _ = done.recv_timeout(Duration::from_secs(30));
}

impl Drop for SinkProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary with `args` in `dir` (for `jobs ...`, `check-config`).
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(dir)
        .args(["--config", "sink.toml"])
        .args(args)
        .output()
        .unwrap()
}

pub fn jobs_json(dir: &Path) -> Vec<serde_json::Value> {
    let out = run(dir, &["jobs", "list", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn write_config(dir: &Path, auth: &str, api: &str, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("rec")).unwrap();
    let text = format!(
        r#"
{auth}

[store]
path = "jobs.db"

[jobs]
progress_interval_secs = 0.2

[paths]
allowed_roots = ["./rec"]
map = [{{ from = "/app/rec", to = "./rec" }}]

[[rules]]
name = "upload"
events = ["video_transmux_finish"]
[[rules.actions]]
kind = "pixeldrain"
api_key = "{API_KEY}"
api = "{api}"
retry_delay_secs = 0.1
{extra}
"#
    );
    let path = dir.join("sink.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn key_auth() -> String {
    format!("[auth]\nkeys = [\"{KEY}\"]")
}

pub fn transmux_event(output: &str) -> String {
    serde_json::json!({
        "id": onelive_events::Uuid::new_v4().to_string(),
        "ts": "2026-03-11T05:22:38.393477700Z",
        "type": "video_transmux_finish",
        "data": {"platform": "<PLATFORM>", "channel": "<CHANNEL>", "input": "path/to/input.file", "output": output}
    })
    .to_string()
}

pub async fn post(url: &str, body: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

pub async fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn write_file(path: &Path, len: usize) -> Vec<u8> {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(path, &bytes).unwrap();
    bytes
}
