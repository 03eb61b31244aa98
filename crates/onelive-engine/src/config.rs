//! `oneliverec.toml`: the engine's configuration, its validation and its
//! atomic write-back.
//!
//! Every table refuses unknown keys, and every error names the file, the
//! key and the reason (see [`EngineError::Config`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use onelive_events::EventType;
use onelive_platform::PlatformsConfig;
use serde::{Deserialize, Serialize};

use crate::{EngineError, HumanDuration, Secret};

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Where and how recordings are written.
    #[serde(default)]
    pub output: OutputConfig,
    /// When to cut a recording into parts.
    #[serde(default)]
    pub split: SplitConfig,
    /// Remuxing of finished recordings to `.mp4`/`.mkv`.
    #[serde(default)]
    pub transmux: TransmuxConfig,
    /// `[recording]`: which recording engine runs.
    #[serde(default)]
    pub recording: RecordingSection,
    /// Polling, debounce and concurrency.
    #[serde(default)]
    pub watch: WatchConfig,
    /// Free-space guard.
    #[serde(default)]
    pub disk: DiskConfig,
    /// The HTTP API.
    #[serde(default)]
    pub api: ApiConfig,
    /// Where the engine keeps its state (webhook outbox, transmux queue).
    #[serde(default)]
    pub state: StateConfig,
    /// `[platforms]`: onelive-platform's settings: global user agent,
    /// proxy, timeouts, quality and host overrides, then one
    /// `[platforms.NAME]` table per platform (cookies, proxy, quality).
    #[serde(default)]
    pub platforms: PlatformsConfig,
    /// `[danmaku]`: live chat capture beside the recordings.
    #[serde(default)]
    pub danmaku: DanmakuConfig,
    /// The channels to watch.
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    /// Webhook endpoints that receive events.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
}

/// `[output]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Folder that receives recordings (relative paths are relative to the
    /// current directory). Default `rec`.
    #[serde(default = "default_output_folder")]
    pub folder: PathBuf,
    /// File name template, in the recorder's template language
    /// ([`onelive_recorder::FilenameTemplate`]; see `docs/recording.md`):
    /// `{platform}`, `{channel}`, `{uname}`, `{title}`,
    /// `{start_time:%Y-%m-%d_%H-%M-%S}` (session start, in `time_zone`), `{part}` /
    /// `{part:03}`, `{ext}` (appended when absent), plus the engine's
    /// `{name}`, `{session}` and the aliases `{date}`, `{time}` (see
    /// [`crate::template`]). `_part{part}` is added when `{part}` is
    /// absent. `/` makes sub-folders.
    #[serde(default = "default_template")]
    pub filename_template: String,
    /// Container of the raw recording: `auto` (default: `.ts` for HLS,
    /// `.flv` for HTTP-FLV), `ts` or `flv`.
    #[serde(default = "default_container")]
    pub container: String,
    /// The time zone of `{start_time}`, `{date}` and `{time}` in file
    /// names: `local` (default: the machine's zone, from `TZ` or
    /// `/etc/localtime`, UTC when neither names one), `UTC`, or an IANA
    /// name such as `Asia/Shanghai` (daylight saving time included).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

impl OutputConfig {
    /// The container `container` names (validated at load); `None` for
    /// `auto`, the natural container of the stream kind.
    pub fn container_choice(&self) -> Option<onelive_recorder::Container> {
        match self.container.as_str() {
            "ts" => Some(onelive_recorder::Container::Ts),
            "flv" => Some(onelive_recorder::Container::Flv),
            _ => None,
        }
    }

    /// The zone `time_zone` names (see [`crate::template::time_zone`]).
    pub fn zone(&self) -> Result<jiff::tz::TimeZone, String> {
        crate::template::time_zone(&self.time_zone)
    }
}

/// `[recording]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingSection {
    /// `native` (default: in-process HTTP-FLV/HLS with FLV repair and
    /// gapless splits, falling back to ffmpeg for streams it cannot handle)
    /// or `ffmpeg` (one `ffmpeg -c copy` per part). See `docs/recording.md`.
    #[serde(default)]
    pub engine: onelive_recorder::Engine,
}

/// `[split]`: cut a recording into a new part on these limits (0 = never).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Maximum duration of one part, e.g. `"1h"`.
    #[serde(default)]
    pub max_duration: Option<HumanDuration>,
    /// Maximum size of one part in MiB.
    #[serde(default)]
    pub max_size_mb: Option<u64>,
}

/// `[transmux]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransmuxConfig {
    /// Remux every finished recording. Default `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Target container: `mp4` (default) or `mkv`.
    #[serde(default = "default_transmux_format")]
    pub format: String,
    /// Delete the `.ts`/`.flv` after a verified transmux. Default `false`.
    #[serde(default)]
    pub delete_source: bool,
    /// Transmux jobs run at once. Default 1.
    #[serde(default = "one")]
    pub concurrency: usize,
}

