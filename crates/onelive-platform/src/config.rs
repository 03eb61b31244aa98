//! `config`: the `[platforms]` section of `oneliverec.toml`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The default browser User-Agent sent to every platform.
pub const DEFAULT_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

/// Settings of the shared HTTP client and of each platform: the
/// `[platforms]` section of `oneliverec.toml`.
///
/// Keys of the section itself are global; a sub-table named after a platform
/// (`[platforms.bilibili]`) holds that platform's [`SiteConfig`].
///
/// ```
/// use onelive_platform::PlatformsConfig;
///
/// let config: PlatformsConfig = toml::from_str(r#"
///     user_agent = "my-recorder/1.0"
///     proxy = "http://127.0.0.1:3128"
///     timeout_secs = 20
///     quality = ["source", "1080p"]
///
///     [host_overrides]
///     "api.live.bilibili.com" = "http://127.0.0.1:9000/api.live.bilibili.com"
///
///     [bilibili]
///     cookies = "SESSDATA=secret"
///     quality = ["原画"]
/// "#).unwrap();
/// assert_eq!(config.site("bilibili").cookies.as_deref(), Some("SESSDATA=secret"));
/// assert_eq!(config.quality_for("bilibili"), ["原画"]);
/// assert_eq!(config.quality_for("twitch"), ["source", "1080p"]);
/// // Debug never shows secrets.
/// assert!(!format!("{config:?}").contains("secret"));
/// ```
///
/// The fallbacks are switched either with a key (`streamlink = false`) or
/// in their table, which also takes their proxy and user agent:
///
/// ```
/// use onelive_platform::PlatformsConfig;
///
/// let config: PlatformsConfig = toml::from_str(r#"
///     [streamlink]
///     enabled = false
///
///     [ytdlp]
///     proxy = "http://127.0.0.1:3128"
/// "#).unwrap();
/// assert!(!config.streamlink);
/// assert!(config.ytdlp);
/// assert_eq!(config.site("ytdlp").proxy.as_deref(), Some("http://127.0.0.1:3128"));
/// let config: PlatformsConfig = toml::from_str("ytdlp = false").unwrap();
/// assert!(!config.ytdlp && config.streamlink);
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPlatformsConfig", into = "RawPlatformsConfig")]
pub struct PlatformsConfig {
    /// User-Agent for every platform ([`DEFAULT_USER_AGENT`] when unset).
    pub user_agent: Option<String>,
    /// Proxy for every platform (`http://`, `https://` URL), unless a
    /// platform sets its own.
    pub proxy: Option<String>,
    /// Whole-request timeout in seconds (default 15).
    pub timeout_secs: u64,
    /// Connect timeout in seconds (default 10).
    pub connect_timeout_secs: u64,
    /// Host to base URL: a request to `https://HOST/path?q` goes to
    /// `BASE/path?q` instead. Used to point a platform at a mirror, a
    /// local test server or a reverse proxy.
    pub host_overrides: BTreeMap<String, String>,
    /// Quality preference for every platform, first match wins (`source`,
    /// `best`, `worst`, a quality name such as `720p60` or `原画`, or a
    /// height such as `1080p`). Empty means best.
    pub quality: Vec<String>,
    /// The `streamlink` executable used by the streamlink fallback
    /// (default `streamlink` on `PATH`).
    pub streamlink_path: Option<String>,
    /// Whether the streamlink fallback is enabled (default true; it only
    /// works when streamlink is installed). In TOML: `streamlink = false`,
    /// or `enabled = false` in `[platforms.streamlink]`.
    pub streamlink: bool,
    /// The `yt-dlp` executable used by the yt-dlp fallback (default
    /// `yt-dlp` on `PATH`).
    pub ytdlp_path: Option<String>,
    /// Whether the yt-dlp fallback is enabled (default true; it only works
    /// when yt-dlp is installed). In TOML: `ytdlp = false`, or
    /// `enabled = false` in `[platforms.ytdlp]`.
    pub ytdlp: bool,
    /// Per-platform settings, keyed by platform name.
    pub sites: BTreeMap<String, SiteConfig>,
}

