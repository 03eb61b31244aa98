//! A synthetic Bilibili-style danmaku server on loopback: `getDanmuInfo`
//! over HTTP and the live chat WebSocket (auth, heartbeat replies, zlib
//! batches of `DANMU_MSG`, `LIVE` / `PREPARING`), for demos and tests of
//! chat capture. Packets come from `onelive-danmaku`'s codec.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use onelive_danmaku::bilibili::packet;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::SyntheticError;

const TOKEN: &str = "synthetic-token";

/// Settings of a [`SyntheticDanmaku`].
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticDanmakuOptions {
    /// The room id clients must authenticate for.
    pub room_id: u64,
    /// Automatic comments per second (0: only [`SyntheticDanmaku::send_comment`]).
    pub rate_per_second: f64,
}

impl Default for SyntheticDanmakuOptions {
    fn default() -> Self {
        Self { room_id: 1, rate_per_second: 2.0 }
    }
}

/// A loopback danmaku server. Stops when dropped.
#[derive(Debug)]
pub struct SyntheticDanmaku {
    api_base: String,
    room_id: u64,
    feed: broadcast::Sender<Vec<u8>>,
    connections: Arc<AtomicUsize>,
    sent: Arc<AtomicU64>,
    stop: CancellationToken,
}

fn io(context: &str, source: std::io::Error) -> SyntheticError {
    SyntheticError::Io { context: context.into(), source }
}

fn comment(n: u64, user: &str, text: &str) -> Vec<u8> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let json = serde_json::json!({
        "cmd": "DANMU_MSG",
        "info": [[0, 1, 25, 16777215, now_ms, 0, 0, "", 0], text, [1000 + n, user, 0, 0, 0, 10000, 1, ""]],
    });
    packet::encode(packet::OP_MESSAGE, packet::VER_JSON, json.to_string().as_bytes())
}

impl SyntheticDanmaku {
    /// Binds both listeners on 127.0.0.1 and starts serving.
    pub async fn start(options: SyntheticDanmakuOptions) -> Result<Self, SyntheticError> {
        if !(options.rate_per_second.is_finite() && options.rate_per_second >= 0.0) {
            return Err(SyntheticError::InvalidOptions(format!(
                "danmaku rate {} per second",
                options.rate_per_second
            )));
        }
        let api =
            TcpListener::bind("127.0.0.1:0").await.map_err(|e| io("binding the danmaku API", e))?;
        let ws = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| io("binding the danmaku WebSocket", e))?;
        let api_addr = api.local_addr().map_err(|e| io("danmaku API address", e))?;
        let ws_port = ws.local_addr().map_err(|e| io("danmaku WebSocket address", e))?.port();
        let stop = CancellationToken::new();
        let (feed, _) = broadcast::channel(1024);
        let connections = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(AtomicU64::new(0));

