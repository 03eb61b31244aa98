//! Bilibili live chat: the `getDanmuInfo` token and host list, the binary
//! packet protocol over WebSocket (auth, heartbeat, zlib and brotli bodies)
//! and the `DANMU_MSG`, `SUPER_CHAT_MESSAGE`, `SEND_GIFT`, `GUARD_BUY`,
//! `LIVE` and `PREPARING` commands.
//!
//! The packet layout is hand-written (no maintained crate implements it):
//! a 16-byte big-endian header (total length u32, header length u16,
//! protocol version u16, operation u32, sequence u32) and a body.

use crate::client::{ChatProtocol, Decoded, Endpoint, Frame};
use crate::error::DanmakuError;
use crate::event::{ChatEvent, Comment, Gift, Guard, LiveSignal, Platform, Sender, SuperChat};
use crate::json::parse_lenient;
use serde_json::Value;
use std::time::Duration;

const PLATFORM: &str = "bilibili";

/// The packet codec, public for test servers and the synthetic feed.
pub mod packet {
    use super::PLATFORM;
    use crate::error::DanmakuError;
    use std::io::Read;

    /// Header length of every packet.
    pub const HEADER_LEN: usize = 16;
    /// Client heartbeat.
    pub const OP_HEARTBEAT: u32 = 2;
    /// Heartbeat reply (body: popularity, u32).
    pub const OP_HEARTBEAT_REPLY: u32 = 3;
    /// A command (JSON body, or compressed packets).
    pub const OP_MESSAGE: u32 = 5;
    /// Client auth ("enter room").
    pub const OP_AUTH: u32 = 7;
    /// Auth reply (`{"code":0}`).
    pub const OP_AUTH_REPLY: u32 = 8;
    /// Body is plain JSON.
    pub const VER_JSON: u16 = 0;
    /// Body is a heartbeat/auth/popularity body.
    pub const VER_PLAIN: u16 = 1;
    /// Body is zlib-compressed packets.
    pub const VER_ZLIB: u16 = 2;
    /// Body is brotli-compressed packets.
    pub const VER_BROTLI: u16 = 3;
    /// Largest decompressed body accepted (a zip bomb stops here).
    pub const MAX_INFLATED: u64 = 16 << 20;

    /// One decoded packet.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Packet {
        /// Protocol version (body encoding).
        pub version: u16,
        /// Operation.
        pub operation: u32,
        /// Body, decompressed packets already flattened out.
        pub body: Vec<u8>,
    }

    /// Encodes one packet (sequence 1).
    pub fn encode(operation: u32, version: u16, body: &[u8]) -> Vec<u8> {
        let total = (HEADER_LEN + body.len()) as u32;
        let mut out = Vec::with_capacity(total as usize);
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&(HEADER_LEN as u16).to_be_bytes());
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&operation.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// Decodes every packet in one WebSocket message, inflating zlib and
    /// brotli bodies (one level deep, as the server sends them).
    pub fn decode(buf: &[u8], out: &mut Vec<Packet>) -> Result<(), DanmakuError> {
        decode_at(buf, 0, out)
    }

    fn decode_at(buf: &[u8], depth: u8, out: &mut Vec<Packet>) -> Result<(), DanmakuError> {
        let mut at = 0usize;
        if buf.is_empty() {
            return Err(DanmakuError::protocol(PLATFORM, "empty message"));
        }
        while at < buf.len() {
            let rest = &buf[at..];
            if rest.len() < HEADER_LEN {
                return Err(DanmakuError::protocol(
                    PLATFORM,
                    format!(
                        "truncated header at byte {at}: {} bytes left, need {HEADER_LEN}",
                        rest.len()
                    ),
                ));
            }
            let total = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let header = u16::from_be_bytes([rest[4], rest[5]]) as usize;
            let version = u16::from_be_bytes([rest[6], rest[7]]);
            let operation = u32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
            if header < HEADER_LEN || total < header {
                return Err(DanmakuError::protocol(
                    PLATFORM,
                    format!("bad lengths at byte {at}: packet {total}, header {header}"),
                ));
            }
            if total > rest.len() {
                return Err(DanmakuError::protocol(
                    PLATFORM,
                    format!(
                        "packet at byte {at} claims {total} bytes, message has {} left",
                        rest.len()
                    ),
                ));
            }
            let body = &rest[header..total];
            match (operation, version) {
                (OP_MESSAGE, VER_ZLIB | VER_BROTLI) => {
                    if depth > 0 {
                        return Err(DanmakuError::protocol(
                            PLATFORM,
                            format!("compressed packet inside a compressed packet at byte {at}"),
                        ));
                    }
                    let inflated = inflate(version, body)?;
                    decode_at(&inflated, depth + 1, out)?;
                }
                _ => out.push(Packet { version, operation, body: body.to_vec() }),
            }
            at += total;
        }
        Ok(())
    }

    fn inflate(version: u16, body: &[u8]) -> Result<Vec<u8>, DanmakuError> {
        let mut inflated = Vec::new();
        let (name, result) = if version == VER_ZLIB {
            let reader = flate2::read::ZlibDecoder::new(body);
            ("zlib", reader.take(MAX_INFLATED + 1).read_to_end(&mut inflated))
        } else {
            let reader = brotli_decompressor::Decompressor::new(body, 4096);
            ("brotli", reader.take(MAX_INFLATED + 1).read_to_end(&mut inflated))
        };
        result.map_err(|e| {
            DanmakuError::protocol(PLATFORM, format!("{name} body ({} bytes): {e}", body.len()))
        })?;
        if inflated.len() as u64 > MAX_INFLATED {
            return Err(DanmakuError::protocol(
                PLATFORM,
                format!("{name} body inflates past {MAX_INFLATED} bytes"),
            ));
        }
        Ok(inflated)
    }
}

