//! Live chat capture in the engine: with an in-memory chat source (which
//! channels get a connection, when it stops, the chat file announced with
//! its video, push-triggered polls), and end to end with the real parts: a
//! mocked Bilibili room (room API on loopback, the synthetic chat server
//! speaking the real protocol, a synthetic live FLV stream) goes live
//! through its chat feed while the poll interval is 60 s.

#[allow(dead_code)]
#[path = "fakes.rs"]
mod fakes;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use onelive_engine::seams::{
    ChannelRef, ChatConnection, ChatFileSummary, ChatOptions, ChatPartInfo, ChatSource, LiveSignal,
};
use onelive_engine::{
    ChannelConfig, Engine, EngineConfig, EngineError, EngineParts, HumanDuration,
};
use onelive_events::{Event, EventData};
use tokio::sync::mpsc;

use fakes::{Fakes, wait_for};

// ---------------------------------------------------------------- fakes

/// Each connected channel and the sender of its signals.
type SignalSenders = Arc<Mutex<Vec<(String, mpsc::UnboundedSender<LiveSignal>)>>>;

/// What the fake chat source saw.
#[derive(Clone, Default)]
struct FakeChat {
    /// Channels connected, in order.
    connected: Arc<Mutex<Vec<String>>>,
    /// Connections stopped.
    stopped: Arc<AtomicUsize>,
    /// The signal sender of each channel's connection.
    signals: SignalSenders,
    /// `start <path>` / `finish <path>`, in order.
    parts: Arc<Mutex<Vec<String>>>,
    /// The options each connection got.
    options: Arc<Mutex<Vec<ChatOptions>>>,
}

impl FakeChat {
    fn connected(&self) -> Vec<String> {
        self.connected.lock().unwrap().clone()
    }
    fn signal(&self, channel: &str, signal: LiveSignal) {
        let signals = self.signals.lock().unwrap();
        let (_, tx) = signals.iter().find(|(c, _)| c == channel).expect("channel connected");
        tx.send(signal).unwrap();
    }
}

struct FakeConnection {
    chat: FakeChat,
    signals: mpsc::UnboundedReceiver<LiveSignal>,
    open: Option<PathBuf>,
}

