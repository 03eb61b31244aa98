//! Shared pieces of the `oneliverec run` end-to-end tests: a mock of
//! Bilibili's live-room API (fixtures of onelive-platform, reached through
//! host overrides), a loopback webhook receiver that verifies signatures,
//! a config writer and process helpers. Nothing leaves 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use onelive_events::Event;
use onelive_webhook::verify::{SignatureHeaders, Verifier, WebhookSecret};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_oneliverec");
pub const ROOM: &str = "21452505";

fn fixture(path: &str) -> Value {
    let full = format!(
        "{}/../../crates/onelive-platform/tests/fixtures/bilibili/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}")))
        .unwrap()
}

/// What the mock room says.
#[derive(Debug, Clone)]
pub struct Room {
    pub live: bool,
    pub title: String,
    pub parent_area: String,
    pub area: String,
    /// `http://127.0.0.1:PORT`: the HLS origin.
    pub stream_host: String,
}

/// A mock of api.live.bilibili.com and api.bilibili.com on loopback.
#[derive(Clone)]
pub struct BiliMock {
    pub room: Arc<Mutex<Room>>,
    pub base: String,
}

async fn room_init(State(m): State<BiliMock>) -> axum::Json<Value> {
    let live = m.room.lock().unwrap().live;
    let mut v = fixture("room_init_live.json");
    v["data"]["live_status"] = json!(if live { 1 } else { 0 });
    axum::Json(v)
}

async fn get_info(State(m): State<BiliMock>) -> axum::Json<Value> {
    let r = m.room.lock().unwrap().clone();
    let mut v = fixture("get_info_live.json");
    v["data"]["live_status"] = json!(if r.live { 1 } else { 0 });
    v["data"]["title"] = json!(r.title);
    v["data"]["parent_area_name"] = json!(r.parent_area);
    v["data"]["area_name"] = json!(r.area);
    axum::Json(v)
}

async fn anchor() -> axum::Json<Value> {
    axum::Json(fixture("anchor.json"))
}

async fn nav() -> axum::Json<Value> {
    axum::Json(fixture("nav.json"))
}

async fn play_info(
    State(m): State<BiliMock>,
    Query(_q): Query<Vec<(String, String)>>,
) -> axum::Json<Value> {
    let r = m.room.lock().unwrap().clone();
    let mut v = fixture("play_info_live.json");
    v["data"]["live_status"] = json!(if r.live { 1 } else { 0 });
    v["data"]["playurl_info"]["playurl"]["stream"] = json!([{
        "protocol_name": "http_hls",
        "format": [{
            "format_name": "ts",
            "codec": [{
                "codec_name": "avc", "current_qn": 10000, "accept_qn": [10000],
                "base_url": "/live/stream.m3u8?",
                "url_info": [{ "host": r.stream_host, "extra": "sign=streamtoken", "stream_ttl": 3600 }],
                "hdr_qn": null, "dolby_type": 0, "attr_name": ""
            }]
        }]
    }]);
    axum::Json(v)
}

