//! Kick (`kick.com`).
//!
//! Live info and the playback URL come from `kick.com/api/v2/channels/<slug>`;
//! the variants from the AWS IVS master playlist at `playback_url`.
//!
//! Kick sits behind Cloudflare, which usually answers a plain HTTP client
//! with a JavaScript challenge (HTTP 403, `cf-mitigated: challenge`, a "Just
//! a moment..." page). No request of this crate can solve it (streamlink
//! runs a headless Chromium, yt-dlp impersonates Chrome's TLS): the error
//! says so and names the fix, the `cf_clearance` cookie of a browser
//! session in `[platforms.kick] cookies` with that browser's User-Agent in
//! `[platforms.kick] user_agent`. With a Chrome User-Agent the request also
//! carries Chrome's client-hint headers (as streamlink sends), and an
//! `XSRF-TOKEN` cookie is sent as a Bearer token (as yt-dlp does).
//!
//! Checked against streamlink `plugins/kick.py` (5376d2e8) and yt-dlp
//! `kick.py` (0746d987) in 2026-12.

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};
use serde_json::Value;
use time::PrimitiveDateTime;
use time::macros::format_description;

use super::stream_headers;
use crate::adapter::{PlatformAdapter, PlatformContext, StreamKind, StreamVariant};
use crate::error::{PlatformError, Result};
use crate::hls;
use crate::json as j;
use crate::url_match::{host, http_url, on_domain, query, refusal, segments};

const NAME: &str = "kick";
const API: &str = "https://kick.com/api/v2/channels";

/// First path segments that are Kick pages, not channels.
const RESERVED: &[&str] = &[
    "video",
    "videos",
    "categories",
    "category",
    "search",
    "auth",
    "browse",
    "following",
    "dashboard",
    "settings",
    "terms-of-service",
    "privacy-policy",
    "community-guidelines",
    "subscriptions",
    "clips",
    "api",
    "popout",
    "transactions",
];

/// The Kick adapter.
#[derive(Debug, Default, Clone, Copy)]
pub struct Kick;

/// The JSON fields this adapter reads, per endpoint, as JSON pointers. No
/// public capture of `api/v2/channels/<slug>` exists (see the fixture
/// folder's README), so no test checks them against a real answer.
pub const FIELDS: &[(&str, &[&str])] = &[(
    "api/v2/channels/<slug> (no real fixture)",
    &[
        "/slug",
        "/user_id",
        "/user/id",
        "/user/username",
        "/user/profile_pic",
        "/playback_url",
        "/livestream/id",
        "/livestream/is_live",
        "/livestream/session_title",
        "/livestream/start_time",
        "/livestream/created_at",
        "/livestream/categories/*/name",
        "/livestream/category/name",
        "/livestream/thumbnail/url",
    ],
)];

/// True when `response` is Cloudflare's challenge rather than Kick's answer.
fn is_challenge(response: &crate::http::HttpResponse) -> bool {
    if response.header("cf-mitigated").is_some_and(|v| v.eq_ignore_ascii_case("challenge")) {
        return true;
    }
    let text = response.text();
    ["<title>Just a moment...</title>", "challenge-platform", "cf_chl_opt", "challenge-running"]
        .iter()
        .any(|marker| text.contains(marker))
}

fn challenge_error(status: u16) -> PlatformError {
    PlatformError::blocked(
        NAME,
        format!(
            "Kick answered with a Cloudflare challenge (HTTP {status}), which needs a browser: set \
             [platforms.kick] cookies from a browser session on kick.com (with its cf_clearance) \
             and [platforms.kick] user_agent to that browser's User-Agent, or record Kick through \
             streamlink, which solves the challenge in a headless Chromium"
        ),
    )
}

/// Chrome's client-hint headers for a Chrome User-Agent (Cloudflare checks
/// that they agree with it), as streamlink sends them.
fn client_hints(user_agent: &str) -> Vec<(&'static str, String)> {
    let Some(version) = user_agent.split("Chrome/").nth(1) else { return Vec::new() };
    let major: String = version.chars().take_while(char::is_ascii_digit).collect();
    if major.is_empty() {
        return Vec::new();
    }
    let platform = if user_agent.contains("Windows") {
        "\"Windows\""
    } else if user_agent.contains("Mac OS") {
        "\"macOS\""
    } else {
        "\"Linux\""
    };
    vec![
        ("sec-ch-ua", format!("\"Not:A-Brand\";v=\"24\", \"Chromium\";v=\"{major}\"")),
        ("sec-ch-ua-mobile", "?0".to_owned()),
        ("sec-ch-ua-platform", platform.to_owned()),
        ("sec-fetch-dest", "empty".to_owned()),
        ("sec-fetch-mode", "cors".to_owned()),
        ("sec-fetch-site", "same-origin".to_owned()),
    ]
}

