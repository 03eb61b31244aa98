//! TikTok LIVE (`tiktok.com/@<user>/live`).
//!
//! Live info and streams come from the unsigned room API
//! `www.tiktok.com/api-live/user/room/?aid=1988&uniqueId=<user>` (the one
//! streamlink uses); when it answers with an empty or non-JSON body, from
//! the `SIGI_STATE` JSON of the live page (what DouyinLiveRecorder and
//! rust-srec read). Both hold the same object (`user`, `liveRoom`); the
//! stream ladder is ByteDance's `stream_data`, as on Douyin.
//!
//! TikTok's WAF answers bot-like requests with HTTP 403 (often an empty
//! body and `x-tt-system-error`), and some regions get a "we have
//! discontinued operating TikTok" page: both are
//! [`PlatformError::Blocked`] with the reason, never "offline". A browser
//! cookie in `[platforms.tiktok] cookies` or a proxy in another region may
//! get through.

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};
use regex::Regex;
use serde_json::Value;

use super::{bytedance, stream_headers, unix_time};
use crate::adapter::{PlatformAdapter, PlatformContext, StreamVariant};
use crate::error::{PlatformError, Result};
use crate::http::HttpResponse;
use crate::json as j;
use crate::url_match::{host, http_url, segments};

const NAME: &str = "tiktok";
const WWW: &str = "https://www.tiktok.com";
const REFERER: &str = "https://www.tiktok.com/";
/// `statusCode` of the room API for an unknown user.
const USER_NOT_FOUND: i64 = 19_881_007;
/// The start of the page some regions get instead of TikTok.
const REGION_BLOCK: &str = "We regret to inform you that we have discontinued operating TikTok";

/// The TikTok adapter.
#[derive(Debug, Default, Clone, Copy)]
pub struct TikTok;

/// A WAF or region refusal in `response`, if it is one.
fn refusal(response: &HttpResponse, what: &str) -> Option<PlatformError> {
    if response.status == 403 || response.status == 405 {
        let code = response
            .header("x-tt-system-error")
            .map(|c| format!(", x-tt-system-error {c}"))
            .unwrap_or_default();
        return Some(PlatformError::blocked(
            NAME,
            format!(
                "TikTok's WAF refused {what} (HTTP {}{code}); a browser cookie in \
                 [platforms.tiktok] cookies or another network may get through",
                response.status
            ),
        ));
    }
    if response.text().contains(REGION_BLOCK) {
        return Some(PlatformError::blocked(
            NAME,
            format!(
                "TikTok is not available from this network's region ({what} answered \"{REGION_BLOCK}\"); \
                 use a proxy in another region ([platforms.tiktok] proxy)"
            ),
        ));
    }
    None
}

/// The `{user, liveRoom}` object of `channel`.
async fn room_info(ctx: &PlatformContext, channel: &str) -> Result<Value> {
    let referer = format!("{WWW}/@{channel}/live");
    let response = ctx
        .http
        .get(NAME, &format!("{WWW}/api-live/user/room/"))
        .query(&[
            ("aid", "1988"),
            ("app_name", "tiktok_web"),
            ("device_platform", "web_pc"),
            ("app_language", "en"),
            ("browser_language", "en-US"),
            ("sourceType", "54"),
            ("uniqueId", channel),
        ])
        .header("Referer", &referer)
        .header("Accept", "application/json")
        .with_platform_cookies()
        .send()
        .await?
        .check_common()?;
    if let Some(error) = refusal(&response, "the room API (api-live/user/room)") {
        return Err(error);
    }
    let expected = "room API JSON {statusCode, data: {user, liveRoom}}";
    if response.status == 404 {
        return Err(PlatformError::not_found(NAME, channel));
    }
    if response.status != 200 {
        return Err(response.unexpected(expected));
    }
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(body) => match j::int(&body, "/statusCode") {
            Some(0) if j::at(&body, "/data/user").is_some() => {
                Ok(body.get("data").cloned().unwrap_or(Value::Null))
            }
            Some(USER_NOT_FOUND) => Err(PlatformError::not_found(NAME, channel)),
            Some(code) => Err(PlatformError::unexpected(
                NAME,
                response.url(),
                expected,
                format!("statusCode {code} {}", j::string_or_empty(&body, "/message")),
            )),
            None => Err(response.unexpected(expected)),
        },
        // An empty or HTML answer: the live page carries the same data.
        Err(_) => page_state(ctx, channel, &referer).await.map_err(|page| match page {
            PlatformError::UnexpectedResponse { got, .. } => PlatformError::unexpected(
                NAME,
                response.url(),
                "room API JSON, or SIGI_STATE in the live page",
                format!(
                    "room API: HTTP {} with a non-JSON body of {} bytes; live page: {got}",
                    response.status,
                    response.body.len()
                ),
            ),
            other => other,
        }),
    }
}

