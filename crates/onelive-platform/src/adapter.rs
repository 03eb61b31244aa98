//! `adapter`: the [`PlatformAdapter`] trait and the types it speaks.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use onelive_events::LiveInfo;
use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::PlatformsConfig;
use crate::error::{Result, strip_query};
use crate::http::HttpClient;

/// One platform: parses its URLs offline and fetches live info and streams.
///
/// Implement it to add a platform, then register it with
/// [`crate::PlatformRegistry::register`]. All methods get the shared
/// [`PlatformContext`] (HTTP client, clock, randomness), so an adapter holds
/// no connection state of its own and tests can replay fixtures through
/// the host overrides.
///
/// ```
/// use async_trait::async_trait;
/// use onelive_platform::{LiveInfo, PlatformAdapter, PlatformContext, Result, StreamVariant};
///
/// struct Example;
///
/// #[async_trait]
/// impl PlatformAdapter for Example {
///     fn name(&self) -> &str { "example" }
///     fn url_forms(&self) -> Vec<String> { vec!["https://example.tv/<channel>".into()] }
///     fn parse_url(&self, url: &str) -> Option<String> {
///         url.strip_prefix("https://example.tv/").filter(|c| !c.is_empty()).map(str::to_owned)
///     }
///     fn channel_url(&self, channel: &str) -> String { format!("https://example.tv/{channel}") }
///     async fn live_info(&self, _ctx: &PlatformContext, _channel: &str) -> Result<LiveInfo> {
///         Ok(LiveInfo::default())
///     }
///     async fn stream_variants(&self, _ctx: &PlatformContext, _channel: &str) -> Result<Vec<StreamVariant>> {
///         Ok(Vec::new())
///     }
/// }
/// assert_eq!(Example.parse_url("https://example.tv/abc").as_deref(), Some("abc"));
/// ```
#[async_trait]
pub trait PlatformAdapter: Send + Sync + 'static {
    /// The platform's name, lower case (`bilibili`, `twitch`...). It is the
    /// `platform` of every event and the key of `[platforms.<name>]`.
    fn name(&self) -> &str;

    /// The URL forms users paste, for help texts (`https://live.bilibili.com/<room>`).
    fn url_forms(&self) -> Vec<String>;

    /// The channel id in `url`, or `None` when the URL is not this
    /// platform's live page. Never touches the network.
    fn parse_url(&self, url: &str) -> Option<String>;

    /// The canonical page URL of `channel`.
    fn channel_url(&self, channel: &str) -> String;

    /// The channel's current [`LiveInfo`]; `status` tells live or offline.
    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo>;

    /// The playable variants of a live channel, best first.
    /// An offline channel gives [`crate::PlatformError::Offline`].
    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>>;

    /// The shortest interval between two status polls of one channel that
    /// this platform tolerates, or `None` for the engine's default (5 s).
    /// A user's `[watch.min_interval]` entry for the platform overrides it.
    fn min_poll_interval(&self) -> Option<std::time::Duration> {
        None
    }

    /// The canonical id of `channel`: the one id events, file names and
    /// sessions should carry for this channel, whatever URL form was pasted
    /// (Bilibili: the long room id for a short id such as `196`). May ask the
    /// platform; call it once when a channel is added. The default is
    /// `channel` unchanged.
    async fn canonical_channel(&self, ctx: &PlatformContext, channel: &str) -> Result<String> {
        let _ = ctx;
        Ok(channel.to_owned())
    }

    /// Why `url` is refused, when it is on a domain this platform owns but
    /// is not a live channel (a VOD, a clip, a directory page): a precise
    /// message with the URL form to use. The registry then reports it
    /// instead of handing the URL to a fallback (streamlink would claim a
    /// Twitch VOD, which can never go live). `None` (the default) when `url`
    /// is not on this platform's domains, or is a live channel.
    fn not_a_live_url(&self, url: &str) -> Option<String> {
        let _ = url;
        None
    }

    /// True when this platform's stream URLs may be usable only once (a
    /// second request of the same signed URL is refused), so a recorder that
    /// reconnects must call [`stream_variants`](Self::stream_variants) again
    /// for a fresh URL instead of reusing the one it started with. The
    /// default is `false`.
    fn single_use_stream_urls(&self) -> bool {
        false
    }
}

/// A channel on a platform, as resolved from a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The adapter's name.
    pub platform: String,
    /// The channel id on that platform (room id, login, slug, or the URL
    /// itself for `generic` and `streamlink`).
    pub channel: String,
}

/// The protocol of a stream (one type from the adapter to the recorder).
pub use onelive_events::StreamKind;

/// One playable stream of a live channel: what a recorder needs, with no
/// adapter specifics.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamVariant {
    /// The URL to record.
    pub url: String,
    /// HLS or FLV.
    pub kind: StreamKind,
    /// The platform's quality name (`source`, `720p60`, `原画`...).
    pub quality: String,
    /// True for the original (un-transcoded) quality.
    pub source: bool,
    /// Video width in pixels, when known.
    pub width: Option<u32>,
    /// Video height in pixels, when known.
    pub height: Option<u32>,
    /// Bitrate in kbit/s, when known.
    pub bitrate_kbps: Option<u32>,
    /// Video codec (`avc`, `hevc`...), when known.
    pub codec: Option<String>,
    /// CDN or line name, when the platform has several.
    pub cdn: Option<String>,
    /// Headers the recorder must send (e.g. `Referer`, `User-Agent`, `Cookie`).
    pub headers: BTreeMap<String, String>,
}

