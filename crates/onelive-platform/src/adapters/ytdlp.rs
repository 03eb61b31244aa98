//! `ytdlp`: a fallback through the `yt-dlp` CLI (installed from PyPI) when
//! it is on the machine, after `streamlink` in the registry.
//!
//! yt-dlp has no offline "can you handle this URL" question, and its
//! generic extractor tries any page, so the adapter claims only:
//! YouTube live URLs (when streamlink, which comes first, did not), and
//! any URL written with the `ytdlp://` prefix (`ytdlp://https://…`), which
//! hands the page to yt-dlp's extractors (the long tail, or a page with an
//! HTML5 `<video>`). `live_info` and `stream_variants` run
//! `yt-dlp -J <url>` (one run serves both within a few seconds) and keep
//! its HLS formats and HTTP-FLV formats, best first, with the headers
//! yt-dlp says a download needs. Host overrides do not apply (yt-dlp does
//! its own HTTP); the global or `[platforms.ytdlp]` proxy and user agent
//! are passed on, and `[platforms.ytdlp] cookies` never reach the
//! process list (they are not passed at all: put `--cookies <file>` in
//! yt-dlp's own configuration file, which it reads).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};
use serde_json::Value;

use super::unix_time;
use crate::adapter::{PlatformAdapter, PlatformContext, StreamKind, StreamVariant};
use crate::error::{PlatformError, Result, excerpt, strip_query};
use crate::json as j;
use crate::url_match::{host, http_url, segments};

const NAME: &str = "ytdlp";
/// The prefix that hands any URL to yt-dlp.
pub const PREFIX: &str = "ytdlp://";
/// How long one `yt-dlp -J` answer serves both calls of a poll.
const REUSE: Duration = Duration::from_secs(10);
/// yt-dlp starts a Python interpreter and scrapes a page: no faster than this.
const MIN_POLL: Duration = Duration::from_secs(30);

/// The yt-dlp fallback adapter.
pub struct YtDlp {
    program: String,
    installed: OnceLock<bool>,
    /// The last answer (it holds signed stream URLs: never shown).
    last: Mutex<Option<(String, Instant, Value)>>,
}

impl std::fmt::Debug for YtDlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YtDlp").field("program", &self.program).finish_non_exhaustive()
    }
}

impl YtDlp {
    /// An adapter running `program` (e.g. `yt-dlp`).
    pub fn new(program: impl Into<String>) -> Self {
        YtDlp { program: program.into(), installed: OnceLock::new(), last: Mutex::new(None) }
    }

