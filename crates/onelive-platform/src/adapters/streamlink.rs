//! `streamlink`: the fallback for URLs no adapter claims, through the
//! `streamlink` CLI (installed from PyPI) when it is on the machine.
//!
//! `parse_url` asks `streamlink --can-handle-url` (offline, no network);
//! `live_info` and `stream_variants` ask `streamlink --json <url>`.
//! Host overrides do not apply (streamlink does its own HTTP); the global
//! or `[platforms.streamlink]` proxy and user agent are passed on.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};
use serde_json::Value;

use crate::adapter::{PlatformAdapter, PlatformContext, StreamKind, StreamVariant};
use crate::error::{PlatformError, Result, excerpt, strip_query};
use crate::json as j;

const NAME: &str = "streamlink";

/// The streamlink fallback adapter.
#[derive(Debug, Clone)]
pub struct Streamlink {
    program: String,
}

impl Streamlink {
    /// An adapter running `program` (e.g. `streamlink`).
    pub fn new(program: impl Into<String>) -> Self {
        Streamlink { program: program.into() }
    }

    /// True when `program --version` runs.
    pub fn is_installed(&self) -> bool {
        std::process::Command::new(&self.program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn tool_error(&self, message: impl Into<String>) -> PlatformError {
        PlatformError::Tool { tool: NAME.to_owned(), message: message.into() }
    }

    /// Runs `streamlink --json <url>` and returns its JSON.
    async fn query(&self, ctx: &PlatformContext, url: &str) -> Result<Value> {
        let config = ctx.config();
        let site = config.site(NAME);
        let mut command = tokio::process::Command::new(&self.program);
        command
            .arg("--json")
            .arg("--http-header")
            .arg(format!("User-Agent={}", config.user_agent_for(NAME)));
        if let Some(proxy) = site.proxy.or_else(|| config.proxy.clone()).filter(|p| !p.is_empty()) {
            command.arg("--http-proxy").arg(proxy);
        }
        command.arg(url).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        command.kill_on_drop(true);
        let child = command.spawn().map_err(|e| {
            self.tool_error(format!("cannot run {} (is streamlink installed?): {e}", self.program))
        })?;
        let limit = Duration::from_secs(config.timeout_secs.max(1) * 2 + 5);
        let output = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .map_err(|_| self.tool_error(format!("timed out after {}s", limit.as_secs())))?
            .map_err(|e| self.tool_error(format!("failed: {e}")))?;
        let body: Value = serde_json::from_slice(&output.stdout).map_err(|_| {
            self.tool_error(format!(
                "did not print JSON (exit {:?}): {}",
                output.status.code(),
                excerpt(&String::from_utf8_lossy(&output.stderr), 160)
            ))
        })?;
        if let Some(error) = j::string(&body, "/error") {
            let lower = error.to_lowercase();
            if lower.contains("no plugin can handle") {
                return Err(PlatformError::UnsupportedUrl(format!(
                    "streamlink has no plugin for {}",
                    strip_query(url)
                )));
            }
            if lower.contains("no playable streams") || lower.contains("404") {
                return Ok(Value::Null);
            }
            return Err(self.tool_error(strip_urls(&error)));
        }
        Ok(body)
    }
}

/// The message with query strings of URLs removed.
fn strip_urls(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.contains("://") { strip_query(w) } else { w.to_owned() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Height from a streamlink stream name such as `720p` or `1080p60`.
fn height_of(name: &str) -> Option<u32> {
    let digits = name.split('p').next()?;
    digits.parse().ok()
}

#[async_trait]
impl PlatformAdapter for Streamlink {
    // Each poll starts a streamlink process: at most one every 30 s.
    fn min_poll_interval(&self) -> Option<Duration> {
        Some(Duration::from_secs(30))
    }

    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec![
            "any URL a streamlink plugin handles (YouTube, TikTok, ...), when streamlink is installed".into(),
            "hls://<playlist URL>".into(),
        ]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let url = url.trim();
        if url.is_empty() || url.starts_with('-') || !url.contains("://") {
            return None;
        }
        let status = std::process::Command::new(&self.program)
            .arg("--can-handle-url")
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| url.to_owned())
    }

    fn channel_url(&self, channel: &str) -> String {
        channel.to_owned()
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let body = self.query(ctx, channel).await?;
        let live =
            j::at(&body, "/streams").and_then(Value::as_object).is_some_and(|s| !s.is_empty());
        Ok({
            let mut built = LiveInfo::default();
            built.uid = String::new();
            built.uname = j::string_or_empty(&body, "/metadata/author");
            built.title = j::string_or_empty(&body, "/metadata/title");
            built.categories = j::string(&body, "/metadata/category").into_iter().collect();
            built.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
            built.live_id = if live { j::string(&body, "/metadata/id") } else { None };
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let body = self.query(ctx, channel).await?;
        let Some(streams) = j::at(&body, "/streams").and_then(Value::as_object) else {
            return Err(PlatformError::offline(NAME, channel));
        };
        let best_url = streams.get("best").and_then(|s| j::string(s, "/url"));
        let mut variants = Vec::new();
        for (name, stream) in streams {
            if name == "best" || name == "worst" || name.ends_with("_alt") {
                continue;
            }
            let Some(url) = j::string(stream, "/url") else { continue };
            let kind = match j::string_or_empty(stream, "/type").as_str() {
                "hls" => StreamKind::Hls,
                "http" if strip_query(&url).to_ascii_lowercase().ends_with(".m3u8") => {
                    StreamKind::Hls
                }
                "http" => StreamKind::Flv,
                _ => continue,
            };
            let mut headers = BTreeMap::new();
            if let Some(Value::Object(h)) = stream.get("headers") {
                for (k, v) in h {
                    if matches!(k.as_str(), "User-Agent" | "Referer" | "Origin" | "Cookie")
                        && let Some(v) = v.as_str()
                    {
                        headers.insert(k.clone(), v.to_owned());
                    }
                }
            }
            let mut v = StreamVariant::new(url.clone(), kind, name.clone());
            v.height = height_of(name);
            v.source = best_url.as_deref() == Some(url.as_str());
            v.headers = headers;
            variants.push(v);
        }
        if variants.is_empty() {
            return Err(PlatformError::offline(NAME, channel));
        }
        variants.sort_by_key(|v| {
            (std::cmp::Reverse(v.source), std::cmp::Reverse(v.height.unwrap_or(0)))
        });
        Ok(variants)
    }
}
