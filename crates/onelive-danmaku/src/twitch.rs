//! Twitch chat: IRC over WebSocket as an anonymous `justinfan` reader, with
//! the IRCv3 tags capability; `PRIVMSG` (and its `bits` tag).
//!
//! The line parser is hand-written: it is one small function, where the IRC
//! crates bring their own connection stack.

use crate::client::{ChatProtocol, Decoded, Endpoint, Frame};
use crate::error::DanmakuError;
use crate::event::{ChatEvent, Comment, Platform, Sender};
use std::time::Duration;

const PLATFORM: &str = "twitch";

/// Settings of a [`TwitchChat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwitchOptions {
    /// The IRC WebSocket endpoint; tests point it at loopback.
    pub url: String,
    /// Client `PING` period (Twitch itself pings about every 5 minutes).
    pub heartbeat_interval: Duration,
}

impl Default for TwitchOptions {
    fn default() -> Self {
        Self {
            url: "wss://irc-ws.chat.twitch.tv:443".into(),
            heartbeat_interval: Duration::from_secs(60),
        }
    }
}

/// The Twitch chat protocol for one channel.
#[derive(Debug)]
pub struct TwitchChat {
    channel: String,
    nick: String,
    options: TwitchOptions,
}

impl TwitchChat {
    /// For channel `login` (the lower-case login name, with or without `#`).
    pub fn new(login: &str, options: TwitchOptions) -> Result<Self, DanmakuError> {
        let channel = login.trim_start_matches('#').to_ascii_lowercase();
        let valid = (1..=25).contains(&channel.len())
            && channel.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(DanmakuError::Invalid {
                what: "twitch channel",
                detail: format!("{login:?}: expected 1 to 25 of a-z, 0-9 and _"),
            });
        }
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() % 90_000 + 10_000)
            .unwrap_or(12_345);
        Ok(Self { channel, nick: format!("justinfan{n}"), options })
    }
}

/// One parsed IRC line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcLine<'a> {
    /// IRCv3 tags, values unescaped.
    pub tags: Vec<(&'a str, String)>,
    /// The prefix without `:` (`nick!user@host`).
    pub prefix: Option<&'a str>,
    /// The command (`PRIVMSG`, `PING`, `001`).
    pub command: &'a str,
    /// Middle parameters.
    pub params: Vec<&'a str>,
    /// The trailing parameter (after ` :`).
    pub trailing: Option<&'a str>,
}

fn unescape_tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Parses one IRC line (without its CR LF).
pub fn parse_line(line: &str) -> Result<IrcLine<'_>, DanmakuError> {
    let bad = |what: &str| DanmakuError::protocol(PLATFORM, format!("{what} in IRC line {line:?}"));
    let mut rest = line;
    let mut tags = Vec::new();
    if let Some(r) = rest.strip_prefix('@') {
        let (t, r) = r.split_once(' ').ok_or_else(|| bad("tags without a command"))?;
        for item in t.split(';').filter(|i| !i.is_empty()) {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            tags.push((k, unescape_tag(v)));
        }
        rest = r.trim_start_matches(' ');
    }
    let mut prefix = None;
    if let Some(r) = rest.strip_prefix(':') {
        let (p, r) = r.split_once(' ').ok_or_else(|| bad("prefix without a command"))?;
        prefix = Some(p);
        rest = r.trim_start_matches(' ');
    }
    let (head, trailing) = match rest.split_once(" :") {
        Some((h, t)) => (h, Some(t)),
        None => match rest.strip_prefix(':') {
            Some(t) => ("", Some(t)),
            None => (rest, None),
        },
    };
    let mut words = head.split(' ').filter(|w| !w.is_empty());
    let command = words.next().ok_or_else(|| bad("no command"))?;
    if !command.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad("invalid command"));
    }
    Ok(IrcLine { tags, prefix, command, params: words.collect(), trailing })
}

impl ChatProtocol for TwitchChat {
    fn platform(&self) -> Platform {
        Platform::Twitch
    }

    async fn endpoint(&mut self, _attempt: u32) -> Result<Endpoint, DanmakuError> {
        Ok(Endpoint {
            url: self.options.url.clone(),
            handshake: vec![
                Frame::Text("CAP REQ :twitch.tv/tags twitch.tv/commands".into()),
                Frame::Text("PASS SCHMOOPIIE".into()),
                Frame::Text(format!("NICK {}", self.nick)),
                Frame::Text(format!("JOIN #{}", self.channel)),
            ],
        })
    }

    fn heartbeat_interval(&self) -> Duration {
        self.options.heartbeat_interval
    }

    fn heartbeat(&self) -> Frame {
        Frame::Text("PING :tmi.twitch.tv".into())
    }

    fn decode(&mut self, frame: &Frame, out: &mut Decoded) -> Result<(), DanmakuError> {
        let Frame::Text(text) = frame else {
            return Err(DanmakuError::protocol(PLATFORM, "binary frame; expected IRC text"));
        };
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            let irc = parse_line(line)?;
            match irc.command {
                "PING" => out.replies.push(Frame::Text(format!(
                    "PONG :{}",
                    irc.trailing.unwrap_or("tmi.twitch.tv")
                ))),
                "RECONNECT" => out.reconnect = Some("server sent RECONNECT".into()),
                "NOTICE" if irc.trailing.is_some_and(|t| t.contains("Login")) => {
                    return Err(DanmakuError::AuthRefused {
                        platform: PLATFORM,
                        detail: irc.trailing.unwrap_or("").to_owned(),
                    });
                }
                "PRIVMSG" => {
                    let tag =
                        |k: &str| irc.tags.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
                    let nick = irc.prefix.and_then(|p| p.split('!').next()).unwrap_or("");
                    let (Some(text), Some(id)) = (irc.trailing, tag("user-id").or(Some(nick)))
                    else {
                        out.skipped += 1;
                        continue;
                    };
                    let text = text
                        .strip_prefix("\u{1}ACTION ")
                        .and_then(|t| t.strip_suffix('\u{1}'))
                        .unwrap_or(text);
                    let name = tag("display-name").filter(|n| !n.is_empty()).unwrap_or(nick);
                    let color = tag("color")
                        .and_then(|c| c.strip_prefix('#'))
                        .and_then(|c| u32::from_str_radix(c, 16).ok())
                        .unwrap_or(0xFFFFFF);
                    out.events.push(ChatEvent::Comment(Comment {
                        sender: Sender { id: id.to_owned(), name: name.to_owned() },
                        text: text.to_owned(),
                        mode: 1,
                        size: 25,
                        color: color & 0xFFFFFF,
                        sent_at_ms: tag("tmi-sent-ts").and_then(|t| t.parse().ok()),
                        bits: tag("bits").and_then(|b| b.parse().ok()),
                    }));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