    /// True when `program --version` runs (asked once, then remembered).
    pub fn is_installed(&self) -> bool {
        *self.installed.get_or_init(|| {
            std::process::Command::new(&self.program)
                .arg("--version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    fn tool_error(&self, message: impl Into<String>) -> PlatformError {
        PlatformError::Tool { tool: NAME.to_owned(), message: message.into() }
    }

    /// The `yt-dlp -J` JSON of `channel`, or `Ok(None)` when yt-dlp says
    /// the stream is not live (offline, upcoming, ended, gone).
    async fn query(&self, ctx: &PlatformContext, channel: &str) -> Result<Option<Value>> {
        if let Ok(last) = self.last.lock()
            && let Some((seen, at, value)) = last.as_ref()
            && seen == channel
            && at.elapsed() < REUSE
        {
            return Ok(Some(value.clone()));
        }
        let url = channel.strip_prefix(PREFIX).unwrap_or(channel);
        let config = ctx.config();
        let site = config.site(NAME);
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(["-J", "--no-playlist", "--no-warnings", "--no-progress"])
            .arg("--socket-timeout")
            .arg(config.timeout_secs.max(1).to_string())
            .arg("--user-agent")
            .arg(config.user_agent_for(NAME));
        if let Some(proxy) = site.proxy.or_else(|| config.proxy.clone()).filter(|p| !p.is_empty()) {
            command.arg("--proxy").arg(proxy);
        }
        command
            .arg("--")
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.kill_on_drop(true);
        let child = command.spawn().map_err(|e| {
            self.tool_error(format!("cannot run {} (is yt-dlp installed?): {e}", self.program))
        })?;
        let limit = Duration::from_secs(config.timeout_secs.max(1) * 3 + 10);
        let output = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .map_err(|_| self.tool_error(format!("timed out after {}s", limit.as_secs())))?
            .map_err(|e| self.tool_error(format!("failed: {e}")))?;
        if output.status.success()
            && let Ok(body) = serde_json::from_slice::<Value>(&output.stdout)
            && body.is_object()
        {
            if let Ok(mut last) = self.last.lock() {
                *last = Some((channel.to_owned(), Instant::now(), body.clone()));
            }
            return Ok(Some(body));
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        classify(channel, &stderr).map(|()| None)
    }
}

/// What yt-dlp's error output means: `Ok(())` for "not live now".
fn classify(channel: &str, stderr: &str) -> Result<()> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("ERROR:"))
        .unwrap_or_else(|| stderr.lines().last().unwrap_or("no output"));
    let lower = line.to_lowercase();
    let offline = [
        "is offline",
        "not currently live",
        "will begin",
        "is upcoming",
        "premieres in",
        "live event has ended",
        "this live stream recording is not available",
        "http error 404",
        "http error 410",
        "video unavailable",
        "no video formats found",
    ];
    if offline.iter().any(|o| lower.contains(o)) {
        return Ok(());
    }
    let shown = strip_urls(&excerpt(line.trim_start_matches("ERROR:").trim(), 200));
    if lower.contains("unsupported url") {
        return Err(PlatformError::UnsupportedUrl(format!(
            "yt-dlp has no extractor for {}",
            strip_query(channel)
        )));
    }
    if lower.contains("http error 429") || lower.contains("too many requests") {
        return Err(PlatformError::rate_limited(NAME, None));
    }
    if lower.contains("sign in") || lower.contains("login") || lower.contains("members-only") {
        return Err(PlatformError::login_required(NAME, shown));
    }
    if lower.contains("http error 403") || lower.contains("not a bot") || lower.contains("geo") {
        return Err(PlatformError::blocked(NAME, shown));
    }
    Err(PlatformError::Tool { tool: NAME.to_owned(), message: shown })
}

/// The message with query strings of URLs removed.
fn strip_urls(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.contains("://") { strip_query(w) } else { w.to_owned() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Live, unless yt-dlp says otherwise; a page whose status yt-dlp does not
/// know (its generic extractor) is live while it has playable formats.
fn is_live(body: &Value) -> bool {
    match j::string(body, "/live_status").as_deref() {
        Some("is_live") => true,
        Some(_) => false,
        None => match body.get("is_live") {
            Some(Value::Bool(live)) => *live,
            _ => !variants_of(body).is_empty(),
        },
    }
}

/// `avc`, `hevc`, `vp9`, `av1` from yt-dlp's `vcodec`.
fn codec_of(vcodec: &str) -> Option<String> {
    let lower = vcodec.to_ascii_lowercase();
    let name = match lower.split('.').next().unwrap_or_default() {
        "" | "none" => return None,
        "avc1" | "avc3" | "h264" | "avc" => "avc",
        "hev1" | "hvc1" | "h265" | "hevc" => "hevc",
        "vp9" | "vp09" => "vp9",
        "av01" | "av1" => "av1",
        other => other,
    };
    Some(name.to_owned())
}

/// HLS and HTTP-FLV formats, best first (yt-dlp lists them worst first).
fn variants_of(body: &Value) -> Vec<StreamVariant> {
    let mut variants: Vec<StreamVariant> = Vec::new();
    for format in j::array(body, "/formats").iter().rev() {
        let Some(url) = j::string(format, "/url").filter(|u| !u.is_empty()) else { continue };
        if j::string_or_empty(format, "/vcodec") == "none" {
            continue; // audio only
        }
        let protocol = j::string_or_empty(format, "/protocol");
        let ext = j::string_or_empty(format, "/ext");
        let path = strip_query(&url).to_ascii_lowercase();
        let kind = match protocol.as_str() {
            "m3u8" | "m3u8_native" => StreamKind::Hls,
            "http" | "https" if path.ends_with(".m3u8") => StreamKind::Hls,
            "http" | "https" if ext == "flv" || path.ends_with(".flv") => StreamKind::Flv,
            _ => continue,
        };
        if variants.iter().any(|v| v.url == url) {
            continue;
        }
        let height = j::int(format, "/height").filter(|h| *h > 0).map(|h| h as u32);
        let quality = j::string(format, "/format_note")
            .filter(|n| !n.is_empty())
            .or_else(|| height.map(|h| format!("{h}p")))
            .or_else(|| j::string(format, "/format_id"))
            .unwrap_or_else(|| "default".to_owned());
        let mut v = StreamVariant::new(url, kind, quality);
        v.height = height;
        v.width = j::int(format, "/width").filter(|w| *w > 0).map(|w| w as u32);
        v.bitrate_kbps = j::int(format, "/tbr").filter(|b| *b > 0).map(|b| b as u32);
        v.codec = codec_of(&j::string_or_empty(format, "/vcodec"));
        let mut headers = BTreeMap::new();
        if let Some(Value::Object(h)) = format.get("http_headers") {
            for (k, value) in h {
                if matches!(k.as_str(), "User-Agent" | "Referer" | "Origin" | "Cookie")
                    && let Some(value) = value.as_str()
                {
                    headers.insert(k.clone(), value.to_owned());
                }
            }
        }
        v.headers = headers;
        variants.push(v);
    }
    if let Some(first) = variants.first_mut() {
        first.source = true;
    }
    variants
}

/// True for the YouTube URLs of a live or a video (what streamlink's
/// YouTube plugin and yt-dlp both take).
fn is_youtube_live(url: &str) -> bool {
    let Some(parsed) = http_url(url) else { return false };
    let segments = segments(&parsed);
    match host(&parsed).as_str() {
        "www.youtube.com" | "youtube.com" | "m.youtube.com" => match segments.as_slice() {
            [watch] if watch == "watch" => {
                parsed.query_pairs().any(|(k, v)| k == "v" && !v.is_empty())
            }
            [live, id] if live == "live" => !id.is_empty(),
            [handle, live] if handle.starts_with('@') && live == "live" => true,
            [kind, _, live]
                if matches!(kind.as_str(), "channel" | "c" | "user") && live == "live" =>
            {
                true
            }
            _ => false,
        },
        "youtu.be" => segments.len() == 1,
        _ => false,
    }
}

#[async_trait]
impl PlatformAdapter for YtDlp {
    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec![
            "https://www.youtube.com/@<handle>/live, /watch?v=<id>, /channel/<id>/live (when streamlink does not take them), when yt-dlp is installed".into(),
            "ytdlp://<any page URL yt-dlp can extract>".into(),
        ]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let url = url.trim();
        let claimed = match url.strip_prefix(PREFIX) {
            Some(inner) => {
                http_url(inner).is_some() && inner.contains("://") && !inner.starts_with('-')
            }
            None => is_youtube_live(url),
        };
        (claimed && self.is_installed()).then(|| url.to_owned())
    }

    fn channel_url(&self, channel: &str) -> String {
        channel.to_owned()
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let Some(body) = self.query(ctx, channel).await? else {
            return Ok({
                let mut built = LiveInfo::default();
                built.status = LiveStatus::Offline;
                built
            });
        };
        let live = is_live(&body);
        let first = |pointers: &[&str]| {
            pointers
                .iter()
                .find_map(|p| j::string(&body, p).filter(|s| !s.is_empty()))
                .unwrap_or_default()
        };
        Ok({
            let mut built = LiveInfo::default();
            built.uid = first(&["/channel_id", "/uploader_id"]);
            built.uname = first(&["/channel", "/uploader"]);
            built.avatar = String::new();
            built.title = first(&["/fulltitle", "/title"]);
            built.cover = first(&["/thumbnail"]);
            built.categories = j::array(&body, "/categories")
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect();
            built.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
            built.live_id = if live { j::string(&body, "/id") } else { None };
            built.start_time =
                if live { j::int(&body, "/release_timestamp").and_then(unix_time) } else { None };
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let Some(body) = self.query(ctx, channel).await? else {
            return Err(PlatformError::offline(NAME, channel));
        };
        let variants = variants_of(&body);
        if !is_live(&body) || variants.is_empty() {
            return Err(PlatformError::offline(NAME, channel));
        }
        Ok(variants)
    }

    fn min_poll_interval(&self) -> Option<Duration> {
        Some(MIN_POLL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified() {
        let ch = "ytdlp://https://example.com/x";
        assert!(
            classify(ch, "ERROR: [youtube] abc: This live event will begin in 3 hours.").is_ok()
        );
        assert!(
            classify(ch, "ERROR: [twitch:stream] x: The channel is not currently live").is_ok()
        );
        assert!(
            classify(
                ch,
                "ERROR: [generic] gone: Unable to download webpage: HTTP Error 404: Not Found"
            )
            .is_ok()
        );
        let e =
            classify(ch, "ERROR: Unsupported URL: https://example.com/x?token=secret").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::UnsupportedUrl);
        assert!(!e.to_string().contains("secret"));
        let e =
            classify(ch, "ERROR: [youtube] abc: Sign in to confirm you're not a bot").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::LoginRequired);
        let e = classify(ch, "ERROR: [x] y: HTTP Error 403: Forbidden https://cdn.example/a?sig=1")
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Blocked);
        assert!(!e.to_string().contains("sig=1"), "{e}");
        assert_eq!(
            classify(ch, "ERROR: [x] y: HTTP Error 429").unwrap_err().kind(),
            crate::ErrorKind::RateLimited
        );
        assert_eq!(classify(ch, "Traceback ... boom").unwrap_err().kind(), crate::ErrorKind::Tool);
    }

    #[test]
    fn youtube_live_urls() {
        for url in [
            "https://www.youtube.com/@lofigirl/live",
            "https://www.youtube.com/watch?v=jfKfPfyJRdk",
            "https://youtube.com/live/jfKfPfyJRdk",
            "https://www.youtube.com/channel/UCSJ4gkVC6NrvII8umztf0Ow/live",
            "https://youtu.be/jfKfPfyJRdk",
        ] {
            assert!(is_youtube_live(url), "{url}");
        }
        for url in [
            "https://www.youtube.com/@lofigirl",
            "https://www.youtube.com/watch",
            "https://www.youtube.com/feed/trending",
            "https://www.youtube.com.evil.example/watch?v=x",
        ] {
            assert!(!is_youtube_live(url), "{url}");
        }
    }

    #[test]
    fn codecs() {
        assert_eq!(codec_of("avc1.4d401f").as_deref(), Some("avc"));
        assert_eq!(codec_of("vp09.00.40.08").as_deref(), Some("vp9"));
        assert_eq!(codec_of("none"), None);
    }
}