impl ChatSource for FakeChat {
    fn connect(
        &self,
        channel: &ChannelRef,
        options: &ChatOptions,
    ) -> Result<Option<Box<dyn ChatConnection>>, EngineError> {
        if channel.channel == "nochat" {
            return Ok(None);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.connected.lock().unwrap().push(channel.channel.clone());
        self.signals.lock().unwrap().push((channel.channel.clone(), tx));
        self.options.lock().unwrap().push(options.clone());
        Ok(Some(Box::new(FakeConnection { chat: self.clone(), signals: rx, open: None })))
    }
}

#[async_trait]
impl ChatConnection for FakeConnection {
    async fn signal(&mut self) -> Option<LiveSignal> {
        self.signals.recv().await
    }
    fn start_part(
        &mut self,
        path: &Path,
        _part_start: std::time::Instant,
        _info: &ChatPartInfo,
    ) -> Result<(), EngineError> {
        std::fs::write(path, "<i>\n</i>\n").unwrap();
        self.chat.parts.lock().unwrap().push(format!("start {}", path.display()));
        self.open = Some(path.to_path_buf());
        Ok(())
    }
    fn finish_part(&mut self) -> Result<Option<ChatFileSummary>, EngineError> {
        let Some(path) = self.open.take() else { return Ok(None) };
        self.chat.parts.lock().unwrap().push(format!("finish {}", path.display()));
        Ok(Some(ChatFileSummary { path, ..ChatFileSummary::default() }))
    }
    async fn stop(self: Box<Self>) {
        self.chat.stopped.fetch_add(1, Ordering::SeqCst);
    }
}

fn fake_config(dir: &Path, channels: &[(&str, Option<bool>)], danmaku: bool) -> EngineConfig {
    let mut c = fakes::config(dir, &[]);
    c.danmaku.enabled = danmaku;
    c.channels = channels
        .iter()
        .map(|(ch, chat)| ChannelConfig {
            danmaku: *chat,
            ..ChannelConfig::new(format!("https://fake.test/{ch}"))
        })
        .collect();
    c
}

fn parts_with(f: &Fakes, chat: &FakeChat) -> EngineParts {
    EngineParts { chat: Some(Arc::new(chat.clone())), ..f.parts() }
}

fn finished(events: &[Event]) -> Vec<onelive_events::VideoFileFinishData> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::VideoFileFinish(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn each_watched_channel_gets_a_chat_connection_as_configured_and_it_stops_with_the_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let (f, chat) = (Fakes::new(), FakeChat::default());
    let channels = [("a", None), ("b", Some(false)), ("c", Some(true))];
    let mut config = fake_config(dir.path(), &channels, true);
    config.danmaku.jsonl = true;
    let engine = Engine::start(config, None, parts_with(&f, &chat)).await.unwrap();
    wait_for("two chat connections", Duration::from_secs(60), || chat.connected().len() == 2).await;
    let mut connected = chat.connected();
    connected.sort();
    assert_eq!(connected, ["a", "c"], "b has `danmaku = false`");
    assert!(chat.options.lock().unwrap().iter().all(|o| o.jsonl), "[danmaku] jsonl reaches them");

    let c = engine.channels().into_iter().find(|s| s.channel == "c").unwrap();
    engine.set_enabled(&c.id, false).await.unwrap();
    assert_eq!(chat.stopped.load(Ordering::SeqCst), 1, "disabling c stopped its chat");
    engine.set_enabled(&c.id, true).await.unwrap();
    wait_for("c reconnected", Duration::from_secs(60), || chat.connected().len() == 3).await;
    assert!(engine.shutdown(Duration::from_secs(10)).await);
    assert_eq!(chat.stopped.load(Ordering::SeqCst), 3, "shutdown stopped a and c");
}

#[tokio::test]
async fn a_channel_override_turns_chat_on_when_the_section_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let (f, chat) = (Fakes::new(), FakeChat::default());
    let channels = [("a", None), ("b", Some(true)), ("nochat", Some(true))];
    let engine =
        Engine::start(fake_config(dir.path(), &channels, false), None, parts_with(&f, &chat))
            .await
            .unwrap();
    wait_for("b's chat", Duration::from_secs(60), || !chat.connected().is_empty()).await;
    // `nochat`'s platform has no client: it records without chat.
    f.source.live("nochat", "t", "c");
    wait_for("nochat recording", Duration::from_secs(60), || {
        f.delivery.types().iter().any(|t| t == "video_file_create")
    })
    .await;
    assert!(engine.shutdown(Duration::from_secs(10)).await);
    assert_eq!(chat.connected(), ["b"]);
    let done = finished(&f.delivery.events.lock().unwrap());
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].danmaku_path, None, "no chat file, no danmaku_path");
    let json = serde_json::to_value(&done[0]).unwrap();
    assert!(json.get("danmaku_path").is_none(), "the key is absent: {json}");
}

#[tokio::test]
async fn the_chat_file_opens_with_the_part_and_is_announced_with_its_video() {
    let dir = tempfile::tempdir().unwrap();
    let (f, chat) = (Fakes::new(), FakeChat::default());
    let engine =
        Engine::start(fake_config(dir.path(), &[("a", None)], true), None, parts_with(&f, &chat))
            .await
            .unwrap();
    f.source.live("a", "t", "c");
    wait_for("the part", Duration::from_secs(60), || !chat.parts.lock().unwrap().is_empty()).await;
    f.source.offline("a");
    wait_for("live_end", Duration::from_secs(60), || {
        f.delivery.types().iter().any(|t| t == "live_end")
    })
    .await;
    assert!(engine.shutdown(Duration::from_secs(10)).await);
    let done = finished(&f.delivery.events.lock().unwrap());
    assert_eq!(done.len(), 1);
    let video = PathBuf::from(&done[0].path);
    let xml = video.with_extension("xml");
    assert_eq!(done[0].danmaku_path.as_deref(), Some(xml.to_str().unwrap()));
    assert!(xml.exists(), "the chat file is beside the video");
    assert_eq!(
        *chat.parts.lock().unwrap(),
        [format!("start {}", xml.display()), format!("finish {}", xml.display())]
    );
    // The transmux keeps it beside the mp4, same base name.
    let mp4 = f
        .delivery
        .events
        .lock()
        .unwrap()
        .iter()
        .find_map(|e| match &e.data {
            EventData::VideoTransmuxFinish(t) => Some(PathBuf::from(&t.output)),
            _ => None,
        })
        .unwrap();
    assert_eq!(mp4.with_extension("xml"), xml);
}

