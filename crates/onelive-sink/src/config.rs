//! The TOML configuration: server, authentication, store, paths and rules.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use onelive_events::EventType;
use onelive_webhook::verify::WebhookSecret;
use serde::Deserialize;

use crate::template;
use crate::{Error, Result};

/// Default Pixeldrain API base.
pub const DEFAULT_PIXELDRAIN_API: &str = "https://pixeldrain.com/api";

/// The health route, `GET /healthz` (unauthenticated).
pub const HEALTH_PATH: &str = "/healthz";

/// A string that never shows in `Debug` output or logs (API keys, webhook
/// keys, tokens, URLs that carry tokens).
///
/// In the TOML file it is either the value itself or `{ env = "NAME" }`,
/// read from the environment variable `NAME` when the file is loaded (so
/// the file need not hold the secret).
///
/// ```
/// use onelive_sink::config::SecretString;
///
/// let key = SecretString::new("hunter2");
/// assert_eq!(format!("{key:?}"), "<redacted>");
/// assert_eq!(key.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Value(String),
            Env { env: String },
        }
        match Form::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("expected a string or { env = \"VARIABLE\" }"))?
        {
            Form::Value(v) => Ok(SecretString(v)),
            Form::Env { env } => match std::env::var(&env) {
                Ok(v) if !v.is_empty() => Ok(SecretString(v)),
                _ => Err(serde::de::Error::custom(format!(
                    "environment variable {env} is not set (or empty)"
                ))),
            },
        }
    }
}

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret itself; use it only where it is sent, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The whole configuration file.
///
/// ```
/// use onelive_sink::config::SinkConfig;
///
/// let config = SinkConfig::from_toml_str(r#"
///     [auth]
///     keys = ["my_super_secret_webhook_key_123"]
///
///     [paths]
///     allowed_roots = ["."]
///     map = [{ from = "/app/rec", to = "./rec" }]
///
///     [[rules]]
///     name = "upload"
///     events = ["video_transmux_finish"]
///     [[rules.actions]]
///     kind = "pixeldrain"
///     api_key = "5f45f184-64bb-4eaa-be19-4a5f0459db49"
/// "#).unwrap();
/// assert_eq!(config.server.listen.port(), 5000);
/// assert_eq!(config.server.path, "/webhook");
/// // Secrets never show in Debug output.
/// assert!(!format!("{config:?}").contains("my_super_secret"));
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// `[server]`: where and how to listen.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[auth]`: who may post events.
    #[serde(default)]
    pub auth: AuthConfig,
    /// `[store]`: the SQLite job store.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[jobs]`: background job execution.
    #[serde(default)]
    pub jobs: JobsConfig,
    /// `[paths]`: path mapping and confinement.
    #[serde(default)]
    pub paths: PathsConfig,
    /// `[[rules]]`: which events trigger which actions.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// `[actions.NAME]`: named actions that run as a step after another
    /// action (its `then = ["NAME"]`), on that action's output.
    #[serde(default)]
    pub actions: BTreeMap<String, ActionConfig>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen address, default `0.0.0.0:5000` like the seed's uploader.py.
    pub listen: SocketAddr,
    /// The webhook route, default `/webhook`.
    pub path: String,
    /// Largest accepted body in bytes, default 1 MiB.
    pub body_limit: usize,
    /// Seconds the whole request head may take to arrive, default 10. It
    /// also bounds how long a kept-alive connection may sit idle waiting for
    /// its next request. A client sending a byte at a time is dropped.
    pub header_timeout_secs: f64,
    /// Seconds the whole body may take to arrive once the head is in,
    /// default 30 (answered 408 when exceeded).
    pub body_timeout_secs: f64,
    /// Connections served at once, default 1024. When all are taken, a new
    /// connection closes the one idle longest (never one inside a request).
    pub max_connections: usize,
    /// Connections one client address may hold open at once, default 64
    /// (trusted proxies are exempt). A connection beyond it is closed at once.
    pub max_connections_per_ip: usize,
    /// Largest request head (request line and headers) in bytes, default
    /// 16 KiB (answered 431).
    pub max_header_bytes: usize,
    /// Bytes of request bodies held in memory at once over all
    /// connections, default 64 MiB. A request waits (within its body
    /// timeout) for room before its body is read.
    pub body_memory_limit: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 5000)),
            path: "/webhook".into(),
            body_limit: 1024 * 1024,
            header_timeout_secs: 10.0,
            body_timeout_secs: 30.0,
            max_connections: 1024,
            max_connections_per_ip: 64,
            max_header_bytes: 16 * 1024,
            body_memory_limit: 64 * 1024 * 1024,
        }
    }
}

