//! `oneliverec probe` for Douyin and TikTok, as a process, against loopback
//! replays of the real platform answers kept in onelive-platform's fixtures
//! (sources in crates/onelive-platform/tests/fixtures/{douyin,tiktok}/README.md),
//! reached through `[platforms.host_overrides]`.

use std::process::Output;

use axum::routing::{get, post};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_oneliverec");
/// The visitor cookie the ttwid mock hands out: never printed.
const TTWID: &str = "ttwid=1%7Cprobe-visitor-secret%7C1";

fn fixture(path: &str) -> String {
    let full = format!(
        "{}/../../crates/onelive-platform/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

async fn probe(dir: &tempfile::TempDir, url: &str, overrides: &[(&str, String)]) -> Output {
    let path = dir.path().join("oneliverec.toml");
    let mut text = String::from(
        "[platforms]\nstreamlink = false\nytdlp = false\ntimeout_secs = 10\n\n[platforms.host_overrides]\n",
    );
    for (host, base) in overrides {
        text.push_str(&format!("\"{host}\" = \"{base}\"\n"));
    }
    std::fs::write(&path, text).unwrap();
    tokio::process::Command::new(BIN)
        .args(["probe", url, "--config", path.to_str().unwrap()])
        .env_remove("ONELIVEREC_CONFIG")
        .output()
        .await
        .unwrap()
}

fn parsed(output: &Output) -> (Value, String) {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{:?}\nstdout: {text}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    (serde_json::from_str(&text).unwrap(), text)
}

/// (quality, kind, height, source) of every printed variant.
fn ladder(json: &Value) -> Vec<(String, String, u64, bool)> {
    json["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["quality"].as_str().unwrap().to_owned(),
                v["kind"].as_str().unwrap().to_owned(),
                v["height"].as_u64().unwrap_or(0),
                v["source"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn rung(q: &str, kind: &str, height: u64, source: bool) -> (String, String, u64, bool) {
    (q.to_owned(), kind.to_owned(), height, source)
}

#[tokio::test]
async fn probe_prints_a_live_douyin_room() {
    let enter = fixture("douyin/web_enter_live.json");
    let app = axum::Router::new()
        .route("/douyin/webcast/room/web/enter/", get(move || async move { enter }))
        .route(
            "/ttwid/ttwid/union/register/",
            post(|| async { ([("set-cookie", format!("{TTWID}; Path=/; HttpOnly"))], "{}") }),
        );
    let base = serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let output = probe(
        &dir,
        "https://live.douyin.com/335354047186",
        &[
            ("live.douyin.com", format!("{base}/douyin")),
            ("ttwid.bytedance.com", format!("{base}/ttwid")),
        ],
    )
    .await;
    let (json, text) = parsed(&output);
    assert_eq!(json["platform"], "douyin");
    assert_eq!(json["channel"], "335354047186");
    assert_eq!(json["url"], "https://live.douyin.com/335354047186");
    let info = &json["live_info"];
    assert_eq!(info["status"], "live");
    assert_eq!(info["uid"], "574389687158554");
    assert_eq!(info["uname"], "aasyy");
    assert_eq!(info["title"], "男的 别问了");
    assert_eq!(info["live_id"], "7522819524010625833");
    assert!(info["avatar"].as_str().unwrap().starts_with("https://"), "{info}");
    assert!(info["cover"].as_str().unwrap().starts_with("https://"), "{info}");
    assert_eq!(
        ladder(&json),
        [
            rung("蓝光", "flv", 1088, true),
            rung("蓝光", "hls", 1088, true),
            rung("超清", "flv", 720, false),
            rung("超清", "hls", 720, false),
            rung("高清", "flv", 540, false),
            rung("高清", "hls", 540, false),
            rung("标清", "flv", 480, false),
            rung("标清", "hls", 480, false),
            rung("md", "flv", 240, false),
            rung("md", "hls", 240, false),
        ]
    );
    let first = &json["variants"][0];
    assert!(
        first["url"].as_str().unwrap().starts_with(
            "http://pull-flv-l96.douyincdn.com/stage/stream-405774431831196265_or4.flv?"
        )
    );
    assert_eq!((first["width"].as_u64(), first["codec"].as_str()), (Some(1440), Some("avc")));
    assert!(json["variants_error"].is_null());
    assert!(!text.contains("probe-visitor-secret"), "the visitor cookie is not printed");
}

#[tokio::test]
async fn probe_prints_a_live_tiktok_room() {
    let room = fixture("tiktok/room_live.json");
    let app =
        axum::Router::new().route("/tiktok/api-live/user/room/", get(move || async move { room }));
    let base = serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let output = probe(
        &dir,
        "https://www.tiktok.com/@seraph_venusttv/live",
        &[("www.tiktok.com", format!("{base}/tiktok"))],
    )
    .await;
    let (json, _) = parsed(&output);
    assert_eq!(json["platform"], "tiktok");
    assert_eq!(json["channel"], "seraph_venusttv");
    let info = &json["live_info"];
    assert_eq!(info["status"], "live");
    assert_eq!(info["uid"], "7349705044327695362");
    assert_eq!(info["uname"], "seraph_venusTTV");
    assert_eq!(info["title"], "comp");
    assert_eq!(info["live_id"], "7525342037743962887");
    assert_eq!(info["start_time"], "2025-07-10T06:50:37Z");
    assert!(info["avatar"].as_str().unwrap().contains("cropcenter:1080:1080"), "{info}");
    let mut expected = Vec::new();
    for (q, h, source) in [
        ("原画", 1080, true),
        ("1080p60", 1080, false),
        ("720p60", 720, false),
        ("720p", 720, false),
        ("540p", 540, false),
        ("360p", 360, false),
    ] {
        expected.push(rung(q, "flv", h, source));
        expected.push(rung(q, "hls", h, source));
    }
    assert_eq!(ladder(&json), expected);
    assert!(
        json["variants"][0]["url"]
            .as_str()
            .unwrap()
            .contains("stream-2135196102851297364_or4.flv?")
    );
    assert_eq!(json["variants"][0]["headers"]["Referer"], "https://www.tiktok.com/");
}