#[tokio::test]
async fn a_live_signal_from_the_chat_polls_at_once_despite_a_60_s_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (f, chat) = (Fakes::new(), FakeChat::default());
    let mut config = fake_config(dir.path(), &[("a", None)], true);
    config.watch.poll_interval = HumanDuration(Duration::from_secs(60));
    let engine = Engine::start(config, None, parts_with(&f, &chat)).await.unwrap();
    wait_for("the chat connection", Duration::from_secs(60), || !chat.connected().is_empty()).await;
    f.source.live("a", "t", "c");
    let signalled = Instant::now();
    chat.signal("a", LiveSignal::Live);
    // A deadline far below the interval: the first poll lands anywhere in
    // the first 60 s, so only the signal makes it this early (but for a
    // 1-in-6 chance that would pass without it).
    while !f.delivery.types().iter().any(|t| t == "video_file_create") {
        assert!(signalled.elapsed() < Duration::from_secs(10), "no recording 10 s after `live`");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(engine.shutdown(Duration::from_secs(10)).await);
}

// ------------------------------------------- real parts, mocked Bilibili room

const ROOM: u64 = 21452505;

fn fixture(path: &str) -> serde_json::Value {
    let full = format!(
        "{}/../onelive-platform/tests/fixtures/bilibili/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}")))
        .unwrap()
}

/// api.live.bilibili.com and api.bilibili.com on loopback: the real
/// answers of onelive-platform's fixtures with the live status switched,
/// the stream pointed at the synthetic FLV origin, and `getDanmuInfo`
/// answered by the synthetic chat server.
#[derive(Clone)]
struct Room {
    live: Arc<Mutex<bool>>,
    flv: String,
    chat_api: String,
}