/// `[auth]`. Every configured method must pass.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Accepted `?key=` values (seed-compatible); any one matches.
    pub keys: Vec<SecretString>,
    /// Standard Webhooks secrets (`whsec_...`); several allow rotation.
    pub secrets: Vec<SecretString>,
    /// Allowed clock difference for `webhook-timestamp`, default 300 s.
    pub tolerance_secs: u64,
    /// Client networks allowed to post (CIDRs); empty allows all.
    pub allow_ips: Vec<IpNet>,
    /// Reverse proxies whose `X-Forwarded-For` is trusted.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            keys: Vec::new(),
            secrets: Vec::new(),
            tolerance_secs: 300,
            allow_ips: Vec::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl AuthConfig {
    /// Whether no authentication method at all is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.secrets.is_empty() && self.allow_ips.is_empty()
    }

    /// The parsed webhook secrets.
    pub fn webhook_secrets(&self) -> Result<Vec<WebhookSecret>> {
        self.secrets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.expose()
                    .parse::<WebhookSecret>()
                    .map_err(|e| Error::Config(format!("auth.secrets[{i}]: {e}")))
            })
            .collect()
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// SQLite database file, default `onelive-sink.db`.
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { path: PathBuf::from("onelive-sink.db") }
    }
}

/// `[jobs]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// How many jobs run at once, default 2.
    pub concurrency: usize,
    /// Seconds between progress log lines when not on a terminal, default 10.
    pub progress_interval_secs: f64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig { concurrency: 2, progress_interval_secs: 10.0 }
    }
}

/// `[paths]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathsConfig {
    /// Prefix mappings from the recorder's view to this host's.
    pub map: Vec<PathMapping>,
    /// Folders the (mapped, canonical) files must lie in.
    pub allowed_roots: Vec<PathBuf>,
}

/// One `{ from = "/app/rec", to = "./rec" }` mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathMapping {
    /// Prefix as the recorder writes it (whole path components).
    pub from: String,
    /// Folder on this host; relative paths are relative to the working directory.
    pub to: PathBuf,
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Name, shown in logs and job listings (unique).
    pub name: String,
    /// Event types this rule selects, e.g. `["video_transmux_finish"]`.
    pub events: Vec<String>,
    /// If not empty, only events of these platforms.
    #[serde(default)]
    pub platforms: Vec<String>,
    /// If not empty, only events of these channels.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Actions to run, each as its own job.
    pub actions: Vec<ActionConfig>,
}

/// One action of a rule, selected by `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum ActionConfig {
    /// Upload the event's file to Pixeldrain.
    Pixeldrain(PixeldrainConfig),
    /// Run a program.
    Exec(ExecConfig),
    /// POST the event to another URL.
    Forward(ForwardConfig),
    /// On `live_end`: concatenate the session's parts into one file.
    Merge(MergeConfig),
    /// Upload the file to an rclone remote.
    Rclone(RcloneConfig),
    /// Send a notification (Telegram, Discord, ntfy, Bark, ServerChan,
    /// PushPlus, WeCom, DingTalk, Gotify).
    Notify(NotifyConfig),
    /// Upload the file to S3-compatible object storage.
    S3(S3Config),
}