impl BiliMock {
    pub async fn start(room: Room) -> BiliMock {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mock = BiliMock { room: Arc::new(Mutex::new(room)), base };
        let app = axum::Router::new()
            .route("/api.live.bilibili.com/room/v1/Room/room_init", get(room_init))
            .route("/api.live.bilibili.com/room/v1/Room/get_info", get(get_info))
            .route("/api.live.bilibili.com/live_user/v1/UserInfo/get_anchor_in_room", get(anchor))
            .route("/api.live.bilibili.com/xlive/web-room/v2/index/getRoomPlayInfo", get(play_info))
            .route("/api.bilibili.com/x/web-interface/nav", get(nav))
            .with_state(mock.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        mock
    }
    pub fn set(&self, f: impl FnOnce(&mut Room)) {
        f(&mut self.room.lock().unwrap());
    }
}

/// A webhook receiver that verifies Standard Webhooks signatures.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub secret: String,
    verifier: Arc<Verifier>,
    pub events: Arc<Mutex<Vec<Event>>>,
    pub rejected: Arc<Mutex<usize>>,
    /// While true, answer 503 (a receiver that is down).
    pub down: Arc<Mutex<bool>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if *r.down.lock().unwrap() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let get = |name: &'static str| headers.get(name).and_then(|v| v.to_str().ok());
    if r.verifier.verify(&SignatureHeaders::from_fn(get), &body).is_err() {
        *r.rejected.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(event) = Event::from_json(&body) else {
        *r.rejected.lock().unwrap() += 1;
        return StatusCode::BAD_REQUEST;
    };
    let mut events = r.events.lock().unwrap();
    if !events.iter().any(|e| e.id == event.id) {
        events.push(event);
        // Deliveries run concurrently and may complete out of order (see
        // docs/webhook-delivery.md, "Ordering"): the tests read event order.
        events.sort_by_key(|e| (e.ts, e.id));
    }
    StatusCode::NO_CONTENT
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let secret = WebhookSecret::generate();
        let r = Receiver {
            url: format!("http://{}/webhook", listener.local_addr().unwrap()),
            secret: secret.to_string(),
            verifier: Arc::new(Verifier::new(vec![secret])),
            events: Arc::default(),
            rejected: Arc::default(),
            down: Arc::default(),
        };
        let app = axum::Router::new().route("/webhook", post(receive)).with_state(r.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        r
    }
    pub fn types(&self) -> Vec<String> {
        self.events.lock().unwrap().iter().map(|e| e.type_name().to_owned()).collect()
    }
    pub fn count(&self, t: &str) -> usize {
        self.types().iter().filter(|x| *x == t).count()
    }
    pub fn snapshot(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

/// Writes `oneliverec.toml` for one Bilibili room behind `mock`.
pub fn write_config(dir: &Path, mock: &BiliMock, receiver: &Receiver, debounce: &str) -> PathBuf {
    let text = format!(
        r#"
[output]
folder = "{rec}"
filename_template = "{{platform}}/{{channel}}/{{start_time:%Y%m%d}}_{{time}}_{{session}}_part{{part}}"

[transmux]
format = "mp4"

[watch]
poll_interval = "1s"
jitter = 0.0
debounce = "{debounce}"
stall_timeout = "8s"
min_interval = {{ bilibili = "500ms" }}

[disk]
min_free_mb = 16

[api]
enabled = false

[platforms.host_overrides]
"api.live.bilibili.com" = "{base}/api.live.bilibili.com"
"api.bilibili.com" = "{base}/api.bilibili.com"

[[channels]]
url = "https://live.bilibili.com/{ROOM}"
name = "mockroom"

[[webhooks]]
url = "{url}"
secret = "{secret}"
"#,
        rec = dir.join("rec").display(),
        base = mock.base,
        url = receiver.url,
        secret = receiver.secret,
    );
    let path = dir.join("oneliverec.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `oneliverec run --config PATH`, logs to `dir/log-N.txt`.
pub fn spawn_run(config: &Path, dir: &Path, n: u32) -> Child {
    spawn_run_with(config, dir, n, "15s")
}

/// `oneliverec run` with a chosen `--shutdown-timeout`.
pub fn spawn_run_with(config: &Path, dir: &Path, n: u32, shutdown_timeout: &str) -> Child {
    let log = std::fs::File::create(dir.join(format!("log-{n}.txt"))).unwrap();
    Command::new(BIN)
        .args(["run", "--config"])
        .arg(config)
        .args(["--shutdown-timeout", shutdown_timeout])
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .env_remove("ONELIVEREC_CONFIG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

pub fn log(dir: &Path, n: u32) -> String {
    std::fs::read_to_string(dir.join(format!("log-{n}.txt"))).unwrap_or_default()
}

pub fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, sig).unwrap();
}

/// Waits for the process to exit (panics after `timeout`).
pub async fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("oneliverec did not exit within {}s", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `f` every 100 ms; panics with `what` and the log after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, dir: &Path, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}; log:\n{}", log(dir, 1));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Waits until the newest recording file under `dir/rec` holds at least `seconds` of stream
/// (as ffprobe reads the growing file), so a test ends a recording that has real content
/// however slowly a loaded machine records.
pub async fn wait_for_recorded(dir: &Path, seconds: f64) {
    let what = format!("{seconds} s recorded");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let newest = walk(&dir.join("rec"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "ts" || e == "flv"))
            .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
            .max();
        if let Some((_, path)) = newest {
            let out = Command::new("ffprobe")
                .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
                .arg(&path)
                .output()
                .unwrap();
            let probed = String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().ok();
            if probed.is_some_and(|d| d >= seconds) {
                return;
            }
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}; log:\n{}", log(dir, 1));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// ffprobe reads the file and finds a positive duration.
pub fn ffprobe_duration(path: &str) -> f64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe refused {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no duration for {path}"))
}

/// Every file announced by `video_file_finish` / `video_transmux_finish` is playable.
pub fn assert_announced_files_valid(events: &[Event]) -> usize {
    let mut n = 0;
    for e in events {
        let path = match &e.data {
            onelive_events::EventData::VideoFileFinish(d) => d.path.clone(),
            onelive_events::EventData::VideoTransmuxFinish(d) => d.output.clone(),
            _ => continue,
        };
        let d = ffprobe_duration(&path);
        assert!(d > 0.5, "{path} lasts only {d}s");
        n += 1;
    }
    n
}

pub fn room(stream_host: String) -> Room {
    Room {
        live: true,
        title: "first title".into(),
        parent_area: "单机游戏".into(),
        area: "我的世界".into(),
        stream_host,
    }
}

pub fn origin_host(origin: &onelive_synthetic::SyntheticOrigin) -> String {
    format!("http://{}", origin.addr())
}

/// The children of `parent` as (pid, command name), from /proc.
pub fn children_of(parent: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| {
            let pid = e.ok()?.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid ...
            let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let ppid = rest.split(' ').nth(1)?.parse::<u32>().ok()?;
            (ppid == parent).then(|| (pid, comm.to_owned()))
        })
        .collect()
}

/// The set-up every `oneliverec run` scenario shares: a temporary folder,
/// a synthetic live HLS origin, the Bilibili mock of a room streaming it, a
/// signature-checking receiver, and the config in the folder naming them.
/// (Keep `origin` bound, e.g. as `_origin`: dropping it stops the stream.)
pub struct Scenario {
    pub dir: tempfile::TempDir,
    pub origin: onelive_synthetic::SyntheticOrigin,
    pub mock: BiliMock,
    pub receiver: Receiver,
    pub config: PathBuf,
}

impl Scenario {
    /// A live room and a receiver that is up, with this `debounce`.
    pub async fn live(debounce: &str) -> Scenario {
        Scenario::with(debounce, |_, _| {}).await
    }

    /// [`Scenario::live`], the room and the receiver set by `f` first.
    pub async fn with(debounce: &str, f: impl FnOnce(&mut Room, &Receiver)) -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let origin = onelive_synthetic::SyntheticOrigin::start(Default::default()).await.unwrap();
        let mut r = room(origin_host(&origin));
        let receiver = Receiver::start().await;
        f(&mut r, &receiver);
        let mock = BiliMock::start(r).await;
        let config = write_config(dir.path(), &mock, &receiver, debounce);
        Scenario { dir, origin, mock, receiver, config }
    }
}