/// The TOML form of [`PlatformsConfig`]: `streamlink` and `ytdlp` may be a
/// bool or a table.
#[derive(Serialize, Deserialize)]
#[serde(default)]
struct RawPlatformsConfig {
    user_agent: Option<String>,
    proxy: Option<String>,
    timeout_secs: u64,
    connect_timeout_secs: u64,
    host_overrides: BTreeMap<String, String>,
    quality: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    streamlink_path: Option<String>,
    streamlink: Toggle,
    #[serde(skip_serializing_if = "Option::is_none")]
    ytdlp_path: Option<String>,
    ytdlp: Toggle,
    #[serde(flatten)]
    sites: BTreeMap<String, SiteConfig>,
}

/// `streamlink = false` or `[platforms.streamlink]`.
#[derive(Serialize)]
#[serde(untagged)]
enum Toggle {
    Enabled(bool),
    Site(SiteConfig),
}

impl Default for Toggle {
    fn default() -> Self {
        Toggle::Enabled(true)
    }
}

impl<'de> Deserialize<'de> for Toggle {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Toggle;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, or a table with enabled, proxy or user_agent")
            }
            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Toggle, E> {
                Ok(Toggle::Enabled(value))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Toggle, A::Error> {
                SiteConfig::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Toggle::Site)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The fallbacks that can be switched off.
const TOGGLED: [&str; 2] = ["streamlink", "ytdlp"];

impl TryFrom<RawPlatformsConfig> for PlatformsConfig {
    type Error = String;

    fn try_from(raw: RawPlatformsConfig) -> Result<Self, String> {
        if let Some((name, _)) = raw.sites.iter().find(|(_, site)| site.enabled.is_some()) {
            return Err(format!(
                "[platforms.{name}] enabled: only the streamlink and ytdlp fallbacks can be \
                 switched off (remove the channel to stop watching it)"
            ));
        }
        let mut sites = raw.sites;
        let mut toggle = |name: &str, toggle: Toggle| match toggle {
            Toggle::Enabled(on) => on,
            Toggle::Site(site) => {
                let on = site.enabled.unwrap_or(true);
                sites.insert(name.to_owned(), SiteConfig { enabled: None, ..site });
                on
            }
        };
        let streamlink = toggle(TOGGLED[0], raw.streamlink);
        let ytdlp = toggle(TOGGLED[1], raw.ytdlp);
        Ok(PlatformsConfig {
            user_agent: raw.user_agent,
            proxy: raw.proxy,
            timeout_secs: raw.timeout_secs,
            connect_timeout_secs: raw.connect_timeout_secs,
            host_overrides: raw.host_overrides,
            quality: raw.quality,
            streamlink_path: raw.streamlink_path,
            streamlink,
            ytdlp_path: raw.ytdlp_path,
            ytdlp,
            sites,
        })
    }
}

impl From<PlatformsConfig> for RawPlatformsConfig {
    fn from(config: PlatformsConfig) -> Self {
        let mut sites = config.sites;
        let mut toggle = |name: &str, on: bool| match sites.remove(name) {
            Some(site) => Toggle::Site(SiteConfig { enabled: Some(on), ..site }),
            None => Toggle::Enabled(on),
        };
        let streamlink = toggle(TOGGLED[0], config.streamlink);
        let ytdlp = toggle(TOGGLED[1], config.ytdlp);
        RawPlatformsConfig {
            user_agent: config.user_agent,
            proxy: config.proxy,
            timeout_secs: config.timeout_secs,
            connect_timeout_secs: config.connect_timeout_secs,
            host_overrides: config.host_overrides,
            quality: config.quality,
            streamlink_path: config.streamlink_path,
            streamlink,
            ytdlp_path: config.ytdlp_path,
            ytdlp,
            sites,
        }
    }
}

impl Default for RawPlatformsConfig {
    fn default() -> Self {
        PlatformsConfig::default().into()
    }
}

impl Default for PlatformsConfig {
    fn default() -> Self {
        PlatformsConfig {
            user_agent: None,
            proxy: None,
            timeout_secs: 15,
            connect_timeout_secs: 10,
            host_overrides: BTreeMap::new(),
            quality: Vec::new(),
            streamlink_path: None,
            streamlink: true,
            ytdlp_path: None,
            ytdlp: true,
            sites: BTreeMap::new(),
        }
    }
}

/// Settings of one platform (`[platforms.<name>]`).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    default,
    deny_unknown_fields,
    expecting = "a [platforms.<name>] table with cookies, proxy, user_agent, quality or enabled \
                 (is this a misspelled global setting such as user_agent, proxy or timeout_secs?)"
)]
pub struct SiteConfig {
    /// The `Cookie` header value sent to this platform's API
    /// (e.g. `SESSDATA=...` for Bilibili, `auth-token=...` for Twitch).
    pub cookies: Option<String>,
    /// Proxy for this platform only.
    pub proxy: Option<String>,
    /// User-Agent for this platform only.
    pub user_agent: Option<String>,
    /// Quality preference for this platform only.
    pub quality: Vec<String>,
    /// Whether the adapter is used (default true). Only the `streamlink`
    /// and `ytdlp` fallbacks can be switched off; it is folded into
    /// [`PlatformsConfig::streamlink`] / [`PlatformsConfig::ytdlp`] when
    /// the configuration is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl PlatformsConfig {
    /// The settings of `platform` (defaults when it has none).
    pub fn site(&self, platform: &str) -> SiteConfig {
        self.sites.get(platform).cloned().unwrap_or_default()
    }

