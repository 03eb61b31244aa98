//! Douyu chat: the STT protocol over WebSocket (`loginreq`, `joingroup`,
//! `mrkl` keepalive) and the `chatmsg`, `dgb` and `rss` messages.
//!
//! Packet layout (little-endian, hand-written: no maintained crate): length
//! u32, the same length again, message type u16 (689 client, 690 server),
//! encryption u8 and reserved u8 (both 0), then the STT body ending in NUL.
//! The length counts everything after the first length field. STT is
//! `key@=value/` pairs with `@` escaped as `@A` and `/` as `@S`.

use crate::client::{ChatProtocol, Decoded, Endpoint, Frame};
use crate::error::DanmakuError;
use crate::event::{ChatEvent, Comment, Gift, LiveSignal, Platform, Sender};
use std::time::Duration;

const PLATFORM: &str = "douyu";
/// Message type of client packets.
pub const TYPE_CLIENT: u16 = 689;
/// Message type of server packets.
pub const TYPE_SERVER: u16 = 690;
const MAX_PACKET: usize = 1 << 20;

/// Escapes one STT value.
pub fn stt_escape(value: &str) -> String {
    value.replace('@', "@A").replace('/', "@S")
}

fn stt_unescape(value: &str) -> String {
    value.replace("@S", "/").replace("@A", "@")
}

/// Serialises STT pairs: `k1@=v1/k2@=v2/`.
pub fn stt_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(&stt_escape(k));
        out.push_str("@=");
        out.push_str(&stt_escape(v));
        out.push('/');
    }
    out
}

/// Parses one STT body into pairs (values unescaped once; nested STT stays
/// as its escaped text).
pub fn stt_decode(body: &str) -> Vec<(String, String)> {
    body.split('/')
        .filter(|item| !item.is_empty())
        .filter_map(|item| {
            let (k, v) = item.split_once("@=")?;
            Some((stt_unescape(k), stt_unescape(v)))
        })
        .collect()
}

/// Encodes one packet carrying `body`.
pub fn encode_packet(message_type: u16, body: &str) -> Vec<u8> {
    let len = (body.len() + 1 + 8) as u32;
    let mut out = Vec::with_capacity(len as usize + 4);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&message_type.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(body.as_bytes());
    out.push(0);
    out
}

/// Splits one WebSocket message into STT bodies.
pub fn decode_packets(buf: &[u8]) -> Result<Vec<String>, DanmakuError> {
    let mut bodies = Vec::new();
    let mut at = 0usize;
    if buf.is_empty() {
        return Err(DanmakuError::protocol(PLATFORM, "empty message"));
    }
    while at < buf.len() {
        let rest = &buf[at..];
        if rest.len() < 12 {
            return Err(DanmakuError::protocol(
                PLATFORM,
                format!("truncated header at byte {at}: {} bytes left, need 12", rest.len()),
            ));
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let again = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let kind = u16::from_le_bytes([rest[8], rest[9]]);
        if len != again {
            return Err(DanmakuError::protocol(
                PLATFORM,
                format!("length fields differ at byte {at}: {len} and {again}"),
            ));
        }
        if !(8..=MAX_PACKET).contains(&len) {
            return Err(DanmakuError::protocol(
                PLATFORM,
                format!("packet length {len} at byte {at} out of range 8..={MAX_PACKET}"),
            ));
        }
        if kind != TYPE_SERVER && kind != TYPE_CLIENT {
            return Err(DanmakuError::protocol(
                PLATFORM,
                format!("unknown message type {kind} at byte {at}"),
            ));
        }
        if 4 + len > rest.len() {
            return Err(DanmakuError::protocol(
                PLATFORM,
                format!(
                    "packet at byte {at} claims {len} bytes, message has {} left",
                    rest.len() - 4
                ),
            ));
        }
        let body = &rest[12..4 + len];
        let body = body.strip_suffix(&[0]).unwrap_or(body);
        bodies.push(String::from_utf8_lossy(body).into_owned());
        at += 4 + len;
    }
    Ok(bodies)
}

/// Settings of a [`DouyuChat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DouyuOptions {
    /// The chat endpoint; tests point it at loopback.
    pub url: String,
    /// Keepalive period (`mrkl`); Douyu's web client sends one every 45 s.
    pub heartbeat_interval: Duration,
}

