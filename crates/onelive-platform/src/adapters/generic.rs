//! `generic`: a direct `.m3u8` or `.flv` URL is a channel that is live
//! when the URL answers with a playlist (or FLV bytes), and offline when it
//! answers 404/410 or does not answer at all (connection refused, timeout).
//!
//! A media playlist with `#EXT-X-ENDLIST` is a finished stream (VOD, or a
//! live stream that has ended): offline. A master playlist is decided by
//! its first variant's media playlist (one more request per poll).

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};

use crate::adapter::{PlatformAdapter, PlatformContext, StreamKind, StreamVariant};
use crate::error::{PlatformError, Result};
use crate::hls;
use crate::url_match::{host, http_url};

const NAME: &str = "generic";

/// The generic adapter for direct stream URLs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Generic;

fn kind_of(url: &str) -> Option<StreamKind> {
    let parsed = http_url(url)?;
    let path = parsed.path().to_ascii_lowercase();
    if path.ends_with(".m3u8") {
        Some(StreamKind::Hls)
    } else if path.ends_with(".flv") {
        Some(StreamKind::Flv)
    } else {
        None
    }
}

/// Probe result: `None` when the channel is offline (the URL does not
/// answer, or its HLS stream is finished), else the body read (a playlist,
/// or the first FLV bytes).
async fn probe(ctx: &PlatformContext, url: &str, kind: StreamKind) -> Result<Option<String>> {
    let Some(body) = fetch(ctx, url, kind).await? else { return Ok(None) };
    if kind == StreamKind::Hls {
        if hls::has_endlist(&body) {
            return Ok(None);
        }
        // A master playlist: its first variant says whether the stream runs.
        if let Some(first) = hls::parse_master(&body, url).first() {
            match fetch(ctx, &first.uri, StreamKind::Hls).await? {
                Some(media) if !hls::has_endlist(&media) => {}
                _ => return Ok(None),
            }
        }
    }
    Ok(Some(body))
}

/// One GET: `None` when the URL does not answer, else the body read (a
/// playlist, or the first FLV bytes).
async fn fetch(ctx: &PlatformContext, url: &str, kind: StreamKind) -> Result<Option<String>> {
    let limit = match kind {
        StreamKind::Hls => 1024 * 1024,
        StreamKind::Flv => 16,
    };
    let response = match ctx.http.get(NAME, url).max_body_bytes(limit).send().await {
        Ok(response) => response.check_common()?,
        // A direct URL that does not answer is an offline channel.
        Err(PlatformError::Network { .. }) => return Ok(None),
        Err(other) => return Err(other),
    };
    match response.status {
        200..=299 => {}
        404 | 410 => return Ok(None),
        401 | 403 => {
            return Err(PlatformError::blocked(NAME, format!("HTTP {}", response.status)));
        }
        _ => return Err(response.unexpected("HTTP 200 with a stream")),
    }
    match kind {
        StreamKind::Hls => {
            let text = response.text();
            if hls::is_playlist(&text) {
                Ok(Some(text))
            } else {
                Err(response.unexpected("an HLS playlist starting with #EXTM3U"))
            }
        }
        StreamKind::Flv => {
            if response.body.starts_with(b"FLV") {
                Ok(Some(String::new()))
            } else {
                Err(response.unexpected("FLV bytes starting with \"FLV\""))
            }
        }
    }
}

#[async_trait]
impl PlatformAdapter for Generic {
    // A direct stream URL is our own server or a CDN: no platform API to spare.
    fn min_poll_interval(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::ZERO)
    }

    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec!["http(s)://<any host>/<path>.m3u8".into(), "http(s)://<any host>/<path>.flv".into()]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        if !url.trim().contains("://") {
            return None;
        }
        kind_of(url).map(|_| url.trim().to_owned())
    }

    fn channel_url(&self, channel: &str) -> String {
        channel.to_owned()
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let kind = kind_of(channel).ok_or_else(|| {
            PlatformError::UnsupportedUrl(format!("not a .m3u8/.flv URL: {channel}"))
        })?;
        let live = probe(ctx, channel, kind).await?.is_some();
        let parsed = http_url(channel);
        let title = parsed
            .as_ref()
            .and_then(|u| u.path_segments()?.next_back().map(str::to_owned))
            .unwrap_or_default();
        Ok({
            let mut built = LiveInfo::default();
            built.uid = String::new();
            built.uname = parsed.as_ref().map(host).unwrap_or_default();
            built.title = title;
            built.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let kind = kind_of(channel).ok_or_else(|| {
            PlatformError::UnsupportedUrl(format!("not a .m3u8/.flv URL: {channel}"))
        })?;
        let Some(body) = probe(ctx, channel, kind).await? else {
            return Err(PlatformError::offline(NAME, channel));
        };
        let entries = if kind == StreamKind::Hls {
            hls::parse_master(&body, &ctx.http.rewrite_url(channel))
        } else {
            Vec::new()
        };
        if entries.is_empty() {
            let mut v = StreamVariant::new(ctx.http.rewrite_url(channel), kind, "source");
            v.source = true;
            return Ok(vec![v]);
        }
        Ok(hls::ranked_variants(entries, &Default::default()))
    }
}
