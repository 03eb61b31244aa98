//! A channel URL's query string (tokens, signatures) never reaches a log
//! line, an event, the API or a process list.

use std::time::Duration;

use nix::sys::signal::Signal;
use onelive_synthetic::{SyntheticOptions, SyntheticOrigin};

use crate::e2e_support::*;

const TOKEN: &str = "tok3n7e2e51a";
const SIGN: &str = "s1gnf00dcafe";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_strings_of_channel_urls_stay_secret_with_the_native_engine() {
    query_strings_stay_secret("native").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_strings_of_channel_urls_stay_secret_with_the_ffmpeg_engine() {
    query_strings_stay_secret("ffmpeg").await;
}

async fn query_strings_stay_secret(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let receiver = Receiver::start().await;
    let api = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let channel = format!("{}?token={TOKEN}&sign={SIGN}", origin.hls_url());
    let config = d.join("oneliverec.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[output]
folder = "{rec}"
[recording]
engine = "{engine}"
[transmux]
format = "mp4"
[watch]
poll_interval = "1s"
jitter = 0.0
debounce = "3s"
[disk]
min_free_mb = 16
[api]
listen = "{api}"
[[channels]]
url = "{channel}"
[[webhooks]]
url = "{hook}"
secret = "{secret}"
"#,
            rec = d.join("rec").display(),
            hook = receiver.url,
            secret = receiver.secret,
        ),
    )
    .unwrap();
    let mut child = spawn_run(&config, d, 1);
    wait_for("a recording file announced", Duration::from_secs(60), d, || {
        receiver.count("video_file_create") >= 1
    })
    .await;

    // Every process the recorder started: its command line is world-readable.
    let mut shown = Vec::new();
    for pid in descendants(child.id()) {
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            shown.push(format!("process {pid}: {}", String::from_utf8_lossy(&cmdline)));
        }
    }
    if engine == "ffmpeg" {
        assert!(shown.iter().any(|p| p.contains("ffmpeg")), "no ffmpeg seen: {shown:?}");
    }
    let client = reqwest::Client::new();
    for route in ["/api/channels", "/api/events", "/api/recordings"] {
        let body =
            client.get(format!("http://{api}{route}")).send().await.unwrap().text().await.unwrap();
        assert!(body.contains("m3u8"), "{route} does not show the channel: {body}");
        shown.push(format!("{route}: {body}"));
    }
    signal(&child, Signal::SIGTERM);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).await.success(), "{}", log(d, 1));
    wait_for("app_exit", Duration::from_secs(30), d, || receiver.count("app_exit") == 1).await;
    for event in receiver.snapshot() {
        shown.push(format!("event {}: {}", event.type_name(), event.to_json()));
    }
    shown.push(format!("log: {}", log(d, 1)));
    for path in walk(&d.join("rec")) {
        shown.push(format!("file name: {}", path.display()));
    }
    for line in &shown {
        assert!(!line.contains(TOKEN) && !line.contains(SIGN), "a secret leaked in {line}");
    }
}

/// `pid` and its descendants (children, their children, ...).
fn descendants(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        for (child, _) in children_of(all[i]) {
            if !all.contains(&child) {
                all.push(child);
            }
        }
        i += 1;
    }
    all
}
