//! Scale benchmark: N channels (default 10,000) polled every 30 s against a
//! local mock of Bilibili's live-room API, through the real platform
//! adapter, HTTP client, engine and webhook outbox.
//!
//! The mock platform (and the synthetic HLS origin a channel goes live on)
//! run in a child process, so the figures are the engine's alone:
//! - RSS of this process (max and mean over the measurement window);
//! - CPU of this process (user + system time / wall time) in steady state;
//! - live detection to first byte on disk: a channel goes live at a random
//!   point; the time until its recording file has bytes.
//!
//! `cargo bench -p onelive-engine --bench engine_scale`; tune with
//! `BENCH_CHANNELS`, `BENCH_INTERVAL_SECS`, `BENCH_MEASURE_SECS`, and
//! `BENCH_PLATFORM=generic` (direct `.m3u8` URLs: one request per poll).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use onelive_engine::{ChannelConfig, Engine, EngineConfig, HumanDuration, wiring};
use serde_json::{Value, json};

const FIRST_ROOM: u64 = 1_000_000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

// ---------------------------------------------------------------- mock side

#[derive(Clone)]
struct Mock {
    live: Arc<Mutex<BTreeSet<u64>>>,
    stream_host: String,
    polls: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(serde::Deserialize)]
struct RoomQuery {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    room_id: Option<String>,
    #[serde(default)]
    roomid: Option<String>,
}

impl RoomQuery {
    fn room(&self) -> u64 {
        [&self.id, &self.room_id, &self.roomid]
            .iter()
            .find_map(|v| v.as_ref()?.parse().ok())
            .unwrap_or(0)
    }
}

async fn room_init(State(m): State<Mock>, Query(q): Query<RoomQuery>) -> axum::Json<Value> {
    m.polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let room = q.room();
    let live = m.live.lock().unwrap().contains(&room);
    axum::Json(
        json!({"code":0,"msg":"ok","message":"ok","data":{"room_id":room,"short_id":0,"uid":room + 7,
        "live_status": if live {1} else {0},"live_time": if live {1714550000} else {0}}}),
    )
}

async fn get_info(State(m): State<Mock>, Query(q): Query<RoomQuery>) -> axum::Json<Value> {
    let room = q.room();
    let live = m.live.lock().unwrap().contains(&room);
    axum::Json(json!({"code":0,"msg":"ok","message":"ok","data":{"uid":room + 7,"room_id":room,
        "live_status": if live {1} else {0},"title":format!("room {room}"),"parent_area_name":"Games",
        "area_name":"Minecraft","user_cover":"","keyframe":""}}))
}

async fn anchor(Query(q): Query<RoomQuery>) -> axum::Json<Value> {
    let room = q.room();
    axum::Json(
        json!({"code":0,"msg":"success","message":"success","data":{"info":{"uid":room + 7,"uname":format!("streamer{room}"),"face":""}}}),
    )
}

async fn nav() -> axum::Json<Value> {
    axum::Json(
        json!({"code":-101,"message":"账号未登录","ttl":1,"data":{"isLogin":false,"wbi_img":{
        "img_url":"https://i0.hdslb.example/bfs/wbi/7cd084941338484aae1ad9425b84077c.png",
        "sub_url":"https://i0.hdslb.example/bfs/wbi/4932caff0ff746eab6f01bf08b70ac45.png"}}}),
    )
}

async fn play_info(State(m): State<Mock>, Query(q): Query<RoomQuery>) -> axum::Json<Value> {
    let room = q.room();
    axum::Json(
        json!({"code":0,"message":"0","ttl":1,"data":{"room_id":room,"live_status":1,"playurl_info":{"playurl":{
        "g_qn_desc":[{"qn":10000,"desc":"原画"}],
        "stream":[{"protocol_name":"http_hls","format":[{"format_name":"ts","codec":[{"codec_name":"avc","current_qn":10000,
            "accept_qn":[10000],"base_url":"/live/stream.m3u8?","url_info":[{"host":m.stream_host,"extra":"","stream_ttl":3600}]}]}]}]}}}}),
    )
}

async fn go_live(State(m): State<Mock>, Path(room): Path<u64>) -> &'static str {
    m.live.lock().unwrap().insert(room);
    "ok"
}

/// The generic adapter's channel: 404 when offline, a redirect to the live
/// HLS origin when live.
async fn generic(State(m): State<Mock>, Path(name): Path<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    m.polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let room: u64 = name.trim_end_matches(".m3u8").parse().unwrap_or(0);
    if m.live.lock().unwrap().contains(&room) {
        axum::response::Redirect::temporary(&format!("{}/live/stream.m3u8", m.stream_host))
            .into_response()
    } else {
        axum::http::StatusCode::NOT_FOUND.into_response()
    }
}

async fn polls(State(m): State<Mock>) -> String {
    m.polls.load(std::sync::atomic::Ordering::Relaxed).to_string()
}