impl StreamVariant {
    /// A variant with only a URL, kind and quality name.
    pub fn new(url: impl Into<String>, kind: StreamKind, quality: impl Into<String>) -> Self {
        StreamVariant {
            url: url.into(),
            kind,
            quality: quality.into(),
            source: false,
            width: None,
            height: None,
            bitrate_kbps: None,
            codec: None,
            cdn: None,
            headers: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for StreamVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: BTreeMap<&str, &str> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let secret =
                    k.eq_ignore_ascii_case("cookie") || k.eq_ignore_ascii_case("authorization");
                (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        let url = if self.url.contains('?') {
            format!("{}?<redacted>", strip_query(&self.url))
        } else {
            self.url.clone()
        };
        f.debug_struct("StreamVariant")
            .field("url", &url)
            .field("kind", &self.kind)
            .field("quality", &self.quality)
            .field("source", &self.source)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bitrate_kbps", &self.bitrate_kbps)
            .field("codec", &self.codec)
            .field("cdn", &self.cdn)
            .field("headers", &headers)
            .finish()
    }
}

/// Picks a variant by preference: the first preference that matches wins;
/// none matching (or no preference) gives the first variant, which adapters
/// put best first.
///
/// A preference is `best`/`source` (the source variant, else the first),
/// `worst` (the last), a quality name (case-insensitive), or a height such
/// as `720p` (any variant of that height).
///
/// ```
/// use onelive_platform::{select_variant, StreamKind, StreamVariant};
///
/// let mut hi = StreamVariant::new("http://a/hi.m3u8", StreamKind::Hls, "1080p60");
/// hi.height = Some(1080);
/// let mut lo = StreamVariant::new("http://a/lo.m3u8", StreamKind::Hls, "480p");
/// lo.height = Some(480);
/// let all = [hi, lo];
/// assert_eq!(select_variant(&all, &["480p".into()]).unwrap().quality, "480p");
/// assert_eq!(select_variant(&all, &["1080p".into()]).unwrap().quality, "1080p60");
/// assert_eq!(select_variant(&all, &["4k".into(), "worst".into()]).unwrap().quality, "480p");
/// assert_eq!(select_variant(&all, &[]).unwrap().quality, "1080p60");
/// ```
pub fn select_variant<'a>(
    variants: &'a [StreamVariant],
    preference: &[String],
) -> Option<&'a StreamVariant> {
    for wanted in preference {
        let wanted = wanted.trim().to_lowercase();
        let found = match wanted.as_str() {
            "best" | "source" => variants.iter().find(|v| v.source).or_else(|| variants.first()),
            "worst" => variants.last(),
            _ => variants.iter().find(|v| v.quality.to_lowercase() == wanted).or_else(|| {
                let height = wanted.strip_suffix('p')?.parse::<u32>().ok()?;
                variants.iter().find(|v| v.height == Some(height))
            }),
        };
        if found.is_some() {
            return found;
        }
    }
    variants.first()
}

/// The source of "now" for request signing, injectable for tests.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock stopped at one instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// The source of random numbers for request signing, injectable for tests.
pub trait RandomSource: Send + Sync + 'static {
    /// A random 64-bit number.
    fn next_u64(&self) -> u64;
}

/// Randomness from the operating system's generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn next_u64(&self) -> u64 {
        rand::rng().next_u64()
    }
}

/// A deterministic generator from a seed (the same seed gives the same numbers).
#[derive(Debug)]
pub struct SeededRandom(Mutex<rand::rngs::StdRng>);

impl SeededRandom {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRandom(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)))
    }
}

impl RandomSource for SeededRandom {
    fn next_u64(&self) -> u64 {
        match self.0.lock() {
            Ok(mut rng) => rng.next_u64(),
            Err(poisoned) => poisoned.into_inner().next_u64(),
        }
    }
}

/// What every adapter call gets: the shared HTTP client, a clock and a
/// random source (cheap to clone).
#[derive(Clone)]
pub struct PlatformContext {
    /// The shared HTTP client.
    pub http: HttpClient,
    /// The clock used for request signing and derived times.
    pub clock: Arc<dyn Clock>,
    /// The random source used for request signing.
    pub random: Arc<dyn RandomSource>,
}

impl fmt::Debug for PlatformContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformContext").field("http", &self.http).finish_non_exhaustive()
    }
}

impl PlatformContext {
    /// A context for `config` with the system clock and OS randomness.
    pub fn new(config: &PlatformsConfig) -> Result<Self> {
        Ok(PlatformContext {
            http: HttpClient::new(config)?,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
        })
    }

    /// The same context with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same context with another random source.
    pub fn with_random(mut self, random: Arc<dyn RandomSource>) -> Self {
        self.random = random;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &PlatformsConfig {
        self.http.config()
    }

    /// Now, as unix seconds.
    pub(crate) fn unix_now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }
}