async fn start_room(room: Room) -> String {
    use axum::extract::State;
    use axum::routing::get;
    use serde_json::json;
    async fn room_init(State(r): State<Room>) -> axum::Json<serde_json::Value> {
        let mut v = fixture("room_init_live.json");
        v["data"]["live_status"] = json!(if *r.live.lock().unwrap() { 1 } else { 0 });
        axum::Json(v)
    }
    async fn get_info(State(r): State<Room>) -> axum::Json<serde_json::Value> {
        let mut v = fixture("get_info_live.json");
        v["data"]["live_status"] = json!(if *r.live.lock().unwrap() { 1 } else { 0 });
        axum::Json(v)
    }
    async fn play_info(State(r): State<Room>) -> axum::Json<serde_json::Value> {
        let mut v = fixture("play_info_live.json");
        let (host, path) = r.flv.split_at(r.flv.find("/live/").unwrap());
        v["data"]["playurl_info"]["playurl"]["stream"] = json!([{
            "protocol_name": "http_stream",
            "format": [{
                "format_name": "flv",
                "codec": [{
                    "codec_name": "avc", "current_qn": 10000, "accept_qn": [10000],
                    "base_url": format!("{path}?"),
                    "url_info": [{ "host": host, "extra": "sign=streamtoken", "stream_ttl": 3600 }],
                    "hdr_qn": null, "dolby_type": 0, "attr_name": ""
                }]
            }]
        }]);
        axum::Json(v)
    }
    async fn danmu_info(State(r): State<Room>, uri: axum::http::Uri) -> String {
        let url = format!(
            "{}/xlive/web-room/v1/index/getDanmuInfo?{}",
            r.chat_api,
            uri.query().unwrap_or("")
        );
        reqwest::get(url).await.unwrap().text().await.unwrap()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/api.live.bilibili.com/room/v1/Room/room_init", get(room_init))
        .route("/api.live.bilibili.com/room/v1/Room/get_info", get(get_info))
        .route(
            "/api.live.bilibili.com/live_user/v1/UserInfo/get_anchor_in_room",
            get(|| async { axum::Json(fixture("anchor.json")) }),
        )
        .route("/api.live.bilibili.com/xlive/web-room/v2/index/getRoomPlayInfo", get(play_info))
        .route("/api.live.bilibili.com/xlive/web-room/v1/index/getDanmuInfo", get(danmu_info))
        .route(
            "/api.bilibili.com/x/web-interface/nav",
            get(|| async { axum::Json(fixture("nav.json")) }),
        )
        .with_state(room);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

/// `<d>` records of a chat file (parsed with a real XML parser): time and text.
fn comments(xml: &str) -> Vec<(f64, String)> {
    use quick_xml::events::Event as X;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut out, mut current, mut root_closed) = (Vec::new(), None::<(f64, String)>, false);
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}")) {
            X::Start(e) if e.name().as_ref() == b"d" => {
                let p = e.try_get_attribute("p").unwrap().expect("p attribute");
                let p = p.unescape_value().unwrap();
                let t: f64 = p.split(',').next().unwrap().parse().unwrap();
                current = Some((t, String::new()));
            }
            X::Text(t) => {
                if let Some((_, text)) = current.as_mut() {
                    text.push_str(&t.decode().unwrap());
                }
            }
            X::GeneralRef(r) => {
                if let Some((_, text)) = current.as_mut() {
                    let c = match r.resolve_char_ref().unwrap() {
                        Some(c) => c,
                        None => match r.decode().unwrap().as_ref() {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            other => panic!("unknown entity {other}"),
                        },
                    };
                    text.push(c);
                }
            }
            X::End(e) if e.name().as_ref() == b"d" => out.push(current.take().unwrap()),
            X::End(e) if e.name().as_ref() == b"i" => root_closed = true,
            X::Eof => break,
            _ => {}
        }
    }
    assert!(root_closed, "the chat file ends with </i>");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bilibili_room_going_live_in_its_chat_is_recorded_at_once_with_its_chat_beside_part_1() {
    let dir = tempfile::tempdir().unwrap();
    let origin = onelive_synthetic::SyntheticOrigin::start(Default::default()).await.unwrap();
    let chat_server =
        onelive_synthetic::SyntheticDanmaku::start(onelive_synthetic::SyntheticDanmakuOptions {
            room_id: ROOM,
            rate_per_second: 0.0,
        })
        .await
        .unwrap();
    let live = Arc::new(Mutex::new(false));
    let base = start_room(Room {
        live: live.clone(),
        flv: origin.flv_url(),
        chat_api: chat_server.api_base().to_owned(),
    })
    .await;

    let mut config = EngineConfig::default();
    config.output.folder = dir.path().join("rec");
    config.output.filename_template = "{channel}/part{part}".into();
    config.state.dir = Some(dir.path().join("state"));
    config.watch.poll_interval = HumanDuration(Duration::from_secs(60));
    config.watch.jitter = 0.0;
    config.disk.min_free_mb = 0;
    config.transmux.delete_source = true;
    config.danmaku.enabled = true;
    for host in ["api.live.bilibili.com", "api.bilibili.com"] {
        config.platforms.host_overrides.insert(host.into(), format!("{base}/{host}"));
    }
    config.channels = vec![ChannelConfig::new(format!("https://live.bilibili.com/{ROOM}"))];
    let state = dir.path().join("state");
    let parts = onelive_engine::wiring::real_parts(&config, &state, &[]).await.unwrap();
    let engine = Engine::start(config, None, parts).await.unwrap();
    let id = engine.channels()[0].id.clone();

    wait_for("the chat connection", Duration::from_secs(60), || chat_server.connections() == 1)
        .await;
    assert!(!engine.channels()[0].view.recording);
    *live.lock().unwrap() = true;
    let went_live = Instant::now();
    chat_server.go_live();
    let deadline = Duration::from_secs(2);
    while !engine.channels()[0].view.recording {
        assert!(went_live.elapsed() < deadline, "no recording 2 s after LIVE (poll every 60 s)");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started_after = went_live.elapsed();

    let created = |e: &Event| matches!(e.data, EventData::VideoFileCreate(_));
    wait_for("video_file_create", Duration::from_secs(60), || {
        engine.recent_events().iter().any(created)
    })
    .await;
    let EventData::VideoFileCreate(file) =
        engine.recent_events().into_iter().find(created).unwrap().data
    else {
        unreachable!()
    };
    let video = PathBuf::from(&file.path);
    assert!(video.ends_with(format!("{ROOM}/part1.flv")), "{}", video.display());
    let xml = video.with_extension("xml");

    // Three comments about 0.7 s apart, each stamped when it was sent.
    let mut sent = Vec::new();
    for i in 1..=3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let text = format!("弹幕 number {i} <&>");
        sent.push((Instant::now(), text.clone()));
        chat_server.send_comment("viewer", &text);
    }
    wait_for("the comments in the chat file", Duration::from_secs(60), || {
        std::fs::read_to_string(&xml).map(|x| comments(&x).len() == 3).unwrap_or(false)
    })
    .await;
    let stopped = Instant::now();
    engine.set_recording(&id, false).unwrap();
    let finish = |e: &Event| matches!(e.data, EventData::VideoFileFinish(_));
    wait_for("video_file_finish", Duration::from_secs(60), || {
        engine.recent_events().iter().any(finish)
    })
    .await;
    let EventData::VideoFileFinish(done) =
        engine.recent_events().into_iter().find(finish).unwrap().data
    else {
        unreachable!()
    };
    assert_eq!(done.path, file.path);
    assert_eq!(done.danmaku_path.as_deref(), Some(xml.to_str().unwrap()));

    // The video's timeline: its last frame arrived when the stop was asked
    // for, so its first frame arrived `duration` earlier (the FLV origin
    // sends in real time).
    let first_frame = stopped - Duration::from_secs_f64(done.duration);
    let recorded = comments(&std::fs::read_to_string(&xml).unwrap());
    assert_eq!(recorded.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(), {
        sent.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>()
    });
    for ((at, text), (t, _)) in sent.iter().zip(&recorded) {
        let expected = at.duration_since(first_frame).as_secs_f64();
        eprintln!("{text:?}: chat file {t:.3} s, video timeline {expected:.3} s");
        assert!(
            (t - expected).abs() < 0.5,
            "{text:?} at {t:.3} s in the chat file, {expected:.3} s on the video's timeline \
             (video {:.3} s long)",
            done.duration
        );
    }

    // The transmux keeps the chat file beside the mp4, same base name,
    // when the source is deleted.
    let transmuxed = |e: &Event| matches!(e.data, EventData::VideoTransmuxFinish(_));
    wait_for("video_transmux_finish", Duration::from_secs(120), || {
        engine.recent_events().iter().any(transmuxed)
    })
    .await;
    let EventData::VideoTransmuxFinish(t) =
        engine.recent_events().into_iter().find(transmuxed).unwrap().data
    else {
        unreachable!()
    };
    let mp4 = PathBuf::from(&t.output);
    assert_eq!(mp4.with_extension("xml"), xml);
    assert!(mp4.exists() && xml.exists());
    assert!(!video.exists(), "delete_source removed the flv");
    assert!(engine.shutdown(Duration::from_secs(30)).await);
    eprintln!("recording started {started_after:?} after LIVE");
}

