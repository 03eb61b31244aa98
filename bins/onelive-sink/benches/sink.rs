//! Benchmarks of the real `onelive-sink` binary (loopback only). Prints numbers.
//!
//! 1. Ingest of events that match no rule (key auth), with `wrk`, side by
//!    side with a bare axum server answering a constant on the same route.
//! 2. Durable ingest of events that create jobs (stored in SQLite before 2xx).
//! 3. Upload of a 1 GiB file to the local Pixeldrain stand-in, against
//!    `curl -T` of the same file to the same server; the sink's RSS sampled
//!    during the upload.
//!
//! Needs `wrk` and `curl` (`apt-get install wrk curl`). Run with
//! `cargo bench -p onelive-sink-bin --bench sink`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use onelive_sink::stand_in::PixeldrainStandIn;

const KEY: &str = "bench_key_0123456789";
const API_KEY: &str = "bench-api-key";
const SECONDS: &str = "8";

fn main() {
    for tool in ["wrk", "curl"] {
        if Command::new(tool).arg("--version").output().is_err() {
            eprintln!("sink bench: `{tool}` is not installed (apt-get install {tool}); skipping");
            return;
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    runtime.block_on(run(dir.path()));
}

fn event(kind: &str, data: &str) -> String {
    format!(
        r#"{{"id":"398ea849-7c4b-45c4-bd2f-093df217266c","ts":"2026-03-11T05:22:38.393477700Z","type":"{kind}","data":{data}}}"#
    )
}

fn write_config(dir: &Path, api: &str, forward_url: &str) {
    std::fs::create_dir_all(dir.join("rec")).expect("rec");
    let text = format!(
        r#"
[auth]
keys = ["{KEY}"]

[store]
path = "bench.db"

[jobs]
concurrency = 2

[paths]
allowed_roots = ["rec"]
map = [{{ from = "/app/rec", to = "rec" }}]

[[rules]]
name = "upload"
events = ["video_transmux_finish"]
actions = [{{ kind = "pixeldrain", api_key = "{API_KEY}", api = "{api}", attempts = 1 }}]

[[rules]]
name = "notify"
events = ["live_start"]
actions = [{{ kind = "forward", url = "{forward_url}" }}]
"#
    );
    std::fs::write(dir.join("sink.toml"), text).expect("config");
}

struct Sink {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sink(dir: &Path) -> Sink {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_onelive-sink"))
        .current_dir(dir)
        .args([
            "--config",
            "sink.toml",
            "--listen",
            "127.0.0.1:0",
            "--log-dir",
            "logs",
            "--log",
            "warn,onelive_sink::sink=info",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn onelive-sink");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1)
                && let Some(addr) =
                    rest.split('/').next().and_then(|a| a.parse::<SocketAddr>().ok())
            {
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).expect("sink did not start");
    Sink { child, addr }
}

/// Runs wrk with a Lua script; returns requests/s and the non-2xx count.
fn wrk(url: &str, lua: &str, dir: &Path, connections: u32) -> (f64, u64) {
    let script = dir.join("wrk.lua");
    std::fs::write(&script, lua).expect("lua");
    let out = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{SECONDS}s"), "-s"])
        .arg(&script)
        .arg(url)
        .output()
        .expect("wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let non2xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    (rps, non2xx)
}

fn static_lua(body: &str) -> String {
    format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [[{body}]]\n"
    )
}

/// Every request gets a fresh event id (thread number + counter).
fn unique_lua() -> String {
    r#"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  counter = 0
end
function request()
  counter = counter + 1
  local id = string.format("00000000-0000-4%03d-8000-%012d", tid, counter)
  local body = '{"id":"' .. id .. '","ts":"2026-03-11T05:22:38Z","type":"live_start","data":{"platform":"bench","channel":"c","url":"https://live.example.com","live_info":{}}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"#
    .to_owned()
}

/// The comparison point: a bare axum server answering a constant.
async fn bare_axum() -> SocketAddr {
    let app = axum::Router::new().route(
        "/webhook",
        axum::routing::post(|| async {
            ([("content-type", "application/json")], r#"{"status":"ignored"}"#)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn forward_receiver() -> SocketAddr {
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn run(dir: &Path) {
    let pd = PixeldrainStandIn::start(API_KEY).await.expect("stand-in");
    pd.keep_bytes_up_to(0);
    let receiver = forward_receiver().await;
    write_config(dir, &pd.api_base(), &format!("http://{receiver}/hook"));
    let sink = start_sink(dir);
    let bare = bare_axum().await;
    let url = format!("http://{}/webhook?key={KEY}", sink.addr);

    // SINK_BENCH=upload runs only the upload part.
    let only_upload = std::env::var("SINK_BENCH").is_ok_and(|v| v == "upload");
    if !only_upload {
        // 1. Ingest, no matching rule, key auth, side by side with bare axum.
        let ignored = static_lua(&event(
            "title_change",
            r#"{"platform":"bench","channel":"c","old_live_info":{},"new_live_info":{}}"#,
        ));
        let (bare_rps, _) = wrk(&format!("http://{bare}/webhook?key={KEY}"), &ignored, dir, 64);
        let (sink_rps, sink_errors) = wrk(&url, &ignored, dir, 64);
        println!(
            "ingest (no rule, key auth): onelive-sink {sink_rps:.0} req/s, bare axum {bare_rps:.0} req/s, ratio {:.2} (non-2xx: {sink_errors})",
            sink_rps / bare_rps
        );

        // 2. Durable ingest of events that create jobs.
        let (jobs_rps, job_errors) = wrk(&url, &unique_lua(), dir, 32);
        println!(
            "durable ingest (1 forward job per event, SQLite WAL, synchronous=FULL): {jobs_rps:.0} events/s (non-2xx: {job_errors})"
        );
    }

    // 3. Upload of 1 GiB: the sink vs curl -T, same file, same server.
    let size: u64 = 1024 * 1024 * 1024;
    let file = dir.join("rec/bench.mp4");
    {
        let mut f = std::fs::File::create(&file).expect("file");
        let block: Vec<u8> =
            (0..1024 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        for _ in 0..1024 {
            f.write_all(&block).expect("write");
        }
    }
    // Warm the page cache for both.
    let _ = std::fs::read(&file).map(|b| b.len());

    let start = Instant::now();
    let curl = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-u", &format!(":{API_KEY}"), "-T"])
        .arg(&file)
        .arg(format!("{}/file/curl.mp4", pd.api_base()))
        .status()
        .expect("curl");
    let curl_secs = start.elapsed().as_secs_f64();
    assert!(curl.success());
    assert_eq!(pd.uploads().last().map(|u| u.size), Some(size));

    // A fresh sink (the forward jobs of step 2 are still queued in the first one).
    drop(sink);
    let upload_dir = dir.join("upload");
    write_config(&upload_dir, &pd.api_base(), &format!("http://{receiver}/hook"));
    std::fs::rename(&file, upload_dir.join("rec/bench.mp4")).expect("move");
    let sink = start_sink(&upload_dir);
    let url = format!("http://{}/webhook?key={KEY}", sink.addr);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = sink.child.id();
    let before = pd.uploads().len();
    let idle_rss = rss_kib(pid, "VmRSS:");
    let body = event(
        "video_transmux_finish",
        r#"{"platform":"bench","channel":"c","input":"rec/bench.ts","output":"/app/rec/bench.mp4"}"#,
    )
    .replace("398ea849", "498ea849");
    let start = Instant::now();
    let answer = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    assert!(answer.status().is_success(), "{}", answer.status());
    let mut max_rss = 0;
    while pd.uploads().len() == before {
        max_rss = max_rss.max(rss_kib(pid, "VmRSS:"));
        assert!(start.elapsed() < Duration::from_secs(300), "upload did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sink_secs = start.elapsed().as_secs_f64();
    assert_eq!(pd.uploads().last().map(|u| u.size), Some(size));
    #[allow(clippy::cast_precision_loss)]
    let mib = size as f64 / 1024.0 / 1024.0;
    println!(
        "upload 1 GiB to the stand-in: onelive-sink {:.0} MiB/s ({sink_secs:.2} s), curl -T {:.0} MiB/s ({curl_secs:.2} s), ratio {:.2}",
        mib / sink_secs,
        mib / curl_secs,
        curl_secs / sink_secs
    );
    println!(
        "sink RSS: idle {:.1} MiB, max during upload {:.1} MiB, peak (VmHWM, whole run) {:.1} MiB",
        idle_rss as f64 / 1024.0,
        max_rss as f64 / 1024.0,
        rss_kib(pid, "VmHWM:") as f64 / 1024.0
    );
}