impl ActionConfig {
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            ActionConfig::Pixeldrain(_) => "pixeldrain",
            ActionConfig::Exec(_) => "exec",
            ActionConfig::Forward(_) => "forward",
            ActionConfig::Merge(_) => "merge",
            ActionConfig::Rclone(_) => "rclone",
            ActionConfig::Notify(_) => "notify",
            ActionConfig::S3(_) => "s3",
        }
    }

    /// The retry policy of this action.
    pub fn retry(&self) -> RetryPolicy {
        let (attempts, delay) = match self {
            ActionConfig::Pixeldrain(c) => (c.attempts, c.retry_delay_secs),
            ActionConfig::Exec(c) => (c.attempts, c.retry_delay_secs),
            ActionConfig::Forward(c) => (c.attempts, c.retry_delay_secs),
            ActionConfig::Merge(c) => (c.attempts, c.retry_delay_secs),
            ActionConfig::Rclone(c) => (c.attempts, c.retry_delay_secs),
            ActionConfig::Notify(c) => (c.attempts, c.retry_delay_secs),
            ActionConfig::S3(c) => (c.attempts, c.retry_delay_secs),
        };
        RetryPolicy { attempts: attempts.max(1), delay: secs(delay) }
    }

    /// The named actions that run on this action's output.
    pub fn then(&self) -> &[String] {
        match self {
            ActionConfig::Pixeldrain(c) => &c.then,
            ActionConfig::Exec(c) => &c.then,
            ActionConfig::Forward(c) => &c.then,
            ActionConfig::Merge(c) => &c.then,
            ActionConfig::Rclone(c) => &c.then,
            ActionConfig::Notify(c) => &c.then,
            ActionConfig::S3(c) => &c.then,
        }
    }

    /// The steps of the same `then` this step waits for (fan-in).
    pub fn after(&self) -> &[String] {
        match self {
            ActionConfig::Pixeldrain(c) => &c.after,
            ActionConfig::Exec(c) => &c.after,
            ActionConfig::Forward(c) => &c.after,
            ActionConfig::Merge(c) => &c.after,
            ActionConfig::Rclone(c) => &c.after,
            ActionConfig::Notify(c) => &c.after,
            ActionConfig::S3(c) => &c.after,
        }
    }

    /// Whether this action works on the event's file.
    pub fn uses_file(&self) -> bool {
        matches!(
            self,
            ActionConfig::Pixeldrain(_)
                | ActionConfig::Exec(_)
                | ActionConfig::Rclone(_)
                | ActionConfig::S3(_)
        )
    }
}

/// How often and how far apart an action is attempted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts (at least 1).
    pub attempts: u32,
    /// Delay before the 2nd attempt; doubled for each later one (max 10 min).
    pub delay: Duration,
}

impl RetryPolicy {
    /// The delay after `failed_attempts` failures.
    pub fn delay_after(&self, failed_attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(failed_attempts.saturating_sub(1).min(16));
        self.delay.saturating_mul(factor).min(Duration::from_secs(600))
    }
}

fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::ZERO)
}

/// `kind = "pixeldrain"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PixeldrainConfig {
    /// Named actions (`[actions.NAME]`) to run on this action's output once
    /// it succeeds.
    #[serde(default)]
    pub then: Vec<String>,
    /// For a `[actions.NAME]` step: the other steps started by the same
    /// `then` that must be done before this one runs (fan-in); its input is
    /// their outputs.
    #[serde(default)]
    pub after: Vec<String>,
    /// Pixeldrain API key (sent as the Basic auth password).
    pub api_key: SecretString,
    /// API base, default `https://pixeldrain.com/api`.
    #[serde(default = "default_api")]
    pub api: String,
    /// Attempts, default 3 like the seed.
    #[serde(default = "three")]
    pub attempts: u32,
    /// Seconds before the second attempt (doubling after), default 10.
    #[serde(default = "ten")]
    pub retry_delay_secs: f64,
    /// Delete the local file once the server reports the same size.
    #[serde(default)]
    pub delete_after_upload: bool,
}

