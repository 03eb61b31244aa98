//! `oneliverec demo`: the whole pipeline on loopback in under a minute.
//!
//! A synthetic live channel (onelive-synthetic, ffmpeg-generated HLS) goes
//! live for about 20 s and then offline. The engine watches it through the
//! generic adapter (a direct `.m3u8` URL), records it, transmuxes it to
//! `.mp4`, and delivers every event to a receiver started here, which
//! verifies each Standard Webhooks signature. A synthetic chat server
//! (onelive-synthetic's Bilibili-style danmaku feed) sends comments the
//! whole time: each part gets its chat file beside it (`.xml`). Files go to
//! `./demo-output/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use clap::Args;
use onelive_engine::seams::{ChannelRef, ChatConnection, ChatOptions, ChatSource};
use onelive_engine::{
    ChannelConfig, Engine, EngineConfig, EngineError, HumanDuration, Secret, WebhookConfig, wiring,
};
use onelive_events::{Event, EventData};
use onelive_synthetic::{
    SyntheticDanmaku, SyntheticDanmakuOptions, SyntheticOptions, SyntheticOrigin,
};
use onelive_webhook::verify::{SignatureHeaders, Verifier, WebhookSecret};

/// Arguments of `oneliverec demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where recordings and state go (emptied first).
    #[arg(long, default_value = "demo-output")]
    pub output: PathBuf,
    /// How long the synthetic channel stays live.
    #[arg(long, default_value = "20s", value_parser = super::run::parse_duration)]
    pub live_for: Duration,
}

/// The demo channel's chat: the synthetic channel is a direct stream URL
/// (the generic adapter, which has no chat), so its chat is the synthetic
/// Bilibili-style room, through the real Bilibili chat client.
struct DemoChat {
    chat: wiring::DanmakuChat,
    room: ChannelRef,
}

impl ChatSource for DemoChat {
    fn connect(
        &self,
        _channel: &ChannelRef,
        options: &ChatOptions,
    ) -> Result<Option<Box<dyn ChatConnection>>, EngineError> {
        self.chat.connect(&self.room, options)
    }
}

/// `<d>` records (comments) in a chat file.
fn comments_in(path: &str) -> Option<usize> {
    let xml = std::fs::read_to_string(path).ok()?;
    Some(xml.lines().filter(|l| l.trim_start().starts_with("<d ")).count())
}

/// What the demo's webhook receiver saw.
#[derive(Default)]
struct Received {
    events: Vec<Event>,
    rejected: usize,
}

#[derive(Clone)]
struct Receiver {
    verifier: Arc<Verifier>,
    received: Arc<Mutex<Received>>,
    started: Instant,
}

fn lock(m: &Mutex<Received>) -> std::sync::MutexGuard<'_, Received> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let get = |name: &'static str| headers.get(name).and_then(|v| v.to_str().ok());
    let sig = SignatureHeaders::from_fn(get);
    if let Err(e) = r.verifier.verify(&sig, &body) {
        println!("  receiver: REJECTED a request: {e}");
        lock(&r.received).rejected += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let event = match Event::from_json(&body) {
        Ok(e) => e,
        Err(e) => {
            println!("  receiver: bad body: {e}");
            lock(&r.received).rejected += 1;
            return StatusCode::BAD_REQUEST;
        }
    };
    let mut received = lock(&r.received);
    if received.events.iter().any(|e| e.id == event.id) {
        return StatusCode::OK; // a retry of a delivered event
    }
    println!(
        "  [{:>5.1}s] {:<22} signature ok  {}",
        r.started.elapsed().as_secs_f64(),
        event.type_name(),
        describe(&event)
    );
    received.events.push(event);
    // Deliveries run concurrently and may complete out of order (see
    // docs/webhook-delivery.md, "Ordering"): keep them in event order.
    received.events.sort_by_key(|e| (e.ts, e.id));
    StatusCode::OK
}

fn describe(event: &Event) -> String {
    match &event.data {
        EventData::LiveStart(d) | EventData::LiveEnd(d) => {
            format!("session {}", d.session_id.map(|s| s.to_string()).unwrap_or_default())
        }
        EventData::VideoFileCreate(d) => d.path.clone(),
        EventData::VideoFileFinish(d) => {
            let chat = match &d.danmaku_path {
                Some(p) => format!(", chat {p}"),
                None => String::new(),
            };
            format!("{} ({} bytes, {:.1}s{chat})", d.path, d.filesize, d.duration)
        }
        EventData::VideoTransmuxFinish(d) => format!("{} -> {}", d.input, d.output),
        EventData::Error(d) => d.error.clone(),
        _ => String::new(),
    }
}

fn types(r: &Mutex<Received>) -> Vec<String> {
    lock(r).events.iter().map(|e| e.type_name().to_owned()).collect()
}