        let info = serde_json::json!({
            "code": 0, "message": "0", "ttl": 1,
            "data": {"group": "live", "business_id": 0, "token": TOKEN,
                "host_list": [{"host": "127.0.0.1", "port": ws_port, "wss_port": ws_port, "ws_port": ws_port}]},
        })
        .to_string();
        let app = axum::Router::new().route(
            "/xlive/web-room/v1/index/getDanmuInfo",
            axum::routing::get(move || {
                let info = info.clone();
                async move { ([("content-type", "application/json")], info) }
            }),
        );
        let shutdown = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(api, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
        });

        let room_id = options.room_id;
        let (accept_stop, accept_feed, accept_conns) =
            (stop.clone(), feed.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    r = ws.accept() => match r { Ok((s, _)) => s, Err(_) => continue },
                    _ = accept_stop.cancelled() => break,
                };
                let (stop, feed, conns) =
                    (accept_stop.clone(), accept_feed.subscribe(), accept_conns.clone());
                tokio::spawn(async move {
                    conns.fetch_add(1, Ordering::Relaxed);
                    serve_client(stream, room_id, feed, stop).await;
                    conns.fetch_sub(1, Ordering::Relaxed);
                });
            }
        });

        if options.rate_per_second > 0.0 {
            let period = Duration::from_secs_f64(1.0 / options.rate_per_second)
                .max(Duration::from_millis(1));
            let (feed, sent, stop) = (feed.clone(), sent.clone(), stop.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stop.cancelled() => break,
                    }
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    let _ = feed.send(comment(n, "synthetic", &format!("synthetic danmaku #{n}")));
                }
            });
        }
        Ok(Self { api_base: format!("http://{api_addr}"), room_id, feed, connections, sent, stop })
    }

    /// The HTTP API base to give a Bilibili chat client (`api_base`, with
    /// TLS off).
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The room id.
    pub fn room_id(&self) -> u64 {
        self.room_id
    }

    /// Authenticated clients connected now.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Comments sent so far (automatic and on demand).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends one comment to every connected client.
    pub fn send_comment(&self, user: &str, text: &str) {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        let _ = self.feed.send(comment(n, user, text));
    }

    /// Announces `LIVE` to every connected client.
    pub fn go_live(&self) {
        let body = format!(r#"{{"cmd":"LIVE","roomid":{}}}"#, self.room_id);
        let _ =
            self.feed.send(packet::encode(packet::OP_MESSAGE, packet::VER_JSON, body.as_bytes()));
    }

    /// Announces `PREPARING` (offline) to every connected client.
    pub fn go_offline(&self) {
        let body = format!(r#"{{"cmd":"PREPARING","roomid":"{}"}}"#, self.room_id);
        let _ =
            self.feed.send(packet::encode(packet::OP_MESSAGE, packet::VER_JSON, body.as_bytes()));
    }
}

impl Drop for SyntheticDanmaku {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// One client: the auth packet must name our room and token; then heartbeat
/// replies and the feed, batched per 100 ms into zlib packets as the real
/// server does.
async fn serve_client(
    stream: tokio::net::TcpStream,
    room_id: u64,
    mut feed: broadcast::Receiver<Vec<u8>>,
    stop: CancellationToken,
) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let authed = match tokio::time::timeout(Duration::from_secs(10), source.next()).await {
        Ok(Some(Ok(Message::Binary(b)))) => {
            let mut packets = Vec::new();
            packet::decode(&b, &mut packets).is_ok()
                && packets.first().is_some_and(|p| {
                    let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap_or_default();
                    p.operation == packet::OP_AUTH && v["roomid"] == room_id && v["key"] == TOKEN
                })
        }
        _ => false,
    };
    let code = if authed { 0 } else { -101 };
    let reply = format!(r#"{{"code":{code}}}"#);
    if sink
        .send(Message::binary(packet::encode(
            packet::OP_AUTH_REPLY,
            packet::VER_PLAIN,
            reply.as_bytes(),
        )))
        .await
        .is_err()
        || !authed
    {
        return;
    }
    let mut batch: Vec<u8> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            m = source.next() => match m {
                Some(Ok(Message::Binary(b))) => {
                    let mut packets = Vec::new();
                    if packet::decode(&b, &mut packets).is_ok()
                        && packets.iter().any(|p| p.operation == packet::OP_HEARTBEAT)
                    {
                        let reply = packet::encode(packet::OP_HEARTBEAT_REPLY, packet::VER_PLAIN, &1u32.to_be_bytes());
                        if sink.send(Message::binary(reply)).await.is_err() { return; }
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            p = feed.recv() => match p {
                Ok(p) => batch.extend_from_slice(&p),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                if batch.is_empty() { continue; }
                let body = zlib(&batch);
                batch.clear();
                let frame = packet::encode(packet::OP_MESSAGE, packet::VER_ZLIB, &body);
                if sink.send(Message::binary(frame)).await.is_err() { return; }
            }
        }
    }
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}