/// `kind = "exec"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// Named actions (`[actions.NAME]`) to run on this action's output once
    /// it succeeds.
    #[serde(default)]
    pub then: Vec<String>,
    /// For a `[actions.NAME]` step: the other steps started by the same
    /// `then` that must be done before this one runs (fan-in); its input is
    /// their outputs.
    #[serde(default)]
    pub after: Vec<String>,
    /// Program and arguments (no shell).
    pub command: Vec<String>,
    /// Seconds before the program is killed, default 3600.
    #[serde(default = "hour")]
    pub timeout_secs: f64,
    /// Attempts, default 1.
    #[serde(default = "one")]
    pub attempts: u32,
    /// Seconds before the second attempt, default 10.
    #[serde(default = "ten")]
    pub retry_delay_secs: f64,
}

/// `kind = "forward"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    /// Named actions (`[actions.NAME]`) to run on this action's output once
    /// it succeeds.
    #[serde(default)]
    pub then: Vec<String>,
    /// For a `[actions.NAME]` step: the other steps started by the same
    /// `then` that must be done before this one runs (fan-in); its input is
    /// their outputs.
    #[serde(default)]
    pub after: Vec<String>,
    /// Target URL (may carry a token, so it is never logged whole).
    pub url: SecretString,
    /// Body template with `{placeholders}`; default: the event JSON.
    #[serde(default)]
    pub body_template: Option<String>,
    /// `Content-Type` of the body, default `application/json`.
    #[serde(default = "json_type")]
    pub content_type: String,
    /// Extra request headers (values are secrets: never logged).
    #[serde(default)]
    pub headers: BTreeMap<String, SecretString>,
    /// Attempts, default 3.
    #[serde(default = "three")]
    pub attempts: u32,
    /// Seconds before the second attempt, default 10.
    #[serde(default = "ten")]
    pub retry_delay_secs: f64,
    /// Seconds per request, default 30.
    #[serde(default = "thirty")]
    pub timeout_secs: f64,
}

/// `kind = "merge"` (rules selecting `live_end` only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeConfig {
    /// Named actions to run on each merged file.
    #[serde(default)]
    pub then: Vec<String>,
    /// For a `[actions.NAME]` step: the other steps started by the same
    /// `then` that must be done before this one runs (fan-in); its input is
    /// their outputs.
    #[serde(default)]
    pub after: Vec<String>,
    /// Merge the transmuxed files (`video_transmux_finish` outputs) and wait
    /// until every part has one (default true); false merges the recorded
    /// files (`video_file_finish` paths) as they are.
    #[serde(default = "yes")]
    pub transmuxed: bool,
    /// Delete the parts once the merged file is verified (default false).
    #[serde(default)]
    pub delete_parts: bool,
    /// The ffmpeg program, default `ffmpeg`.
    #[serde(default = "ffmpeg")]
    pub ffmpeg: String,
    /// The ffprobe program, default `ffprobe`.
    #[serde(default = "ffprobe")]
    pub ffprobe: String,
    /// Attempts, default 30 (an attempt waiting for a part's transmux fails).
    #[serde(default = "thirty_u32")]
    pub attempts: u32,
    /// Seconds before the second attempt (doubling after), default 10.
    #[serde(default = "ten")]
    pub retry_delay_secs: f64,
}

/// `kind = "rclone"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RcloneConfig {
    /// Named actions to run on this upload's result.
    #[serde(default)]
    pub then: Vec<String>,
    /// For a `[actions.NAME]` step: the other steps started by the same
    /// `then` that must be done before this one runs (fan-in); its input is
    /// their outputs.
    #[serde(default)]
    pub after: Vec<String>,
    /// Destination folder, `remote:path` (the file keeps its name). A
    /// secret: connection strings may carry passwords; results and logs
    /// show it without parameters.
    pub remote: SecretString,
    /// rclone's configuration file (`--config`); default: rclone's own.
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// Ask `rclone link` for a share link after the upload (default true);
    /// remotes without links give `remote:path` as the result.
    #[serde(default = "yes")]
    pub link: bool,
    /// The rclone program, default `rclone`.
    #[serde(default = "rclone")]
    pub rclone: String,
    /// More arguments for `rclone copyto`, e.g. `["--bwlimit", "10M"]`.
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// Attempts, default 3.
    #[serde(default = "three")]
    pub attempts: u32,
    /// Seconds before the second attempt (doubling after), default 10.
    #[serde(default = "ten")]
    pub retry_delay_secs: f64,
}

