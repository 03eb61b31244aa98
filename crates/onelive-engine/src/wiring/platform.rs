//! [`LiveSource`] over onelive-platform's adapters.

use std::time::Duration;

use async_trait::async_trait;
use onelive_events::LiveStatus;
use onelive_platform::{ErrorKind, Platforms, PlatformsConfig, select_variant};

use crate::seams::{ChannelRef, LiveSource, PollResult, StreamChoice};
use crate::{EngineError, Secret};

/// The default minimum poll interval of a platform whose adapter names none.
const DEFAULT_MIN_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The platform adapters (Bilibili, Twitch, ..., generic) with the
/// `[platforms]` settings.
pub struct PlatformSource {
    platforms: Platforms,
    config: PlatformsConfig,
}

impl std::fmt::Debug for PlatformSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSource").field("config", &self.config).finish_non_exhaustive()
    }
}

impl PlatformSource {
    /// Builds the adapters and their HTTP client.
    pub fn new(config: &PlatformsConfig) -> Result<Self, EngineError> {
        let platforms = Platforms::from_config(config)?;
        Ok(PlatformSource { platforms, config: config.clone() })
    }

    /// Wraps an existing [`Platforms`] (e.g. with custom adapters registered).
    pub fn from_platforms(platforms: Platforms, config: PlatformsConfig) -> Self {
        PlatformSource { platforms, config }
    }
}

#[async_trait]
impl LiveSource for PlatformSource {
    fn resolve(&self, url: &str) -> Result<ChannelRef, EngineError> {
        Ok(self.platforms.resolve(url)?)
    }

    fn min_poll_interval(&self, platform: &str) -> Duration {
        self.platforms
            .registry()
            .adapter(platform)
            .and_then(|a| a.min_poll_interval())
            .unwrap_or(DEFAULT_MIN_POLL_INTERVAL)
    }

    async fn canonical(&self, channel: ChannelRef) -> ChannelRef {
        match self.platforms.canonical_channel(&channel).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    platform = %channel.platform, channel = %channel.channel, error = %e,
                    "cannot ask the platform for the channel's canonical id; keeping it as pasted"
                );
                channel
            }
        }
    }

    fn single_use_stream_urls(&self, platform: &str) -> bool {
        self.platforms.registry().adapter(platform).is_some_and(|a| a.single_use_stream_urls())
    }

    async fn poll(&self, channel: &ChannelRef) -> PollResult {
        match self.platforms.live_info(channel).await {
            Ok(info) if info.status == LiveStatus::Live => PollResult::Live(info),
            Ok(info) => PollResult::Offline(info),
            Err(e) => match e.kind() {
                ErrorKind::RateLimited => PollResult::RateLimited(e.retry_after()),
                // (A direct stream URL whose server does not answer is
                // already reported offline by the generic adapter.)
                ErrorKind::Offline => PollResult::Offline(Default::default()),
                _ => PollResult::Failed(e.to_string()),
            },
        }
    }

    async fn stream(
        &self,
        channel: &ChannelRef,
        quality: &[String],
    ) -> Result<StreamChoice, EngineError> {
        let variants = self.platforms.stream_variants(channel).await?;
        let preference = if quality.is_empty() {
            self.config.quality_for(&channel.platform)
        } else {
            quality.to_vec()
        };
        let chosen = select_variant(&variants, &preference).ok_or_else(|| {
            EngineError::NotFound(format!("{}: no stream variant offered", channel.platform))
        })?;
        Ok(StreamChoice {
            url: chosen.url.clone(),
            quality: chosen.quality.clone(),
            kind: chosen.kind,
            headers: chosen
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Secret::new(v.clone())))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_errors_keep_their_type_and_kind() {
        let config = PlatformsConfig { streamlink: false, ..PlatformsConfig::default() };
        let source = PlatformSource::new(&config).unwrap();
        match source.resolve("https://example.com/not-a-live-room") {
            Err(EngineError::Platform(e)) => assert_eq!(e.kind(), ErrorKind::UnsupportedUrl),
            other => panic!("expected a typed platform error, got {other:?}"),
        }
        let resolved = source.resolve(" https://live.bilibili.com/1 ").unwrap();
        assert_eq!((resolved.platform.as_str(), resolved.channel.as_str()), ("bilibili", "1"));
    }

    #[test]
    fn the_minimum_poll_interval_comes_from_the_adapter() {
        let config = PlatformsConfig { streamlink: false, ..PlatformsConfig::default() };
        let source = PlatformSource::new(&config).unwrap();
        assert_eq!(source.min_poll_interval("generic"), Duration::ZERO);
        assert_eq!(source.min_poll_interval("bilibili"), DEFAULT_MIN_POLL_INTERVAL);
        assert_eq!(source.min_poll_interval("no-such-platform"), DEFAULT_MIN_POLL_INTERVAL);
    }

    #[test]
    fn only_huya_asks_for_a_fresh_stream_url_on_reconnect() {
        let config = PlatformsConfig { streamlink: false, ..PlatformsConfig::default() };
        let source = PlatformSource::new(&config).unwrap();
        assert!(source.single_use_stream_urls("huya"));
        for other in ["bilibili", "douyu", "twitch", "generic", "no-such-platform"] {
            assert!(!source.single_use_stream_urls(other), "{other}");
        }
    }
}
