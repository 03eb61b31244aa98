//! A Douyin room end to end, as a process: the web room API is mocked on
//! loopback through host overrides with the real answer of
//! onelive-platform's fixtures (its stream ladder pointed at a synthetic
//! live HLS origin); `oneliverec run` records it, transmuxes the file and
//! announces the session with the room's real title and streamer name.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use nix::sys::signal::Signal;
use onelive_events::EventData;
use onelive_synthetic::{SyntheticOptions, SyntheticOrigin};
use serde_json::{Value, json};

use crate::e2e_support::*;
use crate::sequences::*;

const WEB_RID: &str = "335354047186";

#[derive(Clone)]
struct DouyinMock {
    live: Arc<Mutex<bool>>,
    stream_host: String,
}

/// The real `webcast/room/web/enter` answer, live or ended, streaming from `stream_host`.
async fn enter(State(m): State<DouyinMock>) -> axum::Json<Value> {
    let path = format!(
        "{}/../../crates/onelive-platform/tests/fixtures/douyin/web_enter_live.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let room = &mut v["data"]["data"][0];
    if *m.live.lock().unwrap() {
        let hls = format!("{}/live/stream.m3u8?expire=1&sign=streamtoken", m.stream_host);
        let stream_data = json!({"common": {}, "data": {"origin": {"main": {
            "flv": "", "hls": hls,
            "sdk_params": "{\"VCodec\":\"h264\",\"vbitrate\":1249000,\"resolution\":\"1440x1088\"}"
        }}}});
        room["stream_url"]["live_core_sdk_data"]["pull_data"]["stream_data"] =
            json!(stream_data.to_string());
    } else {
        room["status"] = json!(4);
        room.as_object_mut().unwrap().remove("stream_url");
    }
    axum::Json(v)
}

async fn ttwid() -> impl axum::response::IntoResponse {
    ([("set-cookie", "ttwid=1%7Ce2e%7C1; Path=/; HttpOnly")], "{\"status_code\":0}")
}

async fn start_mock(stream_host: String) -> (DouyinMock, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mock = DouyinMock { live: Arc::new(Mutex::new(true)), stream_host };
    let app = axum::Router::new()
        .route("/live.douyin.com/webcast/room/web/enter/", get(enter))
        .route("/ttwid.bytedance.com/ttwid/union/register/", post(ttwid))
        .with_state(mock.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (mock, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn douyin_room_is_recorded_transmuxed_and_announced() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let (mock, base) = start_mock(origin_host(&origin)).await;
    let receiver = Receiver::start().await;
    let config = d.join("oneliverec.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[output]
folder = "{rec}"
filename_template = "{{platform}}/{{channel}}/{{time}}_{{session}}_part{{part}}"

[transmux]
format = "mp4"

[watch]
poll_interval = "1s"
jitter = 0.0
debounce = "3s"
stall_timeout = "8s"
min_interval = {{ douyin = "500ms" }}

[disk]
min_free_mb = 16

[api]
enabled = false

[platforms]
streamlink = false
ytdlp = false

[platforms.host_overrides]
"live.douyin.com" = "{base}/live.douyin.com"
"ttwid.bytedance.com" = "{base}/ttwid.bytedance.com"

[[channels]]
url = "https://live.douyin.com/{WEB_RID}"
name = "douyinroom"

[[webhooks]]
url = "{url}"
secret = "{secret}"
"#,
            rec = d.join("rec").display(),
            url = receiver.url,
            secret = receiver.secret,
        ),
    )
    .unwrap();
    let mut child = spawn_run(&config, d, 1);

    wait_for("video_file_create", Duration::from_secs(30), d, || {
        receiver.count("video_file_create") == 1
    })
    .await;
    wait_for_recorded(d, 3.0).await;
    *mock.live.lock().unwrap() = false;
    origin.stop().await;
    wait_for("live_end", Duration::from_secs(40), d, || receiver.count("live_end") == 1).await;
    signal(&child, Signal::SIGTERM);
    let status = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}\n{}", log(d, 1));

    let events = receiver.snapshot();
    let types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
    assert_eq!(types, SESSION, "log:\n{}", log(d, 1));
    let EventData::LiveStart(start) = &events[1].data else { panic!() };
    assert_eq!((start.platform.as_str(), start.channel.as_str()), ("douyin", WEB_RID));
    assert_eq!(start.live_info.title, "男的 别问了");
    assert_eq!(start.live_info.uname, "aasyy");
    assert_eq!(start.live_info.uid, "574389687158554");
    assert_eq!(start.live_info.live_id.as_deref(), Some("7522819524010625833"));
    let EventData::VideoFileFinish(fin) = &events[3].data else { panic!() };
    assert!(fin.path.starts_with(&d.join("rec/douyin").display().to_string()), "{}", fin.path);
    assert!(fin.duration > 2.0, "{}", fin.duration);
    let EventData::VideoTransmuxFinish(t) = &events[4].data else { panic!() };
    assert_eq!(t.input, fin.path);
    assert!(t.output.ends_with("_part1.mp4"));
    assert_eq!(assert_announced_files_valid(&events), 2);
    let EventData::LiveEnd(end) = &events[5].data else { panic!() };
    assert_eq!(end.live_info.status, onelive_events::LiveStatus::Offline);
    assert_eq!(end.live_info.uname, "aasyy");
    let log = log(d, 1);
    assert!(
        !log.contains("streamtoken") && !log.contains("msToken=") && !log.contains("a_bogus="),
        "a signed query leaked into the log"
    );
}