/// `kind = "s3"`: upload to S3-compatible object storage (AWS S3,
/// Cloudflare R2, MinIO, Aliyun OSS and Tencent COS S3 endpoints, ...).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// Named actions to run on this upload's result (the object URL).
    #[serde(default)]
    pub then: Vec<String>,
    /// For a `[actions.NAME]` step: the other steps started by the same
    /// `then` that must be done before this one runs (fan-in); its input is
    /// their outputs.
    #[serde(default)]
    pub after: Vec<String>,
    /// The service endpoint, e.g. `https://s3.us-east-1.amazonaws.com`,
    /// `https://ACCOUNT.r2.cloudflarestorage.com` or `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// The region the request is signed for, default `us-east-1` (R2: `auto`).
    #[serde(default = "us_east_1")]
    pub region: String,
    /// The bucket.
    pub bucket: String,
    /// Object key template (MiniJinja, the variables of `notify` messages),
    /// default `{{ platform }}/{{ channel }}/{{ file_name }}`.
    #[serde(default = "default_key")]
    pub key: String,
    /// Path-style URLs (`endpoint/bucket/key`, needed by MinIO and most
    /// self-hosted servers) instead of virtual-hosted ones
    /// (`bucket.endpoint/key`); default false.
    #[serde(default)]
    pub path_style: bool,
    /// Access key id.
    pub access_key_id: SecretString,
    /// Secret access key.
    pub secret_access_key: SecretString,
    /// Session token of temporary credentials, if any.
    #[serde(default)]
    pub session_token: Option<SecretString>,
    /// Files larger than this are sent as a multipart upload in parts of
    /// this size, in MiB; default 64, at least 5 (the S3 minimum).
    #[serde(default = "sixty_four")]
    pub part_size_mib: u64,
    /// Base URL of the result instead of the object's S3 URL (a CDN or a
    /// public bucket domain): the result is `{public_url}/{key}`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Attempts, default 3.
    #[serde(default = "three")]
    pub attempts: u32,
    /// Seconds before the second attempt (doubling after), default 10.
    #[serde(default = "ten")]
    pub retry_delay_secs: f64,
}

fn us_east_1() -> String {
    "us-east-1".into()
}
fn default_key() -> String {
    "{{ platform }}/{{ channel }}/{{ file_name }}".into()
}
fn sixty_four() -> u64 {
    64
}

/// Language of the default notification messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// English (default).
    #[default]
    En,
    /// Chinese.
    Zh,
}

/// `kind = "notify"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Named actions to run after the notification.
    #[serde(default)]
    pub then: Vec<String>,
    /// For a `[actions.NAME]` step: the other steps started by the same
    /// `then` that must be done before this one runs (fan-in); its input is
    /// their outputs.
    #[serde(default)]
    pub after: Vec<String>,
    /// Which service.
    pub service: crate::notify::Service,
    /// The service's credential: bot token, SendKey, webhook key, access
    /// token, device key or application token.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// Webhook URL (Discord), server (Gotify, self-hosted ntfy or Bark), or
    /// another API base.
    #[serde(default)]
    pub url: Option<SecretString>,
    /// Telegram chat id.
    #[serde(default)]
    pub chat_id: Option<String>,
    /// ntfy topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// DingTalk signing secret (`SEC...`).
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// Title template (MiniJinja); default by event and language.
    #[serde(default)]
    pub title: Option<String>,
    /// Message template (MiniJinja); default by event and language.
    #[serde(default)]
    pub message: Option<String>,
    /// Language of the default templates, `en` or `zh`.
    #[serde(default)]
    pub language: Language,
    /// Attempts, default 3.
    #[serde(default = "three")]
    pub attempts: u32,
    /// Seconds before the second attempt, default 10.
    #[serde(default = "ten")]
    pub retry_delay_secs: f64,
    /// Seconds per request, default 30.
    #[serde(default = "thirty")]
    pub timeout_secs: f64,
}

