//! `streamhut-rec`, the real recorder with the StreamHut adapter registered,
//! run as a process: a loopback mock of StreamHut's API says the channel is
//! live with a synthetic live HLS origin as its stream; the recorder records
//! it, transmuxes it and delivers every event, signed, to a loopback
//! receiver; the channel goes offline (`live_end`); SIGINT ends it
//! (`app_exit`). Nothing leaves 127.0.0.1.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use onelive_events::{Event, EventData};
use onelive_synthetic::{SyntheticOptions, SyntheticOrigin};
use onelive_webhook::verify::{SignatureHeaders, Verifier, WebhookSecret};

#[derive(Clone)]
struct Mock {
    live: Arc<Mutex<bool>>,
    hls: String,
}

async fn channel(State(m): State<Mock>) -> axum::Json<serde_json::Value> {
    let live = *m.live.lock().unwrap();
    axum::Json(serde_json::json!({
        "id": 42, "name": "Ada", "avatar": "", "live": live, "title": "Writing adapters",
        "category": "Software", "session_id": "s-9001", "hls": if live { m.hls.as_str() } else { "" },
    }))
}

#[derive(Clone)]
struct Receiver {
    verifier: Arc<Verifier>,
    events: Arc<Mutex<Vec<Event>>>,
    rejected: Arc<Mutex<usize>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let get = |name: &'static str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = r.verifier.verify(&SignatureHeaders::from_fn(get), &body).is_ok();
    match Event::from_json(&body) {
        Ok(event) if verified => {
            let mut events = r.events.lock().unwrap();
            if !events.iter().any(|e| e.id == event.id) {
                events.push(event);
                // Concurrent deliveries may complete out of order: keep event order.
                events.sort_by_key(|e| (e.ts, e.id));
            }
            StatusCode::NO_CONTENT
        }
        _ => {
            *r.rejected.lock().unwrap() += 1;
            StatusCode::UNAUTHORIZED
        }
    }
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

async fn wait_for(what: &str, log: &Path, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !f() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("timed out waiting for {what}; log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn probe_duration(path: &str) -> Option<f64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_recorder_records_a_custom_platform() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let mock = Mock { live: Arc::new(Mutex::new(true)), hls: origin.hls_url() };
    let api = serve(
        axum::Router::new()
            .route("/v1/channels/ada", axum::routing::get(channel))
            .with_state(mock.clone()),
    )
    .await;
    let secret = WebhookSecret::generate();
    let receiver = Receiver {
        verifier: Arc::new(Verifier::new(vec![secret.clone()])),
        events: Arc::default(),
        rejected: Arc::default(),
    };
    let hook = serve(
        axum::Router::new()
            .route("/webhook", axum::routing::post(receive))
            .with_state(receiver.clone()),
    )
    .await;
    let config = d.join("oneliverec.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[output]
folder = "{rec}"
[transmux]
format = "mp4"
[watch]
poll_interval = "1s"
jitter = 0.0
debounce = "3s"
stall_timeout = "8s"
min_interval = {{ streamhut = "500ms" }}
[api]
enabled = false
[platforms]
streamlink = false
[platforms.host_overrides]
"api.streamhut.example" = "{api}"
[[channels]]
url = "https://streamhut.example/live/ada"
[[webhooks]]
url = "{hook}/webhook"
secret = "{secret}"
"#,
            rec = d.join("rec").display(),
        ),
    )
    .unwrap();
    let log = d.join("log.txt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_streamhut-rec"))
        .arg(&config)
        .current_dir(d)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let count =
        |t: &str| receiver.events.lock().unwrap().iter().filter(|e| e.type_name() == t).count();
    wait_for("video_file_create", &log, || count("video_file_create") == 1).await;
    // Let a few seconds of stream reach the file before the channel ends.
    let recording = receiver.events.lock().unwrap().iter().find_map(|e| match &e.data {
        EventData::VideoFileCreate(c) => Some(c.path.clone()),
        _ => None,
    });
    let recording = recording.unwrap();
    wait_for("3 s recorded", &log, || probe_duration(&recording).is_some_and(|s| s >= 3.0)).await;
    *mock.live.lock().unwrap() = false;
    origin.stop().await;
    wait_for("live_end", &log, || count("live_end") == 1).await;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "streamhut-rec did not exit after SIGINT");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{status:?}\n{log_text}");
    wait_for("app_exit", &log, || count("app_exit") == 1).await;

    let events = receiver.events.lock().unwrap().clone();
    let types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
    assert_eq!(
        types,
        [
            "app_launch",
            "live_start",
            "video_file_create",
            "video_file_finish",
            "video_transmux_finish",
            "live_end",
            "app_exit"
        ],
        "log:\n{log_text}"
    );
    assert_eq!(*receiver.rejected.lock().unwrap(), 0);
    let EventData::LiveStart(start) = &events[1].data else { panic!("{:?}", events[1]) };
    assert_eq!((start.platform.as_str(), start.channel.as_str()), ("streamhut", "ada"));
    assert_eq!(start.url, "https://streamhut.example/live/ada");
    assert_eq!(
        (start.live_info.uname.as_str(), start.live_info.title.as_str()),
        ("Ada", "Writing adapters")
    );
    let session = start.session_id.expect("live_start has a session");
    for e in &events[1..6] {
        assert_eq!(e.data.session_id(), Some(session), "{}", e.type_name());
    }
    let EventData::VideoFileFinish(fin) = &events[3].data else { panic!("{:?}", events[3]) };
    assert_eq!(fin.path, recording);
    assert!(fin.path.starts_with(&d.join("rec").display().to_string()), "{}", fin.path);
    assert!(fin.duration >= 3.0, "{}", fin.duration);
    let EventData::VideoTransmuxFinish(t) = &events[4].data else { panic!("{:?}", events[4]) };
    assert_eq!(t.input, fin.path);
    assert!(t.output.ends_with(".mp4"), "{}", t.output);
    assert!(probe_duration(&t.output).is_some_and(|s| s >= 3.0), "{} is not playable", t.output);
}
