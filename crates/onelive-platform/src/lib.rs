//! Live-streaming platform adapters behind one async trait.
//!
//! A [`PlatformAdapter`] parses a platform's URLs offline, fetches a
//! channel's [`LiveInfo`] and lists its playable [`StreamVariant`]s (URL,
//! HLS or FLV, quality, and the headers a recorder must send). Built in:
//! Bilibili, Twitch, Huya, Douyu, SOOP (AfreecaTV), Kick, Douyin, TikTok,
//! `generic` (a direct `.m3u8`/`.flv` URL), and the `streamlink` and
//! `ytdlp` fallbacks (when their CLI is installed). Programs register
//! their own adapters in the [`PlatformRegistry`].
//!
//! Every adapter talks through one shared [`HttpClient`] configured by
//! [`PlatformsConfig`] (the `[platforms]` section of `oneliverec.toml`):
//! timeouts, per-platform cookies, proxy and user agent, and host overrides
//! that point any platform host at another base URL (a mirror, or a local
//! test server).
//!
//! Errors are typed ([`PlatformError`], [`ErrorKind`]) so that a monitor can
//! back off on rate limits, stop on "not found", and ask for a cookie on
//! "login required". They never carry cookies, tokens or query strings.
//!
//! # Resolve a URL offline
//!
//! ```
//! use onelive_platform::{PlatformRegistry, PlatformsConfig};
//!
//! let config = PlatformsConfig { streamlink: false, ..PlatformsConfig::default() };
//! let registry = PlatformRegistry::builtin(&config);
//! let channel = registry.resolve("https://www.twitch.tv/SomeStreamer/").unwrap();
//! assert_eq!(channel.platform, "twitch");
//! assert_eq!(channel.channel, "somestreamer");
//! // A VOD of a known platform is refused with what to use instead.
//! let error = registry.resolve("https://www.twitch.tv/videos/123456").unwrap_err();
//! assert!(error.to_string().contains("a Twitch VOD, not a live channel"));
//! ```
//!
//! # Ask a platform (through a host override)
//!
//! ```no_run
//! # async fn run() -> onelive_platform::Result<()> {
//! use onelive_platform::{Platforms, PlatformsConfig};
//!
//! let mut config = PlatformsConfig::default();
//! config.host_overrides.insert(
//!     "api.live.bilibili.com".into(),
//!     "http://127.0.0.1:9000/api.live.bilibili.com".into(),
//! );
//! let platforms = Platforms::from_config(&config)?;
//! let channel = platforms.resolve("https://live.bilibili.com/21452505")?;
//! let info = platforms.live_info(&channel).await?;
//! println!("{} is {}", info.uname, info.status);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod adapter;
pub mod adapters;
mod config;
mod error;
pub mod hls;
mod http;
mod json;
mod registry;
pub mod url_match;

pub use adapter::{
    ChannelRef, Clock, FixedClock, OsRandom, PlatformAdapter, PlatformContext, RandomSource,
    SeededRandom, StreamKind, StreamVariant, SystemClock, select_variant,
};
pub use config::{DEFAULT_USER_AGENT, PlatformsConfig, SiteConfig};
pub use error::{ErrorKind, PlatformError, Result};
pub use http::{HttpClient, HttpRequest, HttpResponse};
pub use registry::{PlatformRegistry, Platforms};

/// Re-exported for adapter authors.
pub use async_trait::async_trait;
/// Re-exported so that adapter authors need not name `onelive-events`.
pub use onelive_events::{LiveInfo, LiveStatus};
