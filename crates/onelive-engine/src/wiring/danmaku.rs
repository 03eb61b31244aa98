//! [`ChatSource`] over onelive-danmaku: a Bilibili, Douyu or Twitch chat
//! client per channel, drained into per-part chat files.

use std::path::Path;
use std::time::Instant;

use async_trait::async_trait;
use onelive_danmaku::{
    BilibiliChat, BilibiliOptions, ChatClient, ChatProtocol, ChatRecorder, ClientOptions,
    DouyuChat, DouyuOptions, LiveSignals, TwitchChat, TwitchOptions, XmlOptions,
};
use onelive_platform::PlatformsConfig;

use crate::EngineError;
use crate::seams::{
    ChannelRef, ChatConnection, ChatFileSummary, ChatOptions, ChatPartInfo, ChatSource, LiveSignal,
};

/// Chat clients of onelive-danmaku. Bilibili's `getDanmuInfo` goes to
/// `api.live.bilibili.com`, or to its `[platforms.host_overrides]` entry
/// (then over plain `ws://` when the override is `http://`); the
/// `[platforms.bilibili] cookies` are sent with it (and their `DedeUserID`
/// and `buvid3` in the auth packet), so that viewers' names are not masked.
#[derive(Debug, Clone, Default)]
pub struct DanmakuChat {
    bilibili: BilibiliOptions,
    douyu: DouyuOptions,
    twitch: TwitchOptions,
    client: ClientOptions,
}

/// The value of cookie `name` in a `Cookie` header.
fn cookie_value<'a>(cookies: &'a str, name: &str) -> Option<&'a str> {
    cookies.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == name).then(|| v.trim()).filter(|v| !v.is_empty())
    })
}

impl DanmakuChat {
    /// With the defaults of each client and the `[platforms]` settings.
    pub fn from_platforms(platforms: &PlatformsConfig) -> Self {
        let mut chat = DanmakuChat::default();
        if let Some(base) = platforms.host_overrides.get("api.live.bilibili.com") {
            chat = chat.with_bilibili_api(base);
        }
        let bilibili = &mut chat.bilibili;
        let site = platforms.site("bilibili");
        if let Some(cookies) = site.cookies.filter(|c| !c.trim().is_empty()) {
            bilibili.uid =
                cookie_value(&cookies, "DedeUserID").and_then(|v| v.parse().ok()).unwrap_or(0);
            bilibili.buvid = cookie_value(&cookies, "buvid3").map(str::to_owned);
            bilibili.cookie = Some(cookies);
        }
        // The browser User-Agent the platform adapters send, unless set.
        bilibili.user_agent = site
            .user_agent
            .or_else(|| platforms.user_agent.clone())
            .unwrap_or_else(|| onelive_platform::DEFAULT_USER_AGENT.to_owned());
        chat
    }

    /// Sends Bilibili's `getDanmuInfo` to `base` instead of
    /// `https://api.live.bilibili.com` (then plain `ws://` when `base` is
    /// `http://`): a mirror, or a loopback chat server such as
    /// onelive-synthetic's.
    pub fn with_bilibili_api(mut self, base: &str) -> Self {
        self.bilibili.api_base = base.trim_end_matches('/').to_owned();
        self.bilibili.tls = !base.starts_with("http://");
        self
    }

    fn spawn<P: ChatProtocol>(
        &self,
        protocol: P,
        options: &ChatOptions,
    ) -> Result<Box<dyn ChatConnection>, EngineError> {
        let (client, events, signals) = ChatClient::spawn(protocol, self.client.clone())?;
        let xml = XmlOptions { jsonl: options.jsonl, ..XmlOptions::default() };
        let recorder = ChatRecorder::spawn(events, xml)?;
        Ok(Box::new(DanmakuConnection { client, recorder, signals, open: false }))
    }
}

fn numeric_id(channel: &ChannelRef) -> Result<u64, EngineError> {
    channel.channel.parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        EngineError::Invalid(format!(
            "{} chat needs the numeric room id, not {:?}",
            channel.platform, channel.channel
        ))
    })
}

impl ChatSource for DanmakuChat {
    fn connect(
        &self,
        channel: &ChannelRef,
        options: &ChatOptions,
    ) -> Result<Option<Box<dyn ChatConnection>>, EngineError> {
        let connection = match channel.platform.as_str() {
            "bilibili" => {
                let chat = BilibiliChat::new(numeric_id(channel)?, self.bilibili.clone())?;
                self.spawn(chat, options)?
            }
            "douyu" => {
                let chat = DouyuChat::new(numeric_id(channel)?, self.douyu.clone())?;
                self.spawn(chat, options)?
            }
            "twitch" => {
                let chat = TwitchChat::new(&channel.channel, self.twitch.clone())?;
                self.spawn(chat, options)?
            }
            _ => return Ok(None),
        };
        Ok(Some(connection))
    }
}

struct DanmakuConnection {
    client: ChatClient,
    recorder: ChatRecorder,
    signals: LiveSignals,
    /// A part's file was opened and not finished yet.
    open: bool,
}

#[async_trait]
impl ChatConnection for DanmakuConnection {
    async fn signal(&mut self) -> Option<LiveSignal> {
        self.signals.recv().await
    }

    fn start_part(
        &mut self,
        path: &Path,
        part_start: Instant,
        info: &ChatPartInfo,
    ) -> Result<(), EngineError> {
        let mut info = info.clone();
        info.platform = info.platform.or(Some(self.client.platform()));
        if let Some(previous) = self.recorder.start_part(path, part_start, &info)? {
            tracing::warn!(path = %previous.path.display(), "chat file closed by the next part");
        }
        self.open = true;
        Ok(())
    }

    fn finish_part(&mut self) -> Result<Option<ChatFileSummary>, EngineError> {
        let was_open = std::mem::take(&mut self.open);
        match self.recorder.finish_part()? {
            Some(summary) => Ok(Some(summary)),
            // The writer failed during the part and closed the file.
            None if was_open => Err(EngineError::Invalid(format!(
                "the chat file failed during the part: {}",
                self.recorder.last_error().unwrap_or_else(|| "unknown error".into())
            ))),
            None => Ok(None),
        }
    }

    async fn stop(self: Box<Self>) {
        let DanmakuConnection { client, recorder, .. } = *self;
        if let Err(e) = recorder.finish_part() {
            tracing::warn!(error = %e, "closing the chat file");
        }
        client.stop().await;
    }
}
