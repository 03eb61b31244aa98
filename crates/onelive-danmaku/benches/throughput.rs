//! Bench binary: (1) 10,000 danmaku per second into one Bilibili client on
//! loopback, written to an XML file: CPU and peak memory of the client
//! process, against an anchor (a bare WebSocket reader of the same flood,
//! in the same run); (2) 1,000 idle Bilibili connections: memory per
//! connection. The server runs in a child process (this binary re-executed)
//! so only the client side is measured. Run: `cargo bench -p onelive-danmaku`.

use futures_util::{SinkExt, StreamExt};
use onelive_danmaku::bilibili::packet;
use onelive_danmaku::*;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const RATE: u64 = 10_000;
const SECONDS: u64 = 10;
const IDLE: usize = 1000;

/// utime + stime of this process, seconds (from /proc/self/stat).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
    // Fields after the comm, by position (some, like tpgid, may be -1):
    // state is field 3 overall, utime 14 and stime 15.
    let f: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12);
    ticks as f64 / 100.0
}

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    if let Ok(rate) = std::env::var("DANMAKU_BENCH_SERVER") {
        rt.block_on(server(rate.parse().unwrap()));
        return;
    }
    rt.block_on(async {
        println!(
            "onelive-danmaku bench ({} cores)",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
        flood().await;
        idle().await;
    });
}

/// Starts the child server; returns it and its API base.
fn spawn_server(rate: u64) -> (std::process::Child, String) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("DANMAKU_BENCH_SERVER", rate.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (child, line.trim().to_owned())
}

fn options(base: &str) -> BilibiliOptions {
    BilibiliOptions { api_base: base.into(), tls: false, ..BilibiliOptions::default() }
}