fn rclone() -> String {
    "rclone".into()
}
fn yes() -> bool {
    true
}
fn ffmpeg() -> String {
    "ffmpeg".into()
}
fn ffprobe() -> String {
    "ffprobe".into()
}
fn thirty_u32() -> u32 {
    30
}
fn default_api() -> String {
    DEFAULT_PIXELDRAIN_API.into()
}
fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}
fn ten() -> f64 {
    10.0
}
fn thirty() -> f64 {
    30.0
}
fn hour() -> f64 {
    3600.0
}
fn json_type() -> String {
    "application/json".into()
}

/// Event types whose events carry a file.
pub(crate) fn carries_file(t: EventType) -> bool {
    matches!(
        t,
        EventType::VideoFileCreate | EventType::VideoFileFinish | EventType::VideoTransmuxFinish
    )
}

impl SinkConfig {
    /// Reads and validates a TOML file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::ConfigRead { path: path.to_owned(), reason: e.to_string() })?;
        Self::from_toml_str(&text)
    }

    /// Parses and validates TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let config: SinkConfig = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the consistency of the configuration.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if !self.server.path.starts_with('/') {
            return bad(format!("server.path must start with '/', got {:?}", self.server.path));
        }
        if self.server.path == HEALTH_PATH {
            return bad(format!("server.path must not be {HEALTH_PATH} (the health route)"));
        }
        if self.server.path == "/metrics" {
            return bad("server.path cannot be \"/metrics\": that route serves the metrics".into());
        }
        if self.server.body_limit == 0 {
            return bad("server.body_limit must be > 0".into());
        }
        for (name, value) in [
            ("header_timeout_secs", self.server.header_timeout_secs),
            ("body_timeout_secs", self.server.body_timeout_secs),
        ] {
            if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
                return bad(format!("server.{name} must be > 0 and at most 86400, got {value}"));
            }
        }
        if self.server.max_connections == 0 || self.server.max_connections > 1_000_000 {
            return bad("server.max_connections must be between 1 and 1000000".into());
        }
        if self.server.max_connections_per_ip == 0 {
            return bad("server.max_connections_per_ip must be >= 1".into());
        }
        if self.server.max_header_bytes < 1024 {
            return bad("server.max_header_bytes must be >= 1024".into());
        }
        if self.server.body_memory_limit < self.server.body_limit {
            return bad(format!(
                "server.body_memory_limit ({}) must be >= server.body_limit ({})",
                self.server.body_memory_limit, self.server.body_limit
            ));
        }
        if self.jobs.concurrency == 0 {
            return bad("jobs.concurrency must be >= 1".into());
        }
        if !(self.jobs.progress_interval_secs.is_finite() && self.jobs.progress_interval_secs > 0.0)
        {
            return bad("jobs.progress_interval_secs must be > 0".into());
        }
        for (i, k) in self.auth.keys.iter().enumerate() {
            if k.expose().trim().is_empty() {
                return bad(format!("auth.keys[{i}] is empty or only whitespace"));
            }
            if k.expose().trim() != k.expose() {
                return bad(format!(
                    "auth.keys[{i}] starts or ends with whitespace (a copy-paste slip?)"
                ));
            }
        }
        self.auth.webhook_secrets()?;
        for (i, m) in self.paths.map.iter().enumerate() {
            if !m.from.starts_with('/') {
                return bad(format!(
                    "paths.map[{i}].from must be an absolute path, got {:?}",
                    m.from
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        let mut needs_roots = false;
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}] ({:?})", rule.name);
            if rule.name.is_empty() {
                return bad(format!("rules[{i}].name is empty"));
            }
            if !names.insert(rule.name.as_str()) {
                return bad(format!("{at}: duplicate rule name"));
            }
            if rule.events.is_empty() {
                return bad(format!("{at}: events is empty"));
            }
            if rule.actions.is_empty() {
                return bad(format!("{at}: actions is empty"));
            }
            let mut types = Vec::new();
            for e in &rule.events {
                match e.parse::<EventType>() {
                    Ok(t) => types.push(t),
                    Err(_) => return bad(format!("{at}: unknown event type {e:?}")),
                }
            }
            for (j, action) in rule.actions.iter().enumerate() {
                let at = format!("{at}.actions[{j}] ({})", action.kind());
                if let ActionConfig::Pixeldrain(_) | ActionConfig::Rclone(_) | ActionConfig::S3(_) =
                    action
                    && let Some(t) = types.iter().find(|t| !carries_file(**t))
                {
                    return bad(format!("{at}: event type {t} carries no file to upload"));
                }
                if let ActionConfig::Merge(_) = action {
                    if types.iter().any(|t| *t != EventType::LiveEnd) {
                        return bad(format!(
                            "{at}: merge runs on live_end only; events must be [\"live_end\"]"
                        ));
                    }
                    needs_roots = true;
                }
                if !action.after().is_empty() {
                    return bad(format!(
                        "{at}: after is for [actions] steps that a `then` starts with the \
                         steps they wait for; a rule's actions all start at once"
                    ));
                }
                check_action(&at, action)?;
                if action.uses_file() && types.iter().any(|t| carries_file(*t)) {
                    needs_roots = true;
                }
                self.check_chain(&at, action)?;
            }
        }
        for (name, action) in &self.actions {
            let at = format!("actions.{name} ({})", action.kind());
            if name.is_empty() {
                return bad("an [actions] name is empty".into());
            }
            if let ActionConfig::Merge(_) = action {
                return bad(format!("{at}: merge runs on live_end in a rule, not as a then step"));
            }
            check_action(&at, action)?;
            if action.uses_file() {
                needs_roots = true;
            }
            self.check_after(name, &at, action)?;
        }
        if needs_roots && self.paths.allowed_roots.is_empty() {
            return bad("rules act on files but paths.allowed_roots is empty; list the folders \
                 the sink may read (e.g. allowed_roots = [\"./rec\"])"
                .into());
        }
        Ok(())
    }
}

