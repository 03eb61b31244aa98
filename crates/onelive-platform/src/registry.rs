//! `registry`: built-in and custom adapters, URL resolution, and the
//! [`Platforms`] facade an engine embeds.

use std::fmt;
use std::sync::Arc;

use onelive_events::LiveInfo;

use crate::adapter::{ChannelRef, PlatformAdapter, PlatformContext, StreamVariant};
use crate::adapters;
use crate::config::PlatformsConfig;
use crate::error::{PlatformError, Result};

/// The adapters, in resolution order: adapters registered by the embedding
/// program first (so one can replace a built-in), then the built-ins, then
/// the fallbacks (`generic`, then `streamlink`, then `ytdlp`).
#[derive(Clone, Default)]
pub struct PlatformRegistry {
    custom: Vec<Arc<dyn PlatformAdapter>>,
    builtin: Vec<Arc<dyn PlatformAdapter>>,
    fallback: Vec<Arc<dyn PlatformAdapter>>,
}

impl fmt::Debug for PlatformRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.adapters().iter().map(|a| a.name().to_owned())).finish()
    }
}

impl PlatformRegistry {
    /// An empty registry (no adapters at all).
    pub fn empty() -> Self {
        PlatformRegistry::default()
    }

    /// The built-in adapters (Bilibili, Twitch, Huya, Douyu, SOOP, Kick,
    /// Douyin, TikTok), then `generic`, then `streamlink` when
    /// `config.streamlink` is true, then `ytdlp` when `config.ytdlp` is true.
    pub fn builtin(config: &PlatformsConfig) -> Self {
        let builtin: Vec<Arc<dyn PlatformAdapter>> = vec![
            Arc::new(adapters::bilibili::Bilibili::new()),
            Arc::new(adapters::twitch::Twitch),
            Arc::new(adapters::huya::Huya),
            Arc::new(adapters::douyu::Douyu::new()),
            Arc::new(adapters::soop::Soop),
            Arc::new(adapters::kick::Kick),
            Arc::new(adapters::douyin::Douyin::new()),
            Arc::new(adapters::tiktok::TikTok),
        ];
        let mut fallback: Vec<Arc<dyn PlatformAdapter>> =
            vec![Arc::new(adapters::generic::Generic)];
        if config.streamlink {
            let program = config.streamlink_path.clone().unwrap_or_else(|| "streamlink".to_owned());
            fallback.push(Arc::new(adapters::streamlink::Streamlink::new(program)));
        }
        if config.ytdlp {
            let program = config.ytdlp_path.clone().unwrap_or_else(|| "yt-dlp".to_owned());
            fallback.push(Arc::new(adapters::ytdlp::YtDlp::new(program)));
        }
        PlatformRegistry { custom: Vec::new(), builtin, fallback }
    }

    /// Adds an adapter of the embedding program. It is consulted before the
    /// built-ins; an adapter with the name of an existing one replaces it
    /// for [`PlatformRegistry::adapter`].
    pub fn register(&mut self, adapter: Arc<dyn PlatformAdapter>) {
        self.custom.retain(|a| a.name() != adapter.name());
        self.custom.push(adapter);
    }

    /// Every adapter in resolution order.
    pub fn adapters(&self) -> Vec<Arc<dyn PlatformAdapter>> {
        let mut seen = std::collections::HashSet::new();
        self.custom
            .iter()
            .chain(&self.builtin)
            .chain(&self.fallback)
            .filter(|a| seen.insert(a.name().to_owned()))
            .cloned()
            .collect()
    }

    /// The adapter named `name`.
    pub fn adapter(&self, name: &str) -> Option<Arc<dyn PlatformAdapter>> {
        self.custom
            .iter()
            .chain(&self.builtin)
            .chain(&self.fallback)
            .find(|a| a.name() == name)
            .cloned()
    }

    /// The `[platforms.<name>]` sections of `config` that name no adapter of
    /// this registry (likely typos), sorted. Call it after registering
    /// custom adapters, and warn about the result.
    pub fn unknown_sites(&self, config: &PlatformsConfig) -> Vec<String> {
        config.sites.keys().filter(|name| self.adapter(name).is_none()).cloned().collect()
    }