async fn wait_until(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            anyhow::bail!("demo: timed out after {}s waiting for {what}", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn clean(dir: &Path) -> anyhow::Result<()> {
    for sub in ["rec", "state"] {
        let p = dir.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("cannot empty {}", p.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// `oneliverec demo`.
pub fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    runtime.block_on(run_demo(args))
}

async fn run_demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let out = std::env::current_dir().context("no current directory")?.join(&args.output);
    clean(&out)?;
    println!(
        "onelive demo: a synthetic live channel on loopback, recorded, transmuxed, announced."
    );

    // 1. The webhook receiver, with a fresh signing secret.
    let secret = WebhookSecret::generate();
    let receiver = Receiver {
        verifier: Arc::new(Verifier::new(vec![secret.clone()])),
        received: Arc::new(Mutex::new(Received::default())),
        started,
    };
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot bind the receiver")?;
    let receiver_url = format!("http://{}/webhook", listener.local_addr()?);
    let app = axum::Router::new().route("/webhook", post(receive)).with_state(receiver.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    println!("  receiver:  {receiver_url} (verifies Standard Webhooks signatures)");

    // 2. The synthetic origin.
    let mut origin = SyntheticOrigin::start(SyntheticOptions::default())
        .await
        .context("cannot start the synthetic origin (is ffmpeg installed? run `make deps`)")?;
    println!("  channel:   {} (live for {}s)", origin.hls_url(), args.live_for.as_secs());
    let chat_server =
        SyntheticDanmaku::start(SyntheticDanmakuOptions { room_id: 1, rate_per_second: 4.0 })
            .await
            .context("cannot start the synthetic chat server")?;
    println!("  chat:      {} (4 comments per second)", chat_server.api_base());

    // 3. The engine, with short intervals.
    let mut config = EngineConfig::default();
    config.output.folder = out.join("rec");
    config.output.filename_template = "{platform}/{name}/{date}_{time}_part{part}".into();
    config.state.dir = Some(out.join("state"));
    config.api.enabled = false;
    config.watch.poll_interval = HumanDuration(Duration::from_secs(1));
    config.watch.jitter = 0.0;
    config.watch.debounce = HumanDuration(Duration::from_secs(4));
    config.watch.stall_timeout = HumanDuration(Duration::from_secs(8));
    config.disk.min_free_mb = 64;
    config.danmaku.enabled = true;
    let mut channel = ChannelConfig::new(origin.hls_url());
    channel.name = Some("synthetic".into());
    config.channels = vec![channel];
    config.webhooks = vec![WebhookConfig {
        id: Some("demo-receiver".into()),
        url: receiver_url,
        events: Vec::new(),
        secret: Some(Secret::new(secret.to_string())),
        secrets: Vec::new(),
        headers: Default::default(),
        enabled: true,
    }];
    let state_dir = config.state_dir(None);
    let mut parts = wiring::real_parts(&config, &state_dir, &[]).await?;
    parts.chat = Some(Arc::new(DemoChat {
        chat: wiring::DanmakuChat::from_platforms(&config.platforms)
            .with_bilibili_api(chat_server.api_base()),
        room: ChannelRef {
            platform: "bilibili".into(),
            channel: chat_server.room_id().to_string(),
        },
    }));
    let engine = Engine::start(config, None, parts).await?;
    println!("  recording into {}", out.join("rec").display());
    println!();
    println!("events, as the receiver got them:");

    let r = receiver.received.clone();
    let result = async {
        wait_until("video_file_create", Duration::from_secs(20), || {
            types(&r).iter().any(|t| t == "video_file_create")
        })
        .await?;
        tokio::time::sleep(args.live_for).await;
        origin.stop().await;
        println!(
            "  [{:>5.1}s] (the synthetic channel goes offline)",
            started.elapsed().as_secs_f64()
        );
        wait_until("live_end", Duration::from_secs(40), || {
            types(&r).iter().any(|t| t == "live_end")
        })
        .await?;
        wait_until("video_transmux_finish", Duration::from_secs(20), || {
            types(&r).iter().any(|t| t == "video_transmux_finish")
        })
        .await
    }
    .await;
    let delivered = engine.shutdown(Duration::from_secs(10)).await;
    let _ = wait_until("app_exit", Duration::from_secs(5), || {
        types(&r).iter().any(|t| t == "app_exit")
    })
    .await;
    result?;

    let received = lock(&r);
    let seq: Vec<&str> = received.events.iter().map(|e| e.type_name()).collect();
    println!();
    println!("event sequence: {}", seq.join(" -> "));
    let expected = [
        "app_launch",
        "live_start",
        "video_file_create",
        "video_file_finish",
        "video_transmux_finish",
        "live_end",
        "app_exit",
    ];
    let mut it = seq.iter();
    let in_order = expected.iter().all(|want| it.any(|got| got == want));
    let sessions: std::collections::BTreeSet<_> =
        received.events.iter().filter_map(|e| e.data.session_id()).collect();
    println!("files:");
    let mut missing = 0;
    let mut chat_files = 0;
    for e in &received.events {
        if let EventData::VideoFileFinish(d) = &e.data
            && let Some(chat) = &d.danmaku_path
        {
            match comments_in(chat) {
                Some(n) if n > 0 => {
                    println!("  {chat} (chat: {n} comments)");
                    chat_files += 1;
                }
                Some(_) => println!("  {chat} (chat: no comment)"),
                None => {
                    println!("  {chat} (MISSING)");
                    missing += 1;
                }
            }
        }
        let path = match &e.data {
            EventData::VideoFileFinish(d) => &d.path,
            EventData::VideoTransmuxFinish(d) => &d.output,
            _ => continue,
        };
        let size = std::fs::metadata(path).map(|m| m.len()).ok();
        match size {
            Some(size) => println!("  {path} ({size} bytes)"),
            None => {
                println!("  {path} (MISSING)");
                missing += 1;
            }
        }
    }
    println!(
        "{} events delivered and verified, {} rejected, {} session(s), all delivered before exit: {delivered}; {:.1}s",
        received.events.len(),
        received.rejected,
        sessions.len(),
        started.elapsed().as_secs_f64()
    );
    drop(chat_server);
    if in_order && received.rejected == 0 && missing == 0 && sessions.len() == 1 && chat_files > 0 {
        println!("demo OK");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "demo FAILED: expected the events {} in this order, one session, every file present, a chat file with comments",
            expected.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}