impl SinkConfig {
    /// Every `then` reachable from `action` names a known action, and no
    /// chain comes back to a step it already passed.
    fn check_chain(&self, at: &str, action: &ActionConfig) -> Result<()> {
        fn walk<'a>(
            config: &'a SinkConfig,
            at: &str,
            then: &'a [String],
            path: &mut Vec<&'a str>,
        ) -> Result<()> {
            for next in then {
                let Some(step) = config.actions.get(next) else {
                    let known: Vec<&str> = config.actions.keys().map(String::as_str).collect();
                    return Err(Error::Config(format!(
                        "{at}: then names unknown action {next:?} (defined in [actions]: {})",
                        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                    )));
                };
                if path.contains(&next.as_str()) {
                    path.push(next);
                    return Err(Error::Config(format!("{at}: then cycle {}", path.join(" -> "))));
                }
                path.push(next);
                walk(config, at, step.then(), path)?;
                path.pop();
            }
            Ok(())
        }
        let mut path = vec!["(this action)"];
        walk(self, at, action.then(), &mut path)
    }
}

impl SinkConfig {
    /// A step's `after` names known steps other than itself, and every
    /// `then` that starts it starts them too (else it would wait forever).
    fn check_after(&self, name: &str, at: &str, action: &ActionConfig) -> Result<()> {
        let after = action.after();
        for (i, wait) in after.iter().enumerate() {
            if wait == name {
                return Err(Error::Config(format!("{at}: after names the step itself")));
            }
            if !self.actions.contains_key(wait) {
                return Err(Error::Config(format!("{at}: after names unknown action {wait:?}")));
            }
            if after[..i].contains(wait) {
                return Err(Error::Config(format!("{at}: after names {wait:?} twice")));
            }
        }
        let rule_thens = self.rules.iter().flat_map(|r| {
            r.actions
                .iter()
                .enumerate()
                .map(move |(j, a)| (format!("rules[{:?}].actions[{j}]", r.name), a.then()))
        });
        let step_thens = self.actions.iter().map(|(n, a)| (format!("actions.{n}"), a.then()));
        for (who, then) in rule_thens.chain(step_thens) {
            let mut seen = std::collections::HashSet::new();
            if let Some(twice) = then.iter().find(|t| !seen.insert(t.as_str())) {
                return Err(Error::Config(format!("{who}: then names {twice:?} twice")));
            }
            if !then.iter().any(|t| t == name) {
                continue;
            }
            if let Some(missing) = after.iter().find(|w| !then.contains(w)) {
                return Err(Error::Config(format!(
                    "{at}: {who} starts it without {missing:?}, which it waits for \
                     (after must name steps of the same then)"
                )));
            }
        }
        Ok(())
    }
}