async fn flood() {
    // Anchor: a bare reader (handshake + read, no decode) of the same flood.
    let (mut child, base) = spawn_server(RATE);
    let port: u16 = base.rsplit(':').next().unwrap().parse::<u16>().unwrap() + 1;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/sub")).await.unwrap();
    ws.send(Message::binary(packet::encode(packet::OP_AUTH, 1, br#"{"roomid":1,"key":"t"}"#)))
        .await
        .unwrap();
    let _ = ws.next().await;
    let (c0, t0) = (cpu_seconds(), Instant::now());
    let mut bytes = 0usize;
    while t0.elapsed() < Duration::from_secs(SECONDS) {
        if let Some(Ok(m)) = ws.next().await {
            bytes += m.len();
        }
    }
    let anchor_cpu = cpu_seconds() - c0;
    drop(ws);
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "anchor: bare WebSocket reader, {SECONDS} s of the flood ({} KiB compressed): CPU {:.2} s ({:.1}% of one core)",
        bytes / 1024,
        anchor_cpu,
        anchor_cpu / SECONDS as f64 * 100.0
    );

    let (mut child, base) = spawn_server(RATE);
    let rss0 = status_kib("VmRSS:");
    let (client, events, _signals) =
        ChatClient::spawn(BilibiliChat::new(1, options(&base)).unwrap(), ClientOptions::default())
            .unwrap();
    let recorder = ChatRecorder::spawn(events, XmlOptions::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("onelive-danmaku-bench-{}", std::process::id()));
    let path = dir.join("flood.xml");
    while client.stats().events == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    recorder.start_part(&path, Instant::now(), &PartInfo::default()).unwrap();
    let (c0, t0, e0) = (cpu_seconds(), Instant::now(), client.stats().events);
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    let cpu = cpu_seconds() - c0;
    let wall = t0.elapsed().as_secs_f64();
    let summary = recorder.finish_part().unwrap().unwrap();
    let stats = client.stats();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "flood: {} danmaku in {:.1} s ({:.0}/s) decoded, {} written to XML ({} KiB), dropped {}, errors {}",
        stats.events - e0,
        wall,
        (stats.events - e0) as f64 / wall,
        summary.comments,
        size / 1024,
        stats.dropped,
        stats.errors
    );
    println!(
        "flood: client CPU {:.2} s ({:.1}% of one core; anchor {:.1}%), RSS {} -> {} KiB, peak {} KiB",
        cpu,
        cpu / wall * 100.0,
        anchor_cpu / SECONDS as f64 * 100.0,
        rss0,
        status_kib("VmRSS:"),
        status_kib("VmHWM:")
    );
    client.stop().await;
    drop(recorder);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = child.kill();
    let _ = child.wait();
}

async fn idle() {
    let (mut child, base) = spawn_server(0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss0 = status_kib("VmRSS:");
    let mut clients = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let chat = BilibiliChat::new(1 + i as u64, options(&base)).unwrap();
        clients.push(ChatClient::spawn(chat, ClientOptions::default()).unwrap());
    }
    let t0 = Instant::now();
    while clients.iter().filter(|(c, _, _)| c.stats().connected).count() < IDLE {
        assert!(t0.elapsed() < Duration::from_secs(120), "connections did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let up = t0.elapsed();
    let rss1 = status_kib("VmRSS:");
    println!(
        "idle: {IDLE} Bilibili connections up in {:.2} s; RSS {} -> {} KiB: {:.1} KiB per connection (client side: socket, task, 4096-slot buffer reserved lazily)",
        up.as_secs_f64(),
        rss0,
        rss1,
        (rss1.saturating_sub(rss0)) as f64 / IDLE as f64
    );
    drop(clients);
    let _ = child.kill();
    let _ = child.wait();
}

/// The child: getDanmuInfo on port P, the chat WebSocket on P+1 (retrying
/// until two adjacent ports are free); floods every client at `rate`.
async fn server(rate: u64) {
    let (api, ws) = loop {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = api.local_addr().unwrap().port();
        if let Ok(ws) = tokio::net::TcpListener::bind(("127.0.0.1", port.wrapping_add(1))).await {
            break (api, ws);
        }
    };
    let api_port = api.local_addr().unwrap().port();
    let ws_port = ws.local_addr().unwrap().port();
    let info = format!(
        r#"{{"code":0,"data":{{"token":"t","host_list":[{{"host":"127.0.0.1","port":{ws_port},"wss_port":{ws_port},"ws_port":{ws_port}}}]}}}}"#
    );
    let app = axum::Router::new().route(
        "/xlive/web-room/v1/index/getDanmuInfo",
        axum::routing::get(move || {
            let i = info.clone();
            async move { i }
        }),
    );
    tokio::spawn(async move { axum::serve(api, app).await });
    println!("http://127.0.0.1:{api_port}");
    std::io::stdout().flush().unwrap();

    // 100 DANMU_MSG per brotli packet, one packet per 10 ms.
    let per_tick = (rate / 100).max(1) as usize;
    let mut inner = Vec::new();
    for i in 0..per_tick {
        let json = format!(
            r#"{{"cmd":"DANMU_MSG","info":[[0,1,25,16777215,1700000000000,0,0,"",0],"bench danmaku number {i} 弹幕测试",[{i},"bench user",0,0,0,10000,1,""]]}}"#
        );
        inner.extend(packet::encode(packet::OP_MESSAGE, 0, json.as_bytes()));
    }
    let mut compressed = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut compressed, 4096, 5, 22);
        w.write_all(&inner).unwrap();
    }
    let batch = packet::encode(packet::OP_MESSAGE, packet::VER_BROTLI, &compressed);
    loop {
        let Ok((stream, _)) = ws.accept().await else { continue };
        let batch = batch.clone();
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
            let (mut sink, mut source) = ws.split();
            let _ = source.next().await;
            let _ = sink
                .send(Message::binary(packet::encode(packet::OP_AUTH_REPLY, 1, br#"{"code":0}"#)))
                .await;
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tokio::select! {
                    _ = tick.tick(), if rate > 0 => {
                        if sink.send(Message::binary(batch.clone())).await.is_err() { return; }
                    }
                    m = source.next() => match m {
                        Some(Ok(_)) => {
                            let _ = sink.send(Message::binary(packet::encode(packet::OP_HEARTBEAT_REPLY, 1, &[0, 0, 0, 1]))).await;
                        }
                        _ => return,
                    }
                }
            }
        });
    }
}