impl Default for DouyuOptions {
    fn default() -> Self {
        Self {
            url: "wss://danmuproxy.douyu.com:8506/".into(),
            heartbeat_interval: Duration::from_secs(45),
        }
    }
}

/// The Douyu chat protocol for one room.
#[derive(Debug)]
pub struct DouyuChat {
    room_id: u64,
    options: DouyuOptions,
}

impl DouyuChat {
    /// For room `room_id` (the numeric id).
    pub fn new(room_id: u64, options: DouyuOptions) -> Result<Self, DanmakuError> {
        if room_id == 0 {
            return Err(DanmakuError::Invalid { what: "douyu room id", detail: "0".into() });
        }
        Ok(Self { room_id, options })
    }
}

/// Douyu's colour index (`col`) as RGB.
fn color(col: Option<&str>) -> u32 {
    match col.and_then(|c| c.parse::<u8>().ok()) {
        Some(1) => 0xFF0000,
        Some(2) => 0x1E87F0,
        Some(3) => 0x7AC84B,
        Some(4) => 0xFF7F00,
        Some(5) => 0x9B39F4,
        Some(6) => 0xFF69B4,
        _ => 0xFFFFFF,
    }
}

impl ChatProtocol for DouyuChat {
    fn platform(&self) -> Platform {
        Platform::Douyu
    }

    async fn endpoint(&mut self, _attempt: u32) -> Result<Endpoint, DanmakuError> {
        let room = self.room_id.to_string();
        Ok(Endpoint {
            url: self.options.url.clone(),
            handshake: vec![
                Frame::Binary(encode_packet(
                    TYPE_CLIENT,
                    &stt_encode(&[("type", "loginreq"), ("roomid", &room)]),
                )),
                Frame::Binary(encode_packet(
                    TYPE_CLIENT,
                    &stt_encode(&[("type", "joingroup"), ("rid", &room), ("gid", "-9999")]),
                )),
            ],
        })
    }

    fn heartbeat_interval(&self) -> Duration {
        self.options.heartbeat_interval
    }

    fn heartbeat(&self) -> Frame {
        Frame::Binary(encode_packet(TYPE_CLIENT, &stt_encode(&[("type", "mrkl")])))
    }

    fn decode(&mut self, frame: &Frame, out: &mut Decoded) -> Result<(), DanmakuError> {
        let Frame::Binary(bytes) = frame else {
            return Err(DanmakuError::protocol(PLATFORM, "text frame; expected binary packets"));
        };
        for body in decode_packets(bytes)? {
            let pairs = stt_decode(&body);
            let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            let sender = || {
                Some(Sender {
                    id: get("uid")?.to_owned(),
                    name: get("nn").unwrap_or("").to_owned(),
                })
            };
            match get("type") {
                Some("chatmsg") => match (sender(), get("txt")) {
                    (Some(sender), Some(text)) => out.events.push(ChatEvent::Comment(Comment {
                        sender,
                        text: text.to_owned(),
                        mode: 1,
                        size: 25,
                        color: color(get("col")),
                        sent_at_ms: get("cst").and_then(|t| t.parse().ok()),
                        bits: None,
                    })),
                    _ => out.skipped += 1,
                },
                Some("dgb") => match (sender(), get("gfid")) {
                    (Some(sender), Some(gfid)) => out.events.push(ChatEvent::Gift(Gift {
                        sender,
                        name: get("gfn")
                            .map(str::to_owned)
                            .unwrap_or_else(|| format!("gift {gfid}")),
                        count: get("gfcnt").and_then(|c| c.parse().ok()).unwrap_or(1),
                    })),
                    _ => out.skipped += 1,
                },
                Some("rss") => match get("ss") {
                    Some("1") => out.events.push(ChatEvent::Signal { signal: LiveSignal::Live }),
                    Some("0") => out.events.push(ChatEvent::Signal { signal: LiveSignal::Offline }),
                    _ => out.skipped += 1,
                },
                Some("error") => {
                    return Err(DanmakuError::AuthRefused {
                        platform: PLATFORM,
                        detail: format!("error code {}", get("code").unwrap_or("?")),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}