/// The checks of one action that do not depend on its rule.
fn check_action(at: &str, action: &ActionConfig) -> Result<()> {
    let bad = |m: String| Err(Error::Config(m));
    match action {
        ActionConfig::Pixeldrain(c) => {
            if c.api_key.expose().trim().is_empty() {
                return bad(format!("{at}: api_key is empty or only whitespace"));
            }
            if reqwest::Url::parse(&c.api).is_err() {
                return bad(format!("{at}: api {:?} is not a URL", c.api));
            }
            check_delay(at, c.retry_delay_secs)
        }
        ActionConfig::Exec(c) => {
            if c.command.first().is_none_or(|p| p.is_empty()) {
                return bad(format!("{at}: command is empty"));
            }
            if !(c.timeout_secs.is_finite() && c.timeout_secs > 0.0) {
                return bad(format!("{at}: timeout_secs must be > 0"));
            }
            check_delay(at, c.retry_delay_secs)
        }
        ActionConfig::Forward(c) => {
            if reqwest::Url::parse(c.url.expose()).is_err() {
                return bad(format!("{at}: url is not a valid URL"));
            }
            if let Some(t) = &c.body_template {
                template::check(t).map_err(|e| Error::Config(format!("{at}: {e}")))?;
            }
            if !(c.timeout_secs.is_finite() && c.timeout_secs > 0.0) {
                return bad(format!("{at}: timeout_secs must be > 0"));
            }
            check_delay(at, c.retry_delay_secs)
        }
        ActionConfig::Notify(c) => {
            crate::notify::check(at, c).map_err(Error::Config)?;
            check_delay(at, c.retry_delay_secs)
        }
        ActionConfig::Rclone(c) => {
            if !c.remote.expose().contains(':') {
                return bad(format!(
                    "{at}: remote must be `remote:path` (e.g. \"drive:recordings\"), got a plain path"
                ));
            }
            if c.rclone.is_empty() {
                return bad(format!("{at}: rclone must not be empty"));
            }
            check_delay(at, c.retry_delay_secs)
        }
        ActionConfig::S3(c) => {
            crate::s3::check(c).map_err(|e| Error::Config(format!("{at}: {e}")))?;
            check_delay(at, c.retry_delay_secs)
        }
        ActionConfig::Merge(c) => {
            if c.ffmpeg.is_empty() || c.ffprobe.is_empty() {
                return bad(format!("{at}: ffmpeg and ffprobe must not be empty"));
            }
            check_delay(at, c.retry_delay_secs)
        }
    }
}

fn check_delay(at: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::Config(format!("{at}: retry_delay_secs must be >= 0")))
    }
}
