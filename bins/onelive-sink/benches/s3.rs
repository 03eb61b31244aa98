//! Benchmark of the `s3` action (loopback only). Prints numbers.
//!
//! Uploads a 512 MiB file as a multipart upload (16 MiB parts) to s3rver, a
//! real S3 server, through a sink served in this process, sampling this
//! process's RSS during the upload; then, as the anchor, `curl -T` of the
//! same file to the same server as one signed PUT.
//!
//! Needs `s3rver` (scripts/install-deps.sh) and `curl`. Run with
//! `cargo bench -p onelive-sink-bin --bench s3`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use onelive_sink::config::SinkConfig;
use onelive_sink::store::JobState;
use onelive_sink::{Sink, SinkOptions};

const KEY: &str = "bench_key_0123456789";
const SIZE: u64 = 512 * 1024 * 1024;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with(field))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn main() {
    for tool in ["s3rver", "curl"] {
        if Command::new(tool).arg("--version").output().is_err() {
            eprintln!("s3 bench: `{tool}` is not installed (scripts/install-deps.sh); skipping");
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::create_dir_all(dir.path().join("s3")).unwrap();
    let mut server = Command::new("s3rver")
        .arg("-d")
        .arg(dir.path().join("s3"))
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-s", "--no-vhost-buckets"])
        .args(["--configure-bucket", "rec"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("s3rver");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(dir.path(), port));
    let _ = server.kill();
    let _ = server.wait();
}

async fn run(dir: &std::path::Path, port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "s3rver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::create_dir_all(dir.join("rec")).unwrap();
    let file = dir.join("rec/bench.mp4");
    std::fs::File::create(&file).unwrap().set_len(SIZE).unwrap();
    let config = SinkConfig::from_toml_str(&format!(
        r#"
[auth]
keys = ["{KEY}"]
[paths]
allowed_roots = ["rec"]
map = [{{ from = "/app/rec", to = "rec" }}]
[[rules]]
name = "s3"
events = ["video_transmux_finish"]
[[rules.actions]]
kind = "s3"
endpoint = "http://127.0.0.1:{port}"
path_style = true
bucket = "rec"
key = "bench/{{{{ file_name }}}}"
access_key_id = "S3RVER"
secret_access_key = "S3RVER"
part_size_mib = 16
"#
    ))
    .expect("config");
    let options = SinkOptions { base_dir: Some(dir.to_owned()), ..Default::default() };
    let sink = Sink::new(config, options).expect("sink");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(sink.clone().serve(listener, std::future::pending::<()>()));
    let idle = rss_kib("VmRSS:");
    let event = serde_json::json!({"id": "0190a5b2-4c4e-7b4e-8a55-398ea849f0a1",
        "ts": "2026-03-11T05:22:38Z", "type": "video_transmux_finish",
        "data": {"platform": "bench", "channel": "c", "input": "x", "output": "/app/rec/bench.mp4"}});
    let start = Instant::now();
    let answer = reqwest::Client::new()
        .post(format!("http://{addr}/webhook?key={KEY}"))
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .expect("post");
    assert!(answer.status().is_success());
    let mut max_rss = idle;
    loop {
        let jobs = sink.store().list(None, 1).unwrap();
        if jobs.first().is_some_and(|j| j.state == JobState::Done) {
            break;
        }
        assert!(jobs.first().is_none_or(|j| j.state != JobState::Failed), "{jobs:?}");
        assert!(start.elapsed() < Duration::from_secs(600), "upload did not finish");
        max_rss = max_rss.max(rss_kib("VmRSS:"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sink_secs = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let curl = Command::new("curl")
        .args(["-sS", "-f", "-o", "/dev/null", "--aws-sigv4", "aws:amz:us-east-1:s3"])
        .args(["--user", "S3RVER:S3RVER", "-T"])
        .arg(&file)
        .arg(format!("http://127.0.0.1:{port}/rec/bench/curl.mp4"))
        .status()
        .expect("curl");
    assert!(curl.success(), "curl: {curl}");
    let curl_secs = start.elapsed().as_secs_f64();

    #[allow(clippy::cast_precision_loss)]
    let mib = SIZE as f64 / 1024.0 / 1024.0;
    println!(
        "s3 upload of {mib:.0} MiB to s3rver: sink multipart (16 MiB parts) {sink_secs:.2} s \
         ({:.0} MiB/s); anchor curl -T one PUT {curl_secs:.2} s ({:.0} MiB/s)",
        mib / sink_secs,
        mib / curl_secs
    );
    #[allow(clippy::cast_precision_loss)]
    let to_mib = |k: u64| k as f64 / 1024.0;
    println!(
        "bench process RSS: idle {:.1} MiB, max during the upload {:.1} MiB (file {mib:.0} MiB)",
        to_mib(idle),
        to_mib(max_rss)
    );
}