/// `LiveRoom.liveRoomUserInfo` of the live page's `SIGI_STATE`.
async fn page_state(ctx: &PlatformContext, channel: &str, url: &str) -> Result<Value> {
    let response = ctx
        .http
        .get(NAME, url)
        .header("Referer", REFERER)
        .with_platform_cookies()
        .send()
        .await?
        .check_common()?;
    if let Some(error) = refusal(&response, "the live page") {
        return Err(error);
    }
    if response.status == 404 {
        return Err(PlatformError::not_found(NAME, channel));
    }
    let expected = "a live page with <script id=\"SIGI_STATE\">";
    let pattern = Regex::new(r#"(?s)<script id="SIGI_STATE"[^>]*>(.*?)</script>"#)
        .map_err(|e| PlatformError::Config(e.to_string()))?;
    let page = response.text();
    let Some(json) = pattern.captures(&page).and_then(|c| c.get(1)) else {
        return Err(response.unexpected(expected));
    };
    let state: Value = serde_json::from_str(json.as_str()).map_err(|e| {
        PlatformError::unexpected(NAME, response.url(), expected, format!("SIGI_STATE: {e}"))
    })?;
    match state.pointer("/LiveRoom/liveRoomUserInfo") {
        Some(info) if j::at(info, "/user").is_some() => Ok(info.clone()),
        _ => Err(PlatformError::not_found(NAME, channel)),
    }
}

fn is_live(info: &Value) -> bool {
    let room_id = j::string_or_empty(info, "/user/roomId");
    let status = j::int(info, "/liveRoom/status").or_else(|| j::int(info, "/user/status"));
    status == Some(2) && !room_id.is_empty() && room_id != "0"
}

#[async_trait]
impl PlatformAdapter for TikTok {
    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec!["https://www.tiktok.com/@<user>/live".into()]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !matches!(host(&url).as_str(), "www.tiktok.com" | "tiktok.com" | "m.tiktok.com") {
            return None;
        }
        match segments(&url).as_slice() {
            [user, live] if live == "live" => {
                let name = user.strip_prefix('@')?;
                let valid = !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
                valid.then(|| name.to_ascii_lowercase())
            }
            _ => None,
        }
    }

    fn channel_url(&self, channel: &str) -> String {
        format!("{WWW}/@{channel}/live")
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let info = room_info(ctx, channel).await?;
        let live = is_live(&info);
        let avatar = ["/user/avatarLarger", "/user/avatarMedium", "/user/avatarThumb"]
            .iter()
            .find_map(|p| j::string(&info, p).filter(|a| !a.is_empty()))
            .unwrap_or_default();
        Ok({
            let mut built = LiveInfo::default();
            built.uid = j::string_or_empty(&info, "/user/id");
            built.uname = j::string(&info, "/user/nickname")
                .filter(|n| !n.is_empty())
                .or_else(|| j::string(&info, "/user/uniqueId"))
                .unwrap_or_default();
            built.avatar = avatar;
            built.title = j::string_or_empty(&info, "/liveRoom/title");
            built.cover = j::string_or_empty(&info, "/liveRoom/coverUrl");
            built.categories = Vec::new();
            built.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
            built.live_id = if live { j::string(&info, "/user/roomId") } else { None };
            built.start_time =
                if live { j::int(&info, "/liveRoom/startTime").and_then(unix_time) } else { None };
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let info = room_info(ctx, channel).await?;
        if !is_live(&info) {
            return Err(PlatformError::offline(NAME, channel));
        }
        let headers = stream_headers(ctx, NAME, REFERER);
        let variants = info
            .pointer("/liveRoom/streamData/pull_data")
            .map(|pull| bytedance::ladder(pull, &headers))
            .unwrap_or_default();
        if variants.is_empty() {
            return Err(PlatformError::unexpected(
                NAME,
                WWW,
                "liveRoom.streamData.pull_data.stream_data with FLV or HLS URLs",
                "none",
            ));
        }
        Ok(variants)
    }
}
