//! A custom onelive platform adapter for a made-up platform, "StreamHut".
//!
//! StreamHut channels live at `https://streamhut.example/live/<name>`; its
//! JSON API answers `GET https://api.streamhut.example/v1/channels/<name>`
//! with `{"id", "name", "avatar", "live", "title", "category", "started_at",
//! "session_id", "hls"}`, or 404 for an unknown channel.
//!
//! The adapter goes through the shared HTTP client (`ctx.http`), so host
//! overrides, proxy and cookies from the `[platforms]` config apply to it
//! like to the built-ins.

use std::collections::BTreeMap;

use onelive_platform::{
    LiveInfo, LiveStatus, PlatformAdapter, PlatformContext, PlatformError, Result, StreamKind,
    StreamVariant, async_trait,
};
use serde_json::Value;

/// The StreamHut adapter.
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamHut;

/// The platform's name, as it appears in events and `[platforms.streamhut]`.
pub const NAME: &str = "streamhut";
const API: &str = "https://api.streamhut.example/v1/channels";

impl StreamHut {
    async fn channel(&self, ctx: &PlatformContext, channel: &str) -> Result<Value> {
        let response = ctx
            .http
            .get(NAME, &format!("{API}/{channel}"))
            .with_platform_cookies()
            .send()
            .await?
            .check_common()?;
        match response.status {
            200 => response.json("StreamHut channel JSON"),
            404 => Err(PlatformError::not_found(NAME, channel)),
            _ => Err(response.unexpected("HTTP 200 with channel JSON")),
        }
    }
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

#[async_trait]
impl PlatformAdapter for StreamHut {
    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec!["https://streamhut.example/live/<name>".into()]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let rest = url.trim().strip_prefix("https://streamhut.example/live/")?;
        let name = rest.split(['?', '#']).next()?.trim_end_matches('/');
        let valid =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        valid.then(|| name.to_ascii_lowercase())
    }

    fn channel_url(&self, channel: &str) -> String {
        format!("https://streamhut.example/live/{channel}")
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let body = self.channel(ctx, channel).await?;
        let live = body.get("live").and_then(Value::as_bool).unwrap_or(false);
        // `LiveInfo` is `#[non_exhaustive]`: start from the default.
        let mut info = LiveInfo::default();
        info.uid = body.get("id").map(|v| v.to_string()).unwrap_or_default();
        info.uname = text(&body, "name");
        info.avatar = text(&body, "avatar");
        info.title = text(&body, "title");
        info.categories =
            Some(text(&body, "category")).filter(|c| !c.is_empty()).into_iter().collect();
        info.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
        info.live_id = live.then(|| text(&body, "session_id")).filter(|s| !s.is_empty());
        Ok(info)
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let body = self.channel(ctx, channel).await?;
        let hls = text(&body, "hls");
        if body.get("live").and_then(Value::as_bool) != Some(true) || hls.is_empty() {
            return Err(PlatformError::offline(NAME, channel));
        }
        let mut variant = StreamVariant::new(hls, StreamKind::Hls, "source");
        variant.source = true;
        variant.headers =
            BTreeMap::from([("Referer".to_owned(), "https://streamhut.example/".to_owned())]);
        Ok(vec![variant])
    }
}