/// `[watch]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// Time between two polls of one channel. Default `30s`.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: HumanDuration,
    /// Random spread added to each interval, as a fraction (0.0..=1.0). Default 0.1.
    #[serde(default = "default_jitter")]
    pub jitter: f64,
    /// How long a channel must stay offline before `live_end`. Default `2m`.
    #[serde(default = "default_debounce")]
    pub debounce: HumanDuration,
    /// Polls in flight at once, across all channels. Default 32.
    #[serde(default = "default_max_polls")]
    pub max_concurrent_polls: usize,
    /// Recordings at once, across all channels. Default 16.
    #[serde(default = "default_max_recordings")]
    pub max_concurrent_recordings: usize,
    /// Longest back-off after errors or rate limits. Default `10m`.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: HumanDuration,
    /// Consecutive poll failures before an `error` event. Default 3.
    #[serde(default = "default_error_threshold")]
    pub error_after_failures: u32,
    /// Stop and restart a recording that wrote nothing for this long. Default `30s`.
    #[serde(default = "default_stall")]
    pub stall_timeout: HumanDuration,
    /// Per-platform minimum poll interval, e.g. `{ bilibili = "10s" }`; it
    /// replaces the built-in minimum (5s for every platform but `generic`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_interval: BTreeMap<String, HumanDuration>,
}

/// `[disk]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskConfig {
    /// Refuse to start recordings (and stop running ones) when the output
    /// folder's file system has less free space than this, in MiB. Default 1024; 0 disables.
    #[serde(default = "default_min_free")]
    pub min_free_mb: u64,
}

/// `[api]`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Serve the HTTP API. Default `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Address to bind. Default `127.0.0.1:8686`. Any non-loopback address needs `token`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Bearer token; required when `listen` is not a loopback address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// Host names the API answers to besides IP addresses and `localhost`
    /// (DNS-rebinding guard; `["*"]` answers to any). Cross-origin state
    /// changes are accepted only from the API's own origin and these hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// Reverse proxies in front of the API (addresses or networks such as
    /// `"10.0.0.0/8"`). Their connections are exempt from
    /// `max_connections_per_ip`, and on their requests the browser guard
    /// takes the host from `X-Forwarded-Host`. Loopback is always exempt
    /// from the per-address limit. Default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
    /// Connections served at once; when all are taken, a new one closes
    /// the connection idle longest (never one inside a request). Default
    /// 1024.
    #[serde(default = "default_api_max_connections")]
    pub max_connections: usize,
    /// Connections from one client address at once (loopback and
    /// `trusted_proxies` exempt); beyond that, a new one is closed at once.
    /// Default 64.
    #[serde(default = "default_api_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// Time for a whole request head to arrive; also the longest a
    /// kept-alive connection may wait for its next request. Default `10s`.
    #[serde(default = "default_api_header_timeout")]
    pub header_timeout: HumanDuration,
    /// Time for a whole request body to arrive once its head is in (`408`
    /// beyond). Default `30s`.
    #[serde(default = "default_api_body_timeout")]
    pub body_timeout: HumanDuration,
    /// The largest request body in bytes (`413` beyond). Default 1 MiB.
    #[serde(default = "default_api_max_body_bytes")]
    pub max_body_bytes: usize,
}

fn default_api_max_connections() -> usize {
    1024
}
fn default_api_max_connections_per_ip() -> usize {
    64
}
fn default_api_header_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn default_api_body_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_api_max_body_bytes() -> usize {
    1024 * 1024
}

impl ApiConfig {
    /// The accept loop's limits from this section: loopback and
    /// `trusted_proxies` exempt from the per-address limit. `Err` names the
    /// `trusted_proxies` entry that is neither an address nor a network.
    pub(crate) fn listen_limits(&self) -> Result<onelive_listen::Limits, String> {
        let mut exempt = vec![
            ipnet::IpNet::from(ipnet::Ipv4Net::new_assert(
                std::net::Ipv4Addr::new(127, 0, 0, 0),
                8,
            )),
            ipnet::IpNet::from(std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)),
        ];
        exempt.extend(self.trusted_proxy_networks()?);
        Ok(onelive_listen::Limits {
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            header_timeout: self.header_timeout.0,
            exempt,
            ..onelive_listen::Limits::default()
        })
    }

    /// `trusted_proxies` as networks (a bare address is one host); `Err`
    /// names the entry that is neither an address nor a network.
    pub(crate) fn trusted_proxy_networks(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let e = entry.trim();
                e.parse::<ipnet::IpNet>()
                    .or_else(|_| e.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!(
                            "{entry:?} is neither an IP address nor a network \
                             (such as \"10.0.0.1\" or \"10.0.0.0/8\")"
                        )
                    })
            })
            .collect()
    }
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("token", &self.token)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// `[state]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// Folder for `outbox.sqlite` and the transmux queue. Default: `.onelive`
    /// next to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