    /// The first adapter that claims `url`, and the channel in it. Offline.
    ///
    /// ```
    /// use onelive_platform::{PlatformRegistry, PlatformsConfig};
    ///
    /// let registry = PlatformRegistry::builtin(&PlatformsConfig::default());
    /// let channel = registry.resolve("https://live.bilibili.com/21452505?spm=x").unwrap();
    /// assert_eq!((channel.platform.as_str(), channel.channel.as_str()), ("bilibili", "21452505"));
    /// let channel = registry.resolve("https://cdn.example.com/live/index.m3u8").unwrap();
    /// assert_eq!(channel.platform, "generic");
    /// ```
    pub fn resolve(&self, url: &str) -> Result<ChannelRef> {
        let url = url.trim();
        let adapters = self.adapters();
        let is_fallback =
            |a: &Arc<dyn PlatformAdapter>| self.fallback.iter().any(|f| Arc::ptr_eq(f, a));
        let (fallbacks, natives): (Vec<_>, Vec<_>) = adapters.iter().partition(|a| is_fallback(a));
        for adapter in &natives {
            if let Some(channel) = adapter.parse_url(url) {
                return Ok(ChannelRef { platform: adapter.name().to_owned(), channel });
            }
        }
        // A direct stream URL (`generic`) is never a page to refuse, even on
        // a platform's CDN host (`tx.flv.huya.com`).
        for adapter in fallbacks.iter().filter(|a| a.name() == "generic") {
            if let Some(channel) = adapter.parse_url(url) {
                return Ok(ChannelRef { platform: adapter.name().to_owned(), channel });
            }
        }
        // A URL on a native adapter's domain that it refuses is not handed
        // to a fallback (streamlink would accept a Twitch VOD as a channel).
        for adapter in &natives {
            if let Some(reason) = adapter.not_a_live_url(url) {
                return Err(PlatformError::UnsupportedUrl(format!(
                    "{}: {} is {reason}",
                    adapter.name(),
                    crate::error::strip_query(url)
                )));
            }
        }
        for adapter in &fallbacks {
            if let Some(channel) = adapter.parse_url(url) {
                return Ok(ChannelRef { platform: adapter.name().to_owned(), channel });
            }
        }
        let names: Vec<String> = self.adapters().iter().map(|a| a.name().to_owned()).collect();
        Err(PlatformError::UnsupportedUrl(format!(
            "no adapter claims {}: it is not a live-room URL of any of [{}] (VOD, clip and user \
             pages are not live rooms), not a direct .m3u8/.flv URL, and streamlink {}",
            crate::error::strip_query(url),
            names.join(", "),
            if self.fallback.iter().any(|a| a.name() == "streamlink") {
                "is not installed or has no plugin for it"
            } else {
                "is disabled"
            }
        )))
    }

    fn adapter_for(&self, channel: &ChannelRef) -> Result<Arc<dyn PlatformAdapter>> {
        self.adapter(&channel.platform).ok_or_else(|| {
            PlatformError::UnsupportedUrl(format!("no adapter named {}", channel.platform))
        })
    }

    /// The live info of `channel`, from its adapter.
    pub async fn live_info(&self, ctx: &PlatformContext, channel: &ChannelRef) -> Result<LiveInfo> {
        self.adapter_for(channel)?.live_info(ctx, &channel.channel).await
    }

    /// The stream variants of `channel`, from its adapter, best first.
    pub async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &ChannelRef,
    ) -> Result<Vec<StreamVariant>> {
        self.adapter_for(channel)?.stream_variants(ctx, &channel.channel).await
    }

    /// `channel` with its canonical id (see
    /// [`PlatformAdapter::canonical_channel`]).
    pub async fn canonical_channel(
        &self,
        ctx: &PlatformContext,
        channel: &ChannelRef,
    ) -> Result<ChannelRef> {
        let id = self.adapter_for(channel)?.canonical_channel(ctx, &channel.channel).await?;
        Ok(ChannelRef { platform: channel.platform.clone(), channel: id })
    }
}

/// A registry and a context together: what an engine embeds.
///
/// ```no_run
/// # async fn run() -> onelive_platform::Result<()> {
/// use onelive_platform::{Platforms, PlatformsConfig, select_variant};
///
/// let platforms = Platforms::from_config(&PlatformsConfig::default())?;
/// let channel = platforms.resolve("https://www.twitch.tv/somechannel")?;
/// let info = platforms.live_info(&channel).await?;
/// if info.is_live() {
///     let variants = platforms.stream_variants(&channel).await?;
///     let preference = platforms.context().config().quality_for(&channel.platform);
///     let chosen = select_variant(&variants, &preference);
///     println!("{:?}", chosen.map(|v| &v.url));
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Platforms {
    registry: PlatformRegistry,
    context: PlatformContext,
}

impl Platforms {
    /// The built-in registry and a real context for `config`.
    pub fn from_config(config: &PlatformsConfig) -> Result<Self> {
        Ok(Platforms {
            registry: PlatformRegistry::builtin(config),
            context: PlatformContext::new(config)?,
        })
    }

    /// From parts (e.g. a context with a fixed clock for tests).
    pub fn from_parts(registry: PlatformRegistry, context: PlatformContext) -> Self {
        Platforms { registry, context }
    }

    /// Adds a custom adapter (see [`PlatformRegistry::register`]).
    pub fn register(&mut self, adapter: Arc<dyn PlatformAdapter>) {
        self.registry.register(adapter);
    }

    /// The registry.
    pub fn registry(&self) -> &PlatformRegistry {
        &self.registry
    }

    /// The context.
    pub fn context(&self) -> &PlatformContext {
        &self.context
    }

    /// See [`PlatformRegistry::resolve`].
    pub fn resolve(&self, url: &str) -> Result<ChannelRef> {
        self.registry.resolve(url)
    }

    /// See [`PlatformRegistry::live_info`].
    pub async fn live_info(&self, channel: &ChannelRef) -> Result<LiveInfo> {
        self.registry.live_info(&self.context, channel).await
    }

    /// See [`PlatformRegistry::stream_variants`].
    pub async fn stream_variants(&self, channel: &ChannelRef) -> Result<Vec<StreamVariant>> {
        self.registry.stream_variants(&self.context, channel).await
    }

    /// See [`PlatformRegistry::canonical_channel`]: call it once when a
    /// channel is added, and key events, file names and sessions by the
    /// answer.
    pub async fn canonical_channel(&self, channel: &ChannelRef) -> Result<ChannelRef> {
        self.registry.canonical_channel(&self.context, channel).await
    }

    /// The canonical page URL of `channel` (for `live_start` events).
    pub fn channel_url(&self, channel: &ChannelRef) -> Option<String> {
        self.registry.adapter(&channel.platform).map(|a| a.channel_url(&channel.channel))
    }
}
