//! What chat clients deliver: comments, super chats, gifts, guard purchases
//! and live/offline signals.

use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The platform a chat message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Bilibili live.
    Bilibili,
    /// Douyu.
    Douyu,
    /// Twitch.
    Twitch,
}

impl Platform {
    /// The platform's lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bilibili => "bilibili",
            Self::Douyu => "douyu",
            Self::Twitch => "twitch",
        }
    }
}

/// A viewer who sent something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    /// The platform's user id (numeric on all three platforms, kept as text).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A chat comment (Bilibili `DANMU_MSG`, Douyu `chatmsg`, Twitch `PRIVMSG`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// Who.
    pub sender: Sender,
    /// The text, as sent (the writer escapes it).
    pub text: String,
    /// Display mode: 1 scrolling, 4 bottom, 5 top (Bilibili's numbering).
    pub mode: u8,
    /// Font size (25 is normal).
    pub size: u32,
    /// RGB colour, `0xRRGGBB`.
    pub color: u32,
    /// The platform's own send time in Unix milliseconds, when it gives one.
    pub sent_at_ms: Option<i64>,
    /// Twitch bits cheered with the message.
    pub bits: Option<u64>,
}

/// A paid, pinned message (Bilibili `SUPER_CHAT_MESSAGE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuperChat {
    /// Who.
    pub sender: Sender,
    /// The text.
    pub text: String,
    /// Price in the platform's currency unit (CNY on Bilibili).
    pub price: f64,
    /// How long it stays pinned, seconds.
    pub keep_seconds: u32,
}

/// A gift (Bilibili `SEND_GIFT`, Douyu `dgb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gift {
    /// Who.
    pub sender: Sender,
    /// The gift's name (Douyu sends only an id: then `"gift <id>"`).
    pub name: String,
    /// How many.
    pub count: u32,
}

/// A guard ("captain") purchase (Bilibili `GUARD_BUY`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guard {
    /// Who.
    pub sender: Sender,
    /// 1 总督, 2 提督, 3 舰长.
    pub level: u8,
    /// How many months.
    pub count: u32,
}

/// What a chat feed says about the room's state. The poll stays the source
/// of truth: a signal only tells the engine to poll at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveSignal {
    /// The room went live (Bilibili `LIVE`, Douyu `rss` with `ss=1`).
    Live,
    /// The room went offline (Bilibili `PREPARING`, Douyu `rss` with `ss=0`).
    Offline,
}

/// One thing a chat feed delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChatEvent {
    /// A comment.
    Comment(Comment),
    /// A super chat.
    SuperChat(SuperChat),
    /// A gift.
    Gift(Gift),
    /// A guard purchase.
    Guard(Guard),
    /// A live/offline signal (also sent on the signal stream).
    Signal {
        /// The signal.
        signal: LiveSignal,
    },
}

/// A [`ChatEvent`] stamped with the instant this process received it; the
/// writer turns that into an offset from the part's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// When the frame carrying it was read off the socket.
    pub at: Instant,
    /// What it was.
    pub event: ChatEvent,
}