/// `[[channels]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// The channel's page URL (or a direct `.m3u8`/`.flv` URL for the generic adapter).
    pub url: String,
    /// A display name used in file names (`{name}`); default: the channel id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Watch this channel. Default `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Record when live (false = notify only). Default `true`.
    #[serde(default = "yes")]
    pub record: bool,
    /// Per-channel quality preference (overrides the platform's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<String>,
    /// Per-channel poll interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<HumanDuration>,
    /// Per-channel debounce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debounce: Option<HumanDuration>,
    /// Per-channel file name template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename_template: Option<String>,
    /// Capture this channel's live chat (overrides `[danmaku] enabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub danmaku: Option<bool>,
}

impl ChannelConfig {
    /// A channel with defaults for everything but the URL.
    pub fn new(url: impl Into<String>) -> Self {
        ChannelConfig {
            url: url.into(),
            name: None,
            enabled: true,
            record: true,
            quality: Vec::new(),
            poll_interval: None,
            debounce: None,
            filename_template: None,
            danmaku: None,
        }
    }
}

/// `[danmaku]`: live chat ("danmaku") capture, for the platforms with a chat
/// client (Bilibili, Douyu, Twitch; see `docs/danmaku.md`). For every
/// recorded part a chat file is written beside the video, same name, `.xml`
/// (the XML BililiveRecorder writes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DanmakuConfig {
    /// Capture the chat of every watched channel of a supported platform
    /// (one chat connection per channel, open while it is watched); a
    /// channel's `danmaku` key overrides it. Default `false`.
    #[serde(default)]
    pub enabled: bool,
    /// Also write `<base>.jsonl` beside the XML, one JSON object per chat
    /// event. Default `false`.
    #[serde(default)]
    pub jsonl: bool,
    /// Poll a channel at once when its chat says it went live or offline
    /// (the poll stays the source of truth). Default `true`.
    #[serde(default = "yes")]
    pub push_detection: bool,
}

impl Default for DanmakuConfig {
    fn default() -> Self {
        DanmakuConfig { enabled: false, jsonl: false, push_detection: true }
    }
}

impl DanmakuConfig {
    /// Whether `channel`'s chat is captured: its own `danmaku` key, else
    /// `enabled`.
    pub fn enabled_for(&self, channel: &ChannelConfig) -> bool {
        channel.danmaku.unwrap_or(self.enabled)
    }
}

/// `[[webhooks]]`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// A stable id (generated when added through the API; default: `wh<N>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Where to POST (`http` or `https`).
    pub url: String,
    /// Event types to send; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventType>,
    /// Standard Webhooks signing secret (`whsec_...`, or `{ env = "NAME" }`);
    /// unsigned when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// More signing secrets, for rotation: each request carries one
    /// signature per secret (`secret` first), so a receiver that knows any
    /// one of them accepts it. Needs `secret`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Extra headers (values redacted in logs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    /// Deliver to this endpoint. Default `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("id", &self.id)
            .field("url", &redact_query(&self.url))
            .field("events", &self.events)
            .field("secret", &self.secret)
            .field("secrets", &self.secrets)
            .field("headers", &self.headers)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// A URL with its query string (which may hold a key) hidden.
pub fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?<redacted>"),
        None => url.to_owned(),
    }
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
fn default_output_folder() -> PathBuf {
    PathBuf::from("rec")
}
fn default_template() -> String {
    crate::template::DEFAULT_TEMPLATE.into()
}
fn default_container() -> String {
    "auto".into()
}
fn default_time_zone() -> String {
    "local".into()
}
fn default_transmux_format() -> String {
    "mp4".into()
}
fn default_poll_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_jitter() -> f64 {
    0.1
}
fn default_debounce() -> HumanDuration {
    HumanDuration(Duration::from_secs(120))
}
fn default_max_polls() -> usize {
    32
}
fn default_max_recordings() -> usize {
    16
}
fn default_max_backoff() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
fn default_error_threshold() -> u32 {
    3
}
fn default_stall() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_min_free() -> u64 {
    1024
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8686))
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            folder: default_output_folder(),
            filename_template: default_template(),
            container: default_container(),
            time_zone: default_time_zone(),
        }
    }
}
impl Default for TransmuxConfig {
    fn default() -> Self {
        TransmuxConfig {
            enabled: true,
            format: default_transmux_format(),
            delete_source: false,
            concurrency: 1,
        }
    }
}
impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            poll_interval: default_poll_interval(),
            jitter: default_jitter(),
            debounce: default_debounce(),
            max_concurrent_polls: default_max_polls(),
            max_concurrent_recordings: default_max_recordings(),
            max_backoff: default_max_backoff(),
            error_after_failures: default_error_threshold(),
            stall_timeout: default_stall(),
            min_interval: BTreeMap::new(),
        }
    }
}
impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig { min_free_mb: default_min_free() }
    }
}
impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            enabled: true,
            listen: default_listen(),
            token: None,
            allowed_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            max_connections: default_api_max_connections(),
            max_connections_per_ip: default_api_max_connections_per_ip(),
            header_timeout: default_api_header_timeout(),
            body_timeout: default_api_body_timeout(),
            max_body_bytes: default_api_max_body_bytes(),
        }
    }
}