    /// The quality preference for `platform`: its own, else the global one.
    pub fn quality_for(&self, platform: &str) -> Vec<String> {
        match self.sites.get(platform) {
            Some(site) if !site.quality.is_empty() => site.quality.clone(),
            _ => self.quality.clone(),
        }
    }

    /// The User-Agent for `platform`.
    pub fn user_agent_for(&self, platform: &str) -> String {
        self.sites
            .get(platform)
            .and_then(|s| s.user_agent.clone())
            .or_else(|| self.user_agent.clone())
            .unwrap_or_else(|| DEFAULT_USER_AGENT.to_owned())
    }
}

/// `Some("<redacted>")` or `None`, for Debug output.
fn redacted(value: &Option<String>) -> Option<&'static str> {
    value.as_ref().map(|_| "<redacted>")
}

/// A proxy URL with its user info hidden.
pub(crate) fn redact_proxy(proxy: &str) -> String {
    match url::Url::parse(proxy) {
        Ok(mut url) => {
            if !url.username().is_empty() || url.password().is_some() {
                let _ = url.set_username("redacted");
                let _ = url.set_password(None);
            }
            url.to_string()
        }
        Err(_) => "<unparsable proxy URL>".to_owned(),
    }
}

impl fmt::Debug for PlatformsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformsConfig")
            .field("user_agent", &self.user_agent)
            .field("proxy", &self.proxy.as_deref().map(redact_proxy))
            .field("timeout_secs", &self.timeout_secs)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("host_overrides", &self.host_overrides)
            .field("quality", &self.quality)
            .field("streamlink_path", &self.streamlink_path)
            .field("streamlink", &self.streamlink)
            .field("ytdlp_path", &self.ytdlp_path)
            .field("ytdlp", &self.ytdlp)
            .field("sites", &self.sites)
            .finish()
    }
}

impl fmt::Debug for SiteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteConfig")
            .field("cookies", &redacted(&self.cookies))
            .field("proxy", &self.proxy.as_deref().map(redact_proxy))
            .field("user_agent", &self.user_agent)
            .field("quality", &self.quality)
            .field("enabled", &self.enabled)
            .finish()
    }
}