fn run_mock() {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let origin = onelive_synthetic::SyntheticOrigin::start(
            onelive_synthetic::SyntheticOptions::default(),
        )
        .await
        .expect("synthetic origin (ffmpeg)");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mock = Mock {
            live: Arc::default(),
            stream_host: format!("http://{}", origin.addr()),
            polls: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/api.live.bilibili.com/room/v1/Room/room_init", get(room_init))
            .route("/api.live.bilibili.com/room/v1/Room/get_info", get(get_info))
            .route("/api.live.bilibili.com/live_user/v1/UserInfo/get_anchor_in_room", get(anchor))
            .route("/api.live.bilibili.com/xlive/web-room/v2/index/getRoomPlayInfo", get(play_info))
            .route("/api.bilibili.com/x/web-interface/nav", get(nav))
            .route("/gen/{name}", get(generic))
            .route("/control/live/{room}", post(go_live))
            .route("/control/polls", get(polls))
            .with_state(mock);
        println!("MOCK http://{}", listener.local_addr().unwrap());
        let _ = axum::serve(listener, app).await;
        drop(origin);
    });
}

// -------------------------------------------------------------- engine side

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of this process.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command: state is index 0, utime 11, stime 12.
    let hz = 100.0; // USER_HZ on Linux
    (ticks(11) + ticks(12)) / hz
}

fn main() {
    if std::env::args().any(|a| a == "--mock-server") {
        run_mock();
        return;
    }
    let channels = env_u64("BENCH_CHANNELS", 10_000);
    let interval = env_u64("BENCH_INTERVAL_SECS", 30);
    let measure = env_u64("BENCH_MEASURE_SECS", 90);
    let generic = std::env::var("BENCH_PLATFORM").is_ok_and(|p| p == "generic");

    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--mock-server")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("mock server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("mock output").unwrap();
        if let Some(b) = line.strip_prefix("MOCK ") {
            break b.to_owned();
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EngineConfig::default();
        config.output.folder = dir.path().join("rec");
        config.state.dir = Some(dir.path().join("state"));
        config.api.enabled = false;
        config.disk.min_free_mb = 0;
        config.watch.poll_interval = HumanDuration(Duration::from_secs(interval));
        config
            .platforms
            .host_overrides
            .insert("api.live.bilibili.com".into(), format!("{base}/api.live.bilibili.com"));
        config
            .platforms
            .host_overrides
            .insert("api.bilibili.com".into(), format!("{base}/api.bilibili.com"));
        let url_of = |room: u64| {
            if generic {
                format!("{base}/gen/{room}.m3u8")
            } else {
                format!("https://live.bilibili.com/{room}")
            }
        };
        config.channels =
            (0..channels).map(|i| ChannelConfig::new(url_of(FIRST_ROOM + i))).collect();
        let state_dir = config.state_dir(None);
        let parts = wiring::real_parts(&config, &state_dir, &[]).await.unwrap();
        let started = Instant::now();
        let engine = Engine::start(config, None, parts).await.unwrap();
        println!(
            "engine_scale: {channels} channels ({}), poll interval {interval}s, started in {:?}",
            if generic {
                "generic adapter: 1 request per poll"
            } else {
                "bilibili adapter: 1 request per offline poll, 2-3 per live poll"
            },
            started.elapsed()
        );
        println!("  RSS after start: {:.1} MiB", rss_kib() as f64 / 1024.0);

        // Warm-up: one full interval so that every channel has polled once.
        tokio::time::sleep(Duration::from_secs(interval + 2)).await;
        let client = reqwest::Client::new();
        let polls_at = |c: reqwest::Client, b: String| async move {
            c.get(format!("{b}/control/polls"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        let p0 = polls_at(client.clone(), base.clone()).await;
        let (c0, t0) = (cpu_secs(), Instant::now());
        let mut rss_max = 0u64;
        let mut rss_sum = 0u64;
        let mut samples = 0u64;
        // One channel goes live in the middle of the window.
        let live_room = FIRST_ROOM + channels / 2;
        let live_id = onelive_engine::channel_id(&url_of(live_room));
        let mut live_at: Option<Instant> = None;
        let mut first_byte: Option<Duration> = None;
        while t0.elapsed() < Duration::from_secs(measure) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let rss = rss_kib();
            rss_max = rss_max.max(rss);
            rss_sum += rss;
            samples += 1;
            if live_at.is_none() && t0.elapsed() > Duration::from_secs(measure / 4) {
                client.post(format!("{base}/control/live/{live_room}")).send().await.unwrap();
                live_at = Some(Instant::now());
            }
            if let (Some(at), None) = (live_at, first_byte)
                && engine.channel(&live_id).is_ok_and(|c| c.view.bytes_written > 0)
            {
                first_byte = Some(at.elapsed());
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_secs() - c0;
        let p1 = polls_at(client.clone(), base.clone()).await;
        println!("  measured over {wall:.0}s after a {}s warm-up:", interval + 2);
        println!(
            "  polls answered by the mock: {} ({:.0}/s; expected {:.0}/s)",
            p1 - p0,
            (p1 - p0) as f64 / wall,
            channels as f64 / interval as f64
        );
        println!(
            "  RSS: max {:.1} MiB, mean {:.1} MiB",
            rss_max as f64 / 1024.0,
            rss_sum as f64 / samples.max(1) as f64 / 1024.0
        );
        println!(
            "  CPU: {:.1}% of one core on average ({cpu:.2}s CPU in {wall:.0}s)",
            cpu / wall * 100.0
        );
        match first_byte {
            Some(d) => println!(
                "  live detection to first byte on disk: {:.1}s (poll interval {interval}s)",
                d.as_secs_f64()
            ),
            None => println!("  live detection to first byte on disk: not within the window"),
        }
        engine.shutdown(Duration::from_secs(10)).await;
    });
    let _ = child.kill();
    let _ = child.wait();
}