/// Settings of a [`BilibiliChat`]. `Debug` shows no cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct BilibiliOptions {
    /// Base of the HTTP API (`https://api.live.bilibili.com`); tests point it
    /// at loopback.
    pub api_base: String,
    /// `wss://host:wss_port/sub` when true, `ws://host:ws_port/sub` when false.
    pub tls: bool,
    /// Heartbeat period (the web client's is 30 s).
    pub heartbeat_interval: Duration,
    /// The logged-in user's id; 0 is anonymous.
    pub uid: u64,
    /// The `buvid3` cookie value sent in the auth packet, if any.
    pub buvid: Option<String>,
    /// Cookie header for `getDanmuInfo` (never logged).
    pub cookie: Option<String>,
    /// User-Agent for `getDanmuInfo`.
    pub user_agent: String,
}

impl std::fmt::Debug for BilibiliOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BilibiliOptions")
            .field("api_base", &self.api_base)
            .field("tls", &self.tls)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("uid", &self.uid)
            .field("buvid", &self.buvid.as_ref().map(|_| "<redacted>"))
            .field("cookie", &self.cookie.as_ref().map(|_| "<redacted>"))
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl Default for BilibiliOptions {
    fn default() -> Self {
        Self {
            api_base: "https://api.live.bilibili.com".into(),
            tls: true,
            heartbeat_interval: Duration::from_secs(30),
            uid: 0,
            buvid: None,
            cookie: None,
            user_agent: concat!("onelive-danmaku/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// The Bilibili live chat protocol for one room (the long room id).
#[derive(Debug)]
pub struct BilibiliChat {
    room_id: u64,
    options: BilibiliOptions,
    http: reqwest::Client,
    packets: Vec<packet::Packet>,
}

/// One HTTP client for every room: a client per room would cost its own
/// pool and TLS roots (hundreds of KiB each with a thousand rooms).
fn shared_http() -> Result<reqwest::Client, DanmakuError> {
    static HTTP: std::sync::OnceLock<Result<reqwest::Client, String>> = std::sync::OnceLock::new();
    HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|detail| DanmakuError::Invalid { what: "HTTP client", detail })
}

impl BilibiliChat {
    /// For room `room_id` (the real, long id; short ids are resolved by the
    /// platform adapter).
    pub fn new(room_id: u64, options: BilibiliOptions) -> Result<Self, DanmakuError> {
        if room_id == 0 {
            return Err(DanmakuError::Invalid { what: "bilibili room id", detail: "0".into() });
        }
        let http = shared_http()?;
        Ok(Self { room_id, options, http, packets: Vec::new() })
    }

    /// The auth packet for `token`.
    pub fn auth_packet(&self, token: &str) -> Vec<u8> {
        let mut body = serde_json::json!({
            "uid": self.options.uid,
            "roomid": self.room_id,
            "protover": 3,
            "platform": "web",
            "type": 2,
            "key": token,
        });
        if let (Some(buvid), Some(map)) = (&self.options.buvid, body.as_object_mut()) {
            map.insert("buvid".into(), Value::String(buvid.clone()));
        }
        packet::encode(packet::OP_AUTH, packet::VER_PLAIN, body.to_string().as_bytes())
    }

    async fn danmu_info(&self) -> Result<(String, Vec<String>), DanmakuError> {
        let url = format!(
            "{}/xlive/web-room/v1/index/getDanmuInfo?id={}&type=0",
            self.options.api_base.trim_end_matches('/'),
            self.room_id
        );
        let http_err =
            |detail: String| DanmakuError::Http { platform: PLATFORM, url: url.clone(), detail };
        let mut request = self.http.get(&url).header("User-Agent", &self.options.user_agent);
        if let Some(cookie) = &self.options.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().await.map_err(|e| http_err(e.to_string()))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| http_err(e.to_string()))?;
        if !status.is_success() {
            return Err(http_err(format!("status {status}")));
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| http_err(format!("body is not JSON: {e}")))?;
        let code = v.get("code").and_then(Value::as_i64).unwrap_or(-1);
        if code != 0 {
            return Err(DanmakuError::Api {
                platform: PLATFORM,
                code,
                message: v.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
            });
        }
        let data = &v["data"];
        let token =
            data["token"].as_str().ok_or_else(|| http_err("data.token missing".into()))?.to_owned();
        let port_key = if self.options.tls { "wss_port" } else { "ws_port" };
        let scheme = if self.options.tls { "wss" } else { "ws" };
        let mut urls = Vec::new();
        for h in data["host_list"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let (Some(host), Some(port)) = (h["host"].as_str(), h[port_key].as_u64()) else {
                continue;
            };
            // The host comes from the network: accept a bare host name or
            // address only, so it cannot smuggle a path or credentials in.
            let candidate = format!("{scheme}://{host}:{port}/sub");
            match url::Url::parse(&candidate) {
                Ok(u)
                    if u.host_str() == Some(host)
                        && u.port_or_known_default() == Some(port as u16) =>
                {
                    urls.push(candidate)
                }
                _ => tracing::warn!(host, port, "getDanmuInfo: ignoring a malformed host"),
            }
        }
        if urls.is_empty() {
            urls.push(format!("{scheme}://broadcastlv.chat.bilibili.com/sub"));
        }
        Ok((token, urls))
    }
}

impl ChatProtocol for BilibiliChat {
    fn platform(&self) -> Platform {
        Platform::Bilibili
    }

    async fn endpoint(&mut self, attempt: u32) -> Result<Endpoint, DanmakuError> {
        let (token, urls) = self.danmu_info().await?;
        let url = urls[attempt as usize % urls.len()].clone();
        Ok(Endpoint { url, handshake: vec![Frame::Binary(self.auth_packet(&token))] })
    }

    fn heartbeat_interval(&self) -> Duration {
        self.options.heartbeat_interval
    }

    fn heartbeat(&self) -> Frame {
        Frame::Binary(packet::encode(packet::OP_HEARTBEAT, packet::VER_PLAIN, b"[object Object]"))
    }

    fn decode(&mut self, frame: &Frame, out: &mut Decoded) -> Result<(), DanmakuError> {
        let Frame::Binary(bytes) = frame else {
            return Err(DanmakuError::protocol(PLATFORM, "text frame; expected binary packets"));
        };
        self.packets.clear();
        packet::decode(bytes, &mut self.packets)?;
        for p in self.packets.drain(..) {
            match p.operation {
                packet::OP_AUTH_REPLY => {
                    let v: Value = serde_json::from_slice(&p.body).map_err(|e| {
                        DanmakuError::protocol(PLATFORM, format!("auth reply is not JSON: {e}"))
                    })?;
                    if v.get("code").and_then(Value::as_i64) != Some(0) {
                        return Err(DanmakuError::AuthRefused {
                            platform: PLATFORM,
                            detail: String::from_utf8_lossy(&p.body).into_owned(),
                        });
                    }
                }
                packet::OP_MESSAGE => {
                    let v = parse_lenient(&p.body).map_err(|e| {
                        DanmakuError::protocol(
                            PLATFORM,
                            format!("command body ({} bytes) is not JSON: {e}", p.body.len()),
                        )
                    })?;
                    match command(&v) {
                        Some(Ok(event)) => out.events.push(event),
                        Some(Err(())) => out.skipped += 1,
                        None => {}
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn num(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// One command: `None` for commands we do not keep, `Some(Err)` for a kept
/// command with unusable fields.
fn command(v: &Value) -> Option<Result<ChatEvent, ()>> {
    let cmd = v.get("cmd")?.as_str()?;
    let cmd = cmd.split(':').next().unwrap_or(cmd);
    let event = match cmd {
        "DANMU_MSG" => danmu_msg(v),
        "SUPER_CHAT_MESSAGE" => {
            let d = &v["data"];
            (|| {
                Some(ChatEvent::SuperChat(SuperChat {
                    sender: Sender {
                        id: text(&d["uid"])?,
                        name: d["user_info"]["uname"].as_str()?.to_owned(),
                    },
                    text: d["message"].as_str()?.to_owned(),
                    price: d["price"].as_f64()?,
                    keep_seconds: num(&d["time"]).unwrap_or(0) as u32,
                }))
            })()
        }
        "SEND_GIFT" => {
            let d = &v["data"];
            (|| {
                Some(ChatEvent::Gift(Gift {
                    sender: Sender { id: text(&d["uid"])?, name: d["uname"].as_str()?.to_owned() },
                    name: d["giftName"].as_str()?.to_owned(),
                    count: num(&d["num"]).unwrap_or(1) as u32,
                }))
            })()
        }
        "GUARD_BUY" => {
            let d = &v["data"];
            (|| {
                Some(ChatEvent::Guard(Guard {
                    sender: Sender {
                        id: text(&d["uid"])?,
                        name: d["username"].as_str()?.to_owned(),
                    },
                    level: num(&d["guard_level"])? as u8,
                    count: num(&d["num"]).unwrap_or(1) as u32,
                }))
            })()
        }
        "LIVE" => Some(ChatEvent::Signal { signal: LiveSignal::Live }),
        "PREPARING" => Some(ChatEvent::Signal { signal: LiveSignal::Offline }),
        _ => return None,
    };
    Some(event.ok_or(()))
}

/// `info[0]` = [_, mode, size, color, send time ms, …], `info[1]` = text,
/// `info[2]` = [uid, name, …] (field positions as BililiveRecorder reads them).
fn danmu_msg(v: &Value) -> Option<ChatEvent> {
    let info = v.get("info")?.as_array()?;
    let meta = info.first()?.as_array()?;
    let user = info.get(2)?.as_array()?;
    Some(ChatEvent::Comment(Comment {
        sender: Sender {
            id: text(user.first()?)?,
            name: user.get(1).and_then(Value::as_str).unwrap_or("").to_owned(),
        },
        text: info.get(1)?.as_str()?.to_owned(),
        mode: meta.get(1).and_then(num).unwrap_or(1).min(255) as u8,
        size: meta.get(2).and_then(num).unwrap_or(25) as u32,
        color: meta.get(3).and_then(num).unwrap_or(0xFF_FF_FF) as u32 & 0xFF_FF_FF,
        sent_at_ms: meta.get(4).and_then(Value::as_i64),
        bits: None,
    }))
}