impl EngineConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, EngineError> {
        let text = std::fs::read_to_string(path).map_err(|e| EngineError::ConfigRead {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `path` is used in error messages.
    ///
    /// ```
    /// use onelive_engine::EngineConfig;
    /// let err = EngineConfig::parse("[watch]\npoll_intervall = \"5s\"\n", "a.toml".as_ref())
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("watch.poll_intervall"), "{err}");
    /// ```
    pub fn parse(text: &str, path: &Path) -> Result<Self, EngineError> {
        let resolved = resolve_cookie_env(text, path)?;
        let config: EngineConfig = {
            let _env = crate::secret::EnvAllowed::new();
            parse_toml(resolved.as_deref().unwrap_or(text), path)?
        };
        config.validate(path)?;
        Ok(config)
    }

    /// Checks values that the types alone do not.
    pub fn validate(&self, path: &Path) -> Result<(), EngineError> {
        let err = |key: &str, reason: String| EngineError::Config {
            path: path.to_path_buf(),
            key: key.to_owned(),
            reason,
        };
        if self.output.folder.as_os_str().is_empty() {
            return Err(err("output.folder", "must not be empty".into()));
        }
        crate::template::check(&self.output.filename_template)
            .map_err(|r| err("output.filename_template", r))?;
        if !matches!(self.output.container.as_str(), "auto" | "ts" | "flv") {
            return Err(err(
                "output.container",
                format!("unsupported container {:?} (use auto, ts or flv)", self.output.container),
            ));
        }
        self.output.zone().map_err(|r| err("output.time_zone", r))?;
        if self.split.max_duration.is_some_and(|d| d.0 < Duration::from_secs(1)) {
            return Err(err("split.max_duration", "must be at least 1s".into()));
        }
        if !matches!(self.transmux.format.as_str(), "mp4" | "mkv") {
            return Err(err(
                "transmux.format",
                format!("unsupported format {:?} (use mp4 or mkv)", self.transmux.format),
            ));
        }
        if self.transmux.concurrency == 0 {
            return Err(err("transmux.concurrency", "must be at least 1".into()));
        }
        let w = &self.watch;
        if w.poll_interval.0 < Duration::from_millis(200) {
            return Err(err(
                "watch.poll_interval",
                format!("{} is too short (minimum 200ms)", w.poll_interval),
            ));
        }
        if !(0.0..=1.0).contains(&w.jitter) {
            return Err(err("watch.jitter", format!("{} is not between 0.0 and 1.0", w.jitter)));
        }
        if w.max_concurrent_polls == 0 {
            return Err(err("watch.max_concurrent_polls", "must be at least 1".into()));
        }
        if w.max_concurrent_recordings == 0 {
            return Err(err("watch.max_concurrent_recordings", "must be at least 1".into()));
        }
        if w.stall_timeout.0 < Duration::from_secs(1) {
            return Err(err("watch.stall_timeout", "must be at least 1s".into()));
        }
        if let Some(t) = &self.api.token
            && !t.is_empty()
            && t.expose().trim().is_empty()
        {
            return Err(err(
                "api.token",
                "is only whitespace: set a real token or remove the key".into(),
            ));
        }
        if self.api.enabled
            && !self.api.listen.ip().is_loopback()
            && self.api.token.as_ref().is_none_or(|t| t.is_empty())
        {
            return Err(err(
                "api.token",
                format!(
                    "a bearer token is required when the API listens on the non-loopback address {}",
                    self.api.listen
                ),
            ));
        }
        self.validate_api().map_err(|(key, reason)| err(&format!("api.{key}"), reason))?;
        let p = &self.platforms;
        if let Some(proxy) = &p.proxy {
            check_url(proxy, &["http", "https", "socks5", "socks5h"])
                .map_err(|r| err("platforms.proxy", r))?;
        }
        for (host, target) in &p.host_overrides {
            check_url(target, &["http", "https"])
                .map_err(|r| err(&format!("platforms.host_overrides.{host}"), r))?;
        }
        for (name, site) in &p.sites {
            if let Some(proxy) = &site.proxy {
                check_url(proxy, &["http", "https", "socks5", "socks5h"])
                    .map_err(|r| err(&format!("platforms.{name}.proxy"), r))?;
            }
        }
        if p.timeout_secs == 0 {
            return Err(err("platforms.timeout_secs", "must be at least 1".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.channels.iter().enumerate() {
            let key = format!("channels[{i}]");
            check_url(&c.url, &["http", "https"]).map_err(|r| err(&format!("{key}.url"), r))?;
            if !seen.insert(c.url.trim_end_matches('/').to_owned()) {
                return Err(err(&format!("{key}.url"), format!("duplicate channel {}", c.url)));
            }
            if let Some(t) = &c.filename_template {
                crate::template::check(t)
                    .map_err(|r| err(&format!("{key}.filename_template"), r))?;
            }
            if let Some(p) = c.poll_interval
                && p.0 < Duration::from_millis(200)
            {
                return Err(err(
                    &format!("{key}.poll_interval"),
                    format!("{p} is too short (minimum 200ms)"),
                ));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, wh) in self.webhooks.iter().enumerate() {
            let key = format!("webhooks[{i}]");
            check_url(&wh.url, &["http", "https"]).map_err(|r| err(&format!("{key}.url"), r))?;
            if let Some(id) = &wh.id
                && !ids.insert(id.clone())
            {
                return Err(err(&format!("{key}.id"), format!("duplicate webhook id {id:?}")));
            }
            if !wh.secrets.is_empty() && wh.secret.as_ref().is_none_or(|s| s.is_empty()) {
                return Err(err(
                    &format!("{key}.secrets"),
                    "more signing secrets need `secret` (the current one) as well".into(),
                ));
            }
            for name in wh.headers.keys() {
                if name.is_empty()
                    || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(err(
                        &format!("{key}.headers"),
                        format!("invalid header name {name:?}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The `[api]` checks: the key (inside `[api]`) and the reason.
    fn validate_api(&self) -> Result<(), (&'static str, String)> {
        let a = &self.api;
        if !(1..=1_000_000).contains(&a.max_connections) {
            return Err((
                "max_connections",
                format!("{} is not between 1 and 1000000", a.max_connections),
            ));
        }
        if a.max_connections_per_ip == 0 {
            return Err(("max_connections_per_ip", "must be at least 1".into()));
        }
        for (key, d) in [("header_timeout", a.header_timeout), ("body_timeout", a.body_timeout)] {
            if d.0 < Duration::from_millis(100) {
                return Err((key, format!("{d} is too short (minimum 100ms)")));
            }
        }
        if a.max_body_bytes < 1024 {
            return Err((
                "max_body_bytes",
                format!("{} is too small (minimum 1024)", a.max_body_bytes),
            ));
        }
        a.listen_limits().map_err(|r| ("trusted_proxies", r))?;
        for h in &a.allowed_hosts {
            let t = h.trim();
            if t == "*" {
                continue;
            }
            if t.is_empty()
                || t.contains(['/', ':', '@', ' ']) && t.parse::<std::net::IpAddr>().is_err()
            {
                return Err((
                    "allowed_hosts",
                    format!(
                        "{h:?} is not a host name: give the bare name, such as \"rec.example.com\" \
                         (no scheme, port or path)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The TOML text of this config (secrets included: it is the file).
    pub fn to_toml(&self) -> Result<String, EngineError> {
        toml::to_string_pretty(self)
            .map_err(|e| EngineError::Invalid(format!("cannot serialize config: {e}")))
    }

    /// Writes the config to `path` atomically (temporary file + rename).
    ///
    /// An existing file is edited, not rewritten: only the values that
    /// differ from what the file says change, so its comments, order and
    /// layout stay (a `[[channels]]` or `[[webhooks]]` entry the change
    /// does not touch stays byte for byte), and secrets written as
    /// `{ env = "NAME" }` stay so. The file keeps its mode and owner; a new
    /// file is private (0600). A file that no longer parses is replaced.
    pub fn write_atomic(&self, path: &Path) -> Result<(), EngineError> {
        let werr = |e: std::io::Error| EngineError::ConfigWrite {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(old) => match self.edit_of(&old, path) {
                Ok(text) => text,
                Err(reason) => {
                    tracing::warn!(path = %path.display(), %reason, "the config file no longer parses; writing it anew");
                    format!("{WRITTEN_HEADER}{}", self.to_toml()?)
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                format!("{WRITTEN_HEADER}{}", self.to_toml()?)
            }
            Err(e) => return Err(werr(e)),
        };
        write_file_atomic(path, text.as_bytes()).map_err(werr)
    }

    /// `old` (the file's text) edited to say what `self` says.
    fn edit_of(&self, old: &str, path: &Path) -> Result<String, String> {
        let before = Self::parse(old, path).map_err(|e| e.to_string())?;
        let mut doc: toml_edit::DocumentMut = old.parse().map_err(|e| format!("{e}"))?;
        let mut was = toml::Table::try_from(&before).map_err(|e| e.to_string())?;
        let mut now = toml::Table::try_from(self).map_err(|e| e.to_string())?;
        // New entries are written as a user would: in the fields' order,
        // without the keys that only restate a default.
        let channels = fresh_entries(&self.channels, |c| ChannelConfig::new(c.url.clone()))?;
        let webhooks = fresh_entries(&self.webhooks, |w| WebhookConfig {
            id: None,
            url: w.url.clone(),
            events: Vec::new(),
            secret: None,
            secrets: Vec::new(),
            headers: BTreeMap::new(),
            enabled: true,
        })?;
        for (key, fresh) in [("channels", channels), ("webhooks", webhooks)] {
            let (before, after) = (was.remove(key), now.remove(key));
            if before != after {
                edit_entries(doc.as_table_mut(), key, before, after, &fresh)?;
            }
        }
        edit_table(doc.as_table_mut(), &was, &now)?;
        Ok(doc.to_string())
    }

    /// The folder for the engine's state files.
    pub fn state_dir(&self, config_path: Option<&Path>) -> PathBuf {
        if let Some(dir) = &self.state.dir {
            return dir.clone();
        }
        match config_path.and_then(|p| p.parent()).filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => parent.join(".onelive"),
            None => PathBuf::from(".onelive"),
        }
    }
}

/// The first line of a config file oneliverec writes from scratch.
const WRITTEN_HEADER: &str =
    "# Written by oneliverec (changes made through the HTTP API are saved here).\n";

/// Replaces `path` with `bytes` atomically (temporary file, fsync, rename).
/// The file holds secrets: a new one is private (0600); a replaced one
/// keeps the mode and owner the user gave it.
fn write_file_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let previous = std::fs::metadata(path).ok();
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        if let Some(meta) = &previous {
            f.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
            // Only root may give a file away; for anyone else the owner is
            // already theirs, so a refusal changes nothing.
            let _ = std::os::unix::fs::fchown(&f, Some(meta.uid()), Some(meta.gid()));
        }
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        // A file bind-mounted on its own (Docker) cannot be replaced by a
        // rename: write it in place instead.
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!(path = %path.display(), error = %e, "atomic rename failed; writing the config in place");
        std::fs::write(path, bytes)?;
    }
    Ok(())
}

/// Edits `file` (a table of the document) from what it said (`was`, the
/// serialized config read from it) to `now`: keys whose value did not
/// change are left alone (present, absent or differently written).
fn edit_table(
    file: &mut toml_edit::Table,
    was: &toml::Table,
    now: &toml::Table,
) -> Result<(), String> {
    for (key, value) in now {
        let before = was.get(key);
        if before == Some(value) {
            continue;
        }
        match (file.get_mut(key), before, value) {
            (
                Some(toml_edit::Item::Table(t)),
                Some(toml::Value::Table(b)),
                toml::Value::Table(n),
            ) => edit_table(t, b, n)?,
            (Some(toml_edit::Item::Value(v)), _, _) if !value.is_table() => {
                let decor = v.decor().clone();
                *v = value_item(value)?.into_value().map_err(|_| "not a value".to_owned())?;
                *v.decor_mut() = decor;
            }
            _ => {
                file.insert(key, value_item(value)?);
            }
        }
    }
    let gone: Vec<String> = was.keys().filter(|k| !now.contains_key(*k)).cloned().collect();
    for key in gone {
        file.remove(&key);
    }
    Ok(())
}

/// Each entry as a table of its own: its fields in their order, without
/// those equal to `bare(entry)`'s (the entry with only its identity).
fn fresh_entries<T: Serialize>(
    entries: &[T],
    bare: impl Fn(&T) -> T,
) -> Result<Vec<toml_edit::Table>, String> {
    entries
        .iter()
        .map(|entry| {
            let text = toml::to_string(entry).map_err(|e| e.to_string())?;
            let doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
            let mut table = doc.as_table().clone();
            let value = toml::Table::try_from(entry).map_err(|e| e.to_string())?;
            let default = toml::Table::try_from(bare(entry)).map_err(|e| e.to_string())?;
            for (key, v) in &value {
                if key != "url" && default.get(key) == Some(v) {
                    table.remove(key);
                }
            }
            let mut item = toml_edit::Item::Table(table);
            forget_positions(&mut item);
            match item {
                toml_edit::Item::Table(t) => Ok(t),
                _ => Err("an entry is not a table".into()),
            }
        })
        .collect()
}

/// The `key` array of tables of `root`, from `was` to `now` (`fresh`: the
/// new entries as written anew, by index of `now`).
fn edit_entries(
    root: &mut toml_edit::Table,
    key: &str,
    was: Option<toml::Value>,
    now: Option<toml::Value>,
    fresh: &[toml_edit::Table],
) -> Result<(), String> {
    let list = |v: Option<toml::Value>| match v {
        Some(toml::Value::Array(a)) => a,
        _ => Vec::new(),
    };
    let (was, now) = (list(was), list(now));
    if now.is_empty() {
        root.remove(key);
        return Ok(());
    }
    match root.get_mut(key) {
        Some(toml_edit::Item::ArrayOfTables(a)) if a.len() == was.len() => {
            edit_array_of_tables(a, &was, &now, fresh)
        }
        _ => {
            // Absent, or written inline (`channels = [...]`): written anew.
            let mut tables = toml_edit::ArrayOfTables::new();
            for t in fresh {
                tables.push(t.clone());
            }
            root.insert(key, toml_edit::Item::ArrayOfTables(tables));
            Ok(())
        }
    }
}

/// `[[channels]]` / `[[webhooks]]`: an entry that did not change stays as
/// written; a changed one is found by its `id` or `url` and edited key by
/// key; a new one is appended, written as `fresh` has it.
fn edit_array_of_tables(
    file: &mut toml_edit::ArrayOfTables,
    was: &[toml::Value],
    now: &[toml::Value],
    fresh: &[toml_edit::Table],
) -> Result<(), String> {
    // The same entry: the same `id` where both have one, else the same `url`.
    let same_entry = |a: &toml::Value, b: &toml::Value| {
        let (Some(a), Some(b)) = (a.as_table(), b.as_table()) else { return false };
        match (a.get("id"), b.get("id")) {
            (Some(x), Some(y)) => x == y,
            _ => a.get("url").is_some() && a.get("url") == b.get("url"),
        }
    };
    let mut used = vec![false; was.len()];
    let mut next = toml_edit::ArrayOfTables::new();
    for (i, entry) in now.iter().enumerate() {
        let same = (0..was.len()).find(|&j| !used[j] && was[j] == *entry);
        let similar = || (0..was.len()).find(|&j| !used[j] && same_entry(&was[j], entry));
        match same.or_else(similar) {
            Some(j) => {
                used[j] = true;
                let mut table = file.get(j).cloned().ok_or("entry out of range")?;
                if was[j] != *entry {
                    let (Some(b), Some(n)) = (was[j].as_table(), entry.as_table()) else {
                        return Err("an entry is not a table".into());
                    };
                    edit_table(&mut table, b, n)?;
                }
                next.push(table);
            }
            None => next.push(fresh.get(i).cloned().ok_or("entry out of range")?),
        }
    }
    *file = next;
    Ok(())
}

/// A value as toml_edit writes it anew: tables as `[table]` sections,
/// arrays of tables as `[[array]]`, placed where they are inserted.
fn value_item(value: &toml::Value) -> Result<toml_edit::Item, String> {
    let mut wrapper = toml::Table::new();
    wrapper.insert("v".into(), value.clone());
    let text = toml::to_string(&wrapper).map_err(|e| e.to_string())?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let mut item = doc.remove("v").ok_or("value lost")?;
    forget_positions(&mut item);
    Ok(item)
}

/// Positions of tables from another document would move them; without
/// one, a table is written after the one before it.
fn forget_positions(item: &mut toml_edit::Item) {
    match item {
        toml_edit::Item::Table(t) => {
            t.set_position(None);
            for (_, child) in t.iter_mut() {
                forget_positions(child);
            }
        }
        toml_edit::Item::ArrayOfTables(a) => {
            for t in a.iter_mut() {
                t.set_position(None);
                for (_, child) in t.iter_mut() {
                    forget_positions(child);
                }
            }
        }
        _ => {}
    }
}

/// `[platforms.NAME] cookies = { env = "VAR" }`: the text with each such
/// value replaced by the variable's value (on the same line, so errors
/// keep their line numbers); `None` when there is none. onelive-platform
/// reads plain strings; the engine reads the variables.
fn resolve_cookie_env(text: &str, path: &Path) -> Result<Option<String>, EngineError> {
    let Ok(mut doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Ok(None); // the TOML parser reports the syntax error
    };
    let Some(platforms) = doc.get_mut("platforms").and_then(|p| p.as_table_like_mut()) else {
        return Ok(None);
    };
    let mut changed = false;
    for (site, item) in platforms.iter_mut() {
        let Some(site_table) = item.as_table_like_mut() else { continue };
        let Some(cookies) = site_table.get_mut("cookies") else { continue };
        let Some(env) = cookies.as_table_like().and_then(|t| t.get("env")) else { continue };
        let key = format!("platforms.{site}.cookies");
        let line = locate_key(text, &key).map(|(_, line)| line);
        let fail = |reason: String| EngineError::Config {
            path: path.to_path_buf(),
            key: key.clone(),
            reason: match line {
                Some(l) => format!("{reason} (line {l})"),
                None => reason,
            },
        };
        let name = env
            .as_str()
            .ok_or_else(|| fail("expected a string or { env = \"VARIABLE\" }".into()))?;
        let secret = Secret::from_env(name).map_err(fail)?;
        let decor = cookies.as_value().map(|v| v.decor().clone());
        let mut value = toml_edit::Value::from(secret.expose());
        if let Some(decor) = decor {
            *value.decor_mut() = decor;
        }
        *cookies = toml_edit::Item::Value(value);
        changed = true;
    }
    Ok(changed.then(|| doc.to_string()))
}

fn check_url(s: &str, schemes: &[&str]) -> Result<(), String> {
    let u = url::Url::parse(s).map_err(|e| format!("not a valid URL ({e}): {s:?}"))?;
    if !schemes.contains(&u.scheme()) {
        return Err(format!("unsupported scheme {:?} (use {})", u.scheme(), schemes.join(", ")));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL has no host: {s:?}"));
    }
    Ok(())
}

fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, EngineError> {
    let de = toml::Deserializer::parse(text).map_err(|e| syntax_error(e, text, path))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.message().to_owned();
        let mut line = inner.span().map(|s| line_of(text, s.start));
        let mut key = if key == "." { String::new() } else { key };
        // serde reports unknown and missing keys at the parent path.
        let mut reason = message.clone();
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or(rest);
            if key.rsplit('.').next() != Some(name) {
                key = join_key(&key, name);
            }
            // Inside a flattened table (`[platforms.NAME]`) serde loses the
            // table's name and the span: find the key in the text.
            if let Some((written, at)) = locate_key(text, &key) {
                key = written;
                line = Some(at);
            }
            let expected = rest.split_once(", expected ").map(|(_, e)| e).unwrap_or("");
            reason = if expected.is_empty() {
                "unknown key".into()
            } else {
                format!("unknown key (expected {expected})")
            };
        } else if let Some(rest) = message.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or(rest);
            key = join_key(&key, name);
            reason = "required key is missing".into();
        }
        if key.is_empty() {
            key = "(top level)".into();
        }
        if let Some(line) = line {
            reason = format!("{reason} (line {line})");
        }
        EngineError::Config { path: path.to_path_buf(), key, reason }
    })
}

/// Where the dotted `key` is written: the key with its full table name and
/// its line. A key of a table's sub-table (`platforms.cookie` written in
/// `[platforms.bilibili]`) is found there. Keys inside arrays of tables and
/// inline tables are not located.
fn locate_key(text: &str, key: &str) -> Option<(String, usize)> {
    let (prefix, leaf) = key.rsplit_once('.').unwrap_or(("", key));
    if key.contains('[') {
        return None;
    }
    let mut table = Some(String::new());
    let mut nested = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with("[[") {
            table = None;
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            table = Some(header.chars().filter(|c| !c.is_whitespace() && *c != '"').collect());
            continue;
        }
        let Some(current) = &table else { continue };
        let Some((name, _)) = line.split_once('=') else { continue };
        if name.trim().trim_matches('"') != leaf {
            continue;
        }
        if current == prefix {
            return Some((key.to_owned(), i + 1));
        }
        let under = prefix.is_empty() || current.starts_with(&format!("{prefix}."));
        if under && nested.is_none() {
            nested = Some((join_key(current, leaf), i + 1));
        }
    }
    nested
}

fn join_key(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_owned() } else { format!("{parent}.{name}") }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map(|t| t.matches('\n').count() + 1).unwrap_or(1)
}

fn syntax_error(e: toml::de::Error, text: &str, path: &Path) -> EngineError {
    let mut reason = format!("TOML syntax error: {}", e.message().trim());
    if let Some(span) = e.span() {
        reason = format!("{reason} (line {})", line_of(text, span.start));
    }
    EngineError::Config { path: path.to_path_buf(), key: "(syntax)".into(), reason }
}

/// The webhooks with an id each: `whN` (N from 1, in order) for those
/// configured without one.
pub(crate) fn numbered_webhooks(webhooks: &[WebhookConfig]) -> Vec<WebhookConfig> {
    webhooks
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut w = w.clone();
            if w.id.is_none() {
                w.id = Some(format!("wh{}", i + 1));
            }
            w
        })
        .collect()
}