async fn channel_json(ctx: &PlatformContext, channel: &str) -> Result<Value> {
    let url = format!("{API}/{channel}");
    let mut request = ctx
        .http
        .get(NAME, &url)
        .header("Accept", "application/json")
        .header("Accept-Language", "en-US")
        .header("Referer", &format!("https://kick.com/{channel}"))
        .with_platform_cookies();
    for (name, value) in client_hints(&ctx.config().user_agent_for(NAME)) {
        request = request.header(name, &value);
    }
    if let Some(cookies) = ctx.config().site(NAME).cookies
        && let Some(token) = cookies
            .split(';')
            .find_map(|c| c.trim().strip_prefix("XSRF-TOKEN="))
            .filter(|t| !t.is_empty())
    {
        let token: String = url::form_urlencoded::parse(format!("t={token}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let response = request.send().await?;
    if matches!(response.status, 403 | 429 | 503 | 200) && is_challenge(&response) {
        return Err(challenge_error(response.status));
    }
    let response = response.check_common()?;
    match response.status {
        200 => {}
        404 => return Err(PlatformError::not_found(NAME, channel)),
        403 => {
            return Err(PlatformError::blocked(
                NAME,
                format!(
                    "HTTP 403 from api/v2/channels (not a Cloudflare challenge): {}",
                    crate::error::excerpt(&response.text(), 120)
                ),
            ));
        }
        _ => return Err(response.unexpected("HTTP 200 with channel JSON")),
    }
    let body: Value = response.json("channel JSON {slug, user, livestream}")?;
    if !body.is_object() || body.get("slug").is_none() && body.get("user").is_none() {
        return Err(response.unexpected("channel JSON {slug, user, livestream}"));
    }
    j::require(&body, "/livestream", NAME, &url, "api/v2/channels")?;
    Ok(body)
}

fn parse_time(text: &str) -> Option<time::OffsetDateTime> {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text.get(..19)?, format).ok().map(|t| t.assume_utc()).or_else(|| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
    })
}

fn live_stream(body: &Value) -> Option<&Value> {
    j::at(body, "/livestream").filter(|l| l.get("is_live").and_then(Value::as_bool).unwrap_or(true))
}

#[async_trait]
impl PlatformAdapter for Kick {
    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec!["https://kick.com/<slug>".into()]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        let host = host(&url);
        if host != "kick.com" && !host.ends_with(".kick.com") {
            return None;
        }
        if query(&url, "clip").is_some() {
            return None;
        }
        match segments(&url).as_slice() {
            [slug]
                if !RESERVED.contains(&slug.to_ascii_lowercase().as_str())
                    && slug
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                Some(slug.to_ascii_lowercase())
            }
            _ => None,
        }
    }

    fn channel_url(&self, channel: &str) -> String {
        format!("https://kick.com/{channel}")
    }

    fn not_a_live_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !on_domain(&url, &["kick.com"]) || self.parse_url(url.as_str()).is_some() {
            return None;
        }
        let segs: Vec<String> = segments(&url).iter().map(|s| s.to_ascii_lowercase()).collect();
        let what = if query(&url, "clip").is_some() || segs.iter().any(|s| s == "clips") {
            "a Kick clip"
        } else if segs.first().is_some_and(|s| s == "video")
            || segs.get(1).is_some_and(|s| s == "videos")
        {
            "a Kick VOD"
        } else if segs.first().is_some_and(|s| s == "categories" || s == "category") {
            "a Kick category page"
        } else if segs.first().is_some_and(|s| s == "search") {
            "Kick's search page"
        } else if segs.is_empty() {
            "Kick's home page"
        } else {
            "a Kick page"
        };
        let form = match segs.as_slice() {
            [slug, ..] if !RESERVED.contains(&slug.as_str()) => format!("https://kick.com/{slug}"),
            _ => "https://kick.com/<slug>".to_owned(),
        };
        Some(refusal(what, &form))
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let body = channel_json(ctx, channel).await?;
        let live = live_stream(&body);
        let mut categories: Vec<String> = live
            .map(|l| {
                j::array(l, "/categories").iter().filter_map(|c| j::string(c, "/name")).collect()
            })
            .unwrap_or_default();
        if categories.is_empty()
            && let Some(name) = live.and_then(|l| j::string(l, "/category/name"))
        {
            categories.push(name);
        }
        Ok({
            let mut built = LiveInfo::default();
            built.uid = j::string(&body, "/user_id")
                .or_else(|| j::string(&body, "/user/id"))
                .unwrap_or_default();
            built.uname = j::string(&body, "/user/username").unwrap_or_else(|| channel.to_owned());
            built.avatar = j::string_or_empty(&body, "/user/profile_pic");
            built.title = live.map(|l| j::string_or_empty(l, "/session_title")).unwrap_or_default();
            built.cover = live
                .and_then(|l| {
                    j::string(l, "/thumbnail/url").or_else(|| j::string(l, "/thumbnail/src"))
                })
                .unwrap_or_default();
            built.categories = categories;
            built.status = if live.is_some() { LiveStatus::Live } else { LiveStatus::Offline };
            built.live_id = live.and_then(|l| j::string(l, "/id"));
            built.start_time = live
                .and_then(|l| j::string(l, "/start_time").or_else(|| j::string(l, "/created_at")))
                .and_then(|t| parse_time(&t));
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let body = channel_json(ctx, channel).await?;
        if live_stream(&body).is_none() {
            return Err(PlatformError::offline(NAME, channel));
        }
        let Some(playback) = j::string(&body, "/playback_url").filter(|u| !u.is_empty()) else {
            return Err(PlatformError::unexpected(
                NAME,
                API,
                "playback_url on a live channel",
                "none",
            ));
        };
        let response = ctx.http.get(NAME, &playback).send().await?.check_common()?;
        if response.status == 404 {
            return Err(PlatformError::offline(NAME, channel));
        }
        let text = response.text();
        if response.status != 200 || !hls::is_playlist(&text) {
            return Err(response.unexpected("an HLS master playlist"));
        }
        let headers = stream_headers(ctx, NAME, "https://kick.com/");
        let entries = hls::parse_master(&text, &ctx.http.rewrite_url(&playback));
        if entries.is_empty() {
            let mut v =
                StreamVariant::new(ctx.http.rewrite_url(&playback), StreamKind::Hls, "source");
            v.source = true;
            v.headers = headers;
            return Ok(vec![v]);
        }
        Ok(hls::ranked_variants(entries, &headers))
    }
}