// ------------------------------------------------------ crash, config, wiring

#[tokio::test]
async fn a_chat_file_left_torn_by_a_crash_is_repaired_and_announced_with_its_part() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let video = dir.path().join("rec/fake/a/part1.ts");
    std::fs::create_dir_all(video.parent().unwrap()).unwrap();
    let made = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi"])
        .args(["-i", "testsrc=size=160x90:rate=10", "-t", "1"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts"])
        .arg(&video)
        .status()
        .unwrap();
    assert!(made.success());
    // What the crashed run left: the header, two whole records, half a third.
    let xml = video.with_extension("xml");
    let whole = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<i>\n\
        <d p=\"1.000,1,25,16777215,0,0,1,0\" user=\"u\">one</d>\n\
        <d p=\"2.000,1,25,16777215,0,0,1,0\" user=\"u\">two</d>\n";
    std::fs::write(&xml, format!("{whole}  <d p=\"3.0")).unwrap();
    {
        std::fs::create_dir_all(&state).unwrap();
        let store = onelive_engine::Store::open(&state).unwrap();
        store
            .file_opened(&onelive_engine::LedgerFile {
                path: video.clone(),
                platform: "fake".into(),
                channel: "a".into(),
                session_id: None,
                live_info: None,
            })
            .unwrap();
    }
    let (f, chat) = (Fakes::new(), FakeChat::default());
    let mut config = fake_config(dir.path(), &[], true);
    config.watch.stall_timeout = HumanDuration(Duration::from_secs(1));
    let engine = Engine::start(config, None, parts_with(&f, &chat)).await.unwrap();
    wait_for("the recovered file", Duration::from_secs(60), || {
        !finished(&f.delivery.events.lock().unwrap()).is_empty()
    })
    .await;
    let done = finished(&f.delivery.events.lock().unwrap());
    assert_eq!(done[0].path, video.display().to_string());
    assert_eq!(done[0].danmaku_path.as_deref(), Some(xml.to_str().unwrap()));
    let repaired = std::fs::read_to_string(&xml).unwrap();
    assert_eq!(repaired, format!("{whole}</i>\n"), "the torn record is cut, the root closed");
    let texts: Vec<_> = comments(&repaired).into_iter().map(|(_, t)| t).collect();
    assert_eq!(texts, ["one", "two"]);
    assert!(engine.shutdown(Duration::from_secs(10)).await);
}

#[test]
fn danmaku_config_keys_parse_and_mistakes_are_named() {
    let path = Path::new("oneliverec.toml");
    let c = EngineConfig::parse(
        "[danmaku]\nenabled = true\njsonl = true\npush_detection = false\n\
         [[channels]]\nurl = \"https://live.bilibili.com/1\"\ndanmaku = false\n",
        path,
    )
    .unwrap();
    assert!(c.danmaku.enabled && c.danmaku.jsonl && !c.danmaku.push_detection);
    assert_eq!(c.channels[0].danmaku, Some(false));
    assert!(!c.danmaku.enabled_for(&c.channels[0]), "the channel's key wins");
    let d = EngineConfig::parse("", path).unwrap().danmaku;
    assert!(!d.enabled && !d.jsonl && d.push_detection, "defaults: off, no jsonl, push on");

    let e = EngineConfig::parse("[danmaku]\nenabeld = true\n", path).unwrap_err().to_string();
    assert!(e.contains("danmaku.enabeld") && e.contains("unknown key"), "{e}");
    let e = EngineConfig::parse("[danmaku]\nenabled = \"yes\"\n", path).unwrap_err().to_string();
    assert!(e.contains("danmaku.enabled") && e.contains("line 2"), "{e}");
    let e = EngineConfig::parse(
        "[[channels]]\nurl = \"https://live.bilibili.com/1\"\ndanmaku = 1\n",
        path,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("channels[0].danmaku"), "{e}");
    // Written back (API changes), the keys survive.
    let again = EngineConfig::parse(&c.to_toml().unwrap(), path).unwrap();
    assert_eq!(again.danmaku, c.danmaku);
    assert_eq!(again.channels[0].danmaku, Some(false));
}

#[tokio::test]
async fn the_real_chat_source_names_the_ids_it_cannot_use_and_skips_other_platforms() {
    use onelive_engine::wiring::DanmakuChat;
    let chat = DanmakuChat::default();
    let options = ChatOptions::default();
    let channel =
        |platform: &str, id: &str| ChannelRef { platform: platform.into(), channel: id.into() };
    for (platform, id) in [("bilibili", "abc"), ("bilibili", "0"), ("douyu", "room-name")] {
        let Err(e) = chat.connect(&channel(platform, id), &options) else {
            panic!("{platform} {id} connected")
        };
        let e = e.to_string();
        assert!(e.contains(platform) && e.contains("room id"), "{e}");
    }
    let Err(e) = chat.connect(&channel("twitch", "no spaces!"), &options) else {
        panic!("a bad twitch login connected")
    };
    assert!(e.to_string().contains("no spaces!"), "{e}");
    for platform in ["huya", "generic", "kick"] {
        assert!(chat.connect(&channel(platform, "1"), &options).unwrap().is_none(), "{platform}");
    }
}

/// A recorder that splits like the native one: part 2 is created before
/// part 1's finish is reported (part 1 is checked while 2 is written).
#[derive(Clone, Default)]
struct SplittingRecorder;

#[async_trait]
impl onelive_engine::Recorder for SplittingRecorder {
    async fn start(
        &self,
        request: onelive_engine::seams::RecordingRequest,
    ) -> Result<onelive_engine::seams::RecordingHandle, EngineError> {
        use onelive_engine::seams::{RecordingControl, RecordingEvent, RecordingHandle};
        struct Stop(Option<tokio::sync::oneshot::Sender<()>>);
        impl RecordingControl for Stop {
            fn stop(&mut self) {
                if let Some(tx) = self.0.take() {
                    let _ = tx.send(());
                }
            }
        }
        std::fs::create_dir_all(&request.output_dir).unwrap();
        let (p1, p2) = (request.output_dir.join("split1.ts"), request.output_dir.join("split2.ts"));
        let (tx, rx) = mpsc::channel(16);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let ctx = request.context.clone();
        tokio::spawn(async move {
            for p in [&p1, &p2] {
                std::fs::write(p, b"0123456789").unwrap();
                let _ = tx.send(fakes::file_created(&ctx, p)).await;
            }
            let finished = |path: &Path| fakes::file_finished(&ctx, path, 10, 1.0);
            let _ = tx.send(finished(&p1)).await;
            let _ = stop_rx.await;
            let _ = tx.send(finished(&p2)).await;
            let stopped =
                RecordingEvent::Stopped { reason: "stopped".into(), failed: false, next_part: 3 };
            let _ = tx.send(stopped).await;
        });
        Ok(RecordingHandle { events: rx, control: Box::new(Stop(Some(stop_tx))) })
    }
}

#[tokio::test]
async fn at_a_split_each_part_gets_its_own_chat_file_even_when_its_finish_comes_late() {
    let dir = tempfile::tempdir().unwrap();
    let (f, chat) = (Fakes::new(), FakeChat::default());
    let parts = EngineParts { recorder: Arc::new(SplittingRecorder), ..parts_with(&f, &chat) };
    let engine =
        Engine::start(fake_config(dir.path(), &[("a", None)], true), None, parts).await.unwrap();
    f.source.live("a", "t", "c");
    wait_for("part 1 finished", Duration::from_secs(60), || {
        !finished(&f.delivery.events.lock().unwrap()).is_empty()
    })
    .await;
    assert!(engine.shutdown(Duration::from_secs(10)).await);
    let done = finished(&f.delivery.events.lock().unwrap());
    assert_eq!(done.len(), 2);
    for d in &done {
        let xml = PathBuf::from(&d.path).with_extension("xml");
        assert_eq!(d.danmaku_path.as_deref(), Some(xml.to_str().unwrap()), "{}", d.path);
    }
    let [x1, x2] = [&done[0], &done[1]].map(|d| d.danmaku_path.clone().unwrap());
    assert_eq!(
        *chat.parts.lock().unwrap(),
        [
            format!("start {x1}"),
            format!("finish {x1}"),
            format!("start {x2}"),
            format!("finish {x2}")
        ],
        "part 1's chat ends where part 2's begins"
    );
}

#[test]
fn the_bilibili_cookie_for_chat_never_shows_in_debug_output() {
    let platforms: onelive_platform::PlatformsConfig = toml::from_str(
        "[bilibili]\ncookies = \"SESSDATA=secret-sess; DedeUserID=42; buvid3=secret-buvid\"\n",
    )
    .unwrap();
    let chat = onelive_engine::wiring::DanmakuChat::from_platforms(&platforms);
    let shown = format!("{chat:?}");
    assert!(shown.contains("uid: 42"), "DedeUserID becomes the auth packet's uid: {shown}");
    assert!(!shown.contains("secret"), "{shown}");
}
