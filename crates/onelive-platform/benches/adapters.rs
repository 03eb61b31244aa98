//! Prints how fast URL resolution and adapter round trips are:
//! `cargo bench -p onelive-platform --bench adapters`.
//!
//! Resolution is pure CPU (streamlink disabled). Round trips run the Twitch
//! and Bilibili adapters against a loopback server replaying the test
//! fixtures, so they measure request building, HTTP on loopback and JSON /
//! playlist parsing, not a real platform.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use axum::extract::RawQuery;

use onelive_platform::{ChannelRef, PlatformRegistry, Platforms, PlatformsConfig};

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
}

const URLS: &[&str] = &[
    "https://live.bilibili.com/21452505?spm_id_from=333.999",
    "https://www.twitch.tv/gamerbee",
    "https://www.huya.com/xiaoyugame",
    "https://www.douyu.com/topic/ydxc?rid=6560603",
    "https://play.sooplive.co.kr/pyh3646/281257200",
    "https://kick.com/xqc",
    "https://cdn.example.com/live/index.m3u8",
    "https://example.com/not/a/live/page",
];

/// Requests served on the Bilibili live-info endpoints (room_init, get_info,
/// get_anchor_in_room).
static BILIBILI_INFO_REQUESTS: AtomicUsize = AtomicUsize::new(0);

/// Counts one Bilibili live-info request, then answers with `reply`.
async fn counted(reply: impl Future<Output = String>) -> String {
    BILIBILI_INFO_REQUESTS.fetch_add(1, Ordering::Relaxed);
    reply.await
}

fn main() {
    let config = PlatformsConfig { streamlink: false, ytdlp: false, ..PlatformsConfig::default() };
    let registry = PlatformRegistry::builtin(&config);
    let rounds = 20_000;
    let started = Instant::now();
    let mut claimed = 0usize;
    for _ in 0..rounds {
        for url in URLS {
            claimed += usize::from(registry.resolve(url).is_ok());
        }
    }
    let per = started.elapsed().as_nanos() as f64 / (rounds * URLS.len()) as f64;
    println!("resolve: {per:.0} ns per URL ({} URLs, {claimed} claimed)", rounds * URLS.len());

    // Douyin's a_bogus signature of a web-room query (SM3 x5, RC4 x2).
    use onelive_platform::adapters::douyin::abogus::{SignInput, a_bogus};
    let query = "aid=6383&app_name=douyin_web&live_id=1&device_platform=web&enter_from=web_live\
                 &language=zh-CN&browser_language=zh-CN&browser_platform=Win32&browser_name=Chrome\
                 &browser_version=124.0.0.0&web_rid=335354047186&msToken=0123456789";
    let signs = 20_000u64;
    let started = Instant::now();
    let mut total = 0usize;
    for n in 0..signs {
        let input = SignInput {
            user_agent: onelive_platform::DEFAULT_USER_AGENT,
            now_ms: 1_714_564_800_000 + n,
            random: [1234, 9876, 5555],
        };
        total += a_bogus(query, &input).len();
    }
    let per = started.elapsed().as_nanos() as f64 / signs as f64 / 1000.0;
    println!("douyin a_bogus: {per:.1} us per signature ({signs} signatures, {total} chars)");

    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(round_trips());
}

async fn round_trips() {
    use axum::routing::{get, post};
    let gql = fixture("twitch/gql_live.json");
    let token = fixture("twitch/token.json");
    let master = fixture("twitch/usher_master.m3u8");
    let room_init = fixture("bilibili/room_init_live.json");
    let room_init_offline = fixture("bilibili/room_init_offline.json");
    let info = fixture("bilibili/get_info_live.json");
    let anchor = fixture("bilibili/anchor.json");
    let nav = fixture("bilibili/nav.json");
    let play = fixture("bilibili/play_info_live.json");
    let app = axum::Router::new()
        .route(
            "/gql.twitch.tv/gql",
            post(move |body: String| {
                let (gql, token) = (gql.clone(), token.clone());
                async move { if body.contains("streamPlaybackAccessToken") { token } else { gql } }
            }),
        )
        .route(
            "/usher.ttvnw.net/api/v2/channel/hls/gamerbee.m3u8",
            get(move || async move { master }),
        )
        .route(
            "/api.live.bilibili.com/room/v1/Room/room_init",
            get(move |query: RawQuery| {
                let (live, offline) = (room_init.clone(), room_init_offline.clone());
                counted(async move {
                    // Room 5000 is the offline room; every other id is live.
                    if query.0.as_deref() == Some("id=5000") { offline } else { live }
                })
            }),
        )
        .route(
            "/api.live.bilibili.com/room/v1/Room/get_info",
            get(move || counted(async move { info })),
        )
        .route(
            "/api.live.bilibili.com/live_user/v1/UserInfo/get_anchor_in_room",
            get(move || counted(async move { anchor })),
        )
        .route("/api.bilibili.com/x/web-interface/nav", get(move || async move { nav }))
        .route(
            "/api.live.bilibili.com/xlive/web-room/v2/index/getRoomPlayInfo",
            get(move || async move { play }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut config = PlatformsConfig { streamlink: false, ..PlatformsConfig::default() };
    for host in ["gql.twitch.tv", "usher.ttvnw.net", "api.live.bilibili.com", "api.bilibili.com"] {
        config.host_overrides.insert(host.into(), format!("{base}/{host}"));
    }
    let platforms = Platforms::from_config(&config).unwrap();
    for (platform, channel) in [("twitch", "gamerbee"), ("bilibili", "196")] {
        let channel = ChannelRef { platform: platform.into(), channel: channel.into() };
        let n = 300;
        if platform == "bilibili" {
            // live_info alone, live and offline: time and live_info requests per poll.
            for (label, id) in [("live room", "196"), ("offline room", "5000")] {
                let room = ChannelRef { platform: platform.into(), channel: id.into() };
                let before = BILIBILI_INFO_REQUESTS.load(Ordering::Relaxed);
                let started = Instant::now();
                for _ in 0..n {
                    platforms.live_info(&room).await.unwrap();
                }
                let micros = started.elapsed().as_micros() as f64 / n as f64;
                let requests = BILIBILI_INFO_REQUESTS.load(Ordering::Relaxed) - before;
                println!(
                    "bilibili {label}: live_info {micros:.0} us, {:.2} requests per poll over loopback",
                    requests as f64 / n as f64
                );
            }
        }
        let started = Instant::now();
        for _ in 0..n {
            platforms.live_info(&channel).await.unwrap();
        }
        let info = started.elapsed().as_micros() as f64 / n as f64;
        let started = Instant::now();
        let mut variants = 0;
        for _ in 0..n {
            variants = platforms.stream_variants(&channel).await.unwrap().len();
        }
        let streams = started.elapsed().as_micros() as f64 / n as f64;
        println!(
            "{platform}: live_info {info:.0} us, stream_variants {streams:.0} us ({variants} variants) per call over loopback"
        );
    }
}
