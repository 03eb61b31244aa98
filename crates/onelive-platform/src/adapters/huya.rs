//! Huya (`huya.com`).
//!
//! Live info and streams come from the mobile JSON API
//! `mp.huya.com/cache.php?m=Live&do=profileRoom&roomid=<n>`. A room alias
//! (`huya.com/xiaoyugame`) is first resolved to its number from the room
//! page (`www.huya.com/<alias>`, `profileRoom`). Stream URLs carry the
//! API's anticode as it came (as rust-srec does; re-signing it, biliup's
//! fallback, is used only when the API gives no `wsSecret`), plus `ratio`
//! for a transcoded tier. HDR tiers are skipped. A room is live only when
//! `liveStatus` and `realLiveStatus` both say `ON` and the title is not a
//! rebroadcast (回放, 重播).
//!
//! Stream URLs keep the scheme the API gives (`http://`): biliup notes that
//! an `https://` Huya stream URL may open only once. A recorder must ask for
//! fresh variants on every reconnect (the `wsSecret` also expires).
//!
//! Checked against rust-srec `platforms/huya/mp.rs` (87fc320a) and biliup
//! (adf6a1c0) in 2026-12.

use async_trait::async_trait;
use base64::Engine;
use onelive_events::{LiveInfo, LiveStatus};
use regex::Regex;
use serde_json::Value;

use super::{md5_hex, stream_headers, unix_time};
use crate::adapter::{PlatformAdapter, PlatformContext, StreamKind, StreamVariant};
use crate::error::{PlatformError, Result};
use crate::json as j;
use crate::url_match::{host, http_url, is_digits, on_domain, refusal, segments};

const NAME: &str = "huya";
const API: &str = "https://mp.huya.com/cache.php";
const REFERER: &str = "https://www.huya.com/";
/// CDNs that need a private token (skipped).
const SKIPPED_CDNS: &[&str] = &["HY", "HUYA", "HYZJ"];

/// First path segments that are Huya pages, not rooms.
const RESERVED: &[&str] = &[
    "g",
    "video",
    "l",
    "game",
    "search",
    "myfollow",
    "download",
    "cache.php",
    "index.php",
    "e",
    "topic",
    "info",
    "member",
    "video.html",
    "directory",
];

/// The Huya adapter.
#[derive(Debug, Default, Clone, Copy)]
pub struct Huya;

async fn resolve_room(ctx: &PlatformContext, channel: &str) -> Result<String> {
    if is_digits(channel) {
        return Ok(channel.to_owned());
    }
    let url = format!("https://www.huya.com/{channel}");
    let response =
        ctx.http.get(NAME, &url).header("Referer", REFERER).send().await?.check_common()?;
    if response.status == 404 {
        return Err(PlatformError::not_found(NAME, channel));
    }
    let page = response.text();
    if page.contains("找不到这个主播") || page.contains("该主播涉嫌违规") {
        return Err(PlatformError::not_found(NAME, channel));
    }
    let pattern = Regex::new(r#"(?i)"?profileRoom"?\s*[:=]\s*"?(\d+)"#)
        .map_err(|e| PlatformError::Config(e.to_string()))?;
    pattern
        .captures(&page)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
        .filter(|r| r != "0")
        .ok_or_else(|| response.unexpected("a room page with profileRoom"))
}

async fn profile_room(ctx: &PlatformContext, channel: &str) -> Result<Value> {
    let room = resolve_room(ctx, channel).await?;
    let response = ctx
        .http
        .get(NAME, API)
        .query(&[
            ("m", "Live"),
            ("do", "profileRoom"),
            ("roomid", room.as_str()),
            ("showSecret", "1"),
        ])
        .header("Referer", REFERER)
        .with_platform_cookies()
        .send()
        .await?
        .check_common()?;
    let expected = "profileRoom JSON {status, data}";
    if response.status != 200 {
        return Err(response.unexpected(expected));
    }
    let text = response.text().replace("&amp;", "&");
    let body: Value = serde_json::from_str(&text)
        .map_err(|e| PlatformError::unexpected(NAME, API, expected, e.to_string()))?;
    match j::int(&body, "/status") {
        Some(200) => {
            let data = j::at(&body, "/data")
                .filter(|d| d.is_object())
                .cloned()
                .ok_or_else(|| PlatformError::unexpected(NAME, API, expected, "no data object"))?;
            for field in ["/liveStatus", "/profileInfo"] {
                j::require(&data, field, NAME, API, "profileRoom data")?;
            }
            Ok(data)
        }
        Some(422) | Some(404) => Err(PlatformError::not_found(NAME, channel)),
        Some(429) => Err(PlatformError::rate_limited(NAME, None)),
        Some(403) => Err(PlatformError::blocked(NAME, j::string_or_empty(&body, "/message"))),
        other => Err(PlatformError::unexpected(NAME, API, expected, format!("status {other:?}"))),
    }
}

/// The JSON fields this adapter reads, per endpoint, as JSON pointers (`*`
/// stands for every item of an array; checked against the real fixtures by
/// a test).
pub const FIELDS: &[(&str, &[&str])] = &[
    (
        "profileRoom (live)",
        &[
            "/status",
            "/data/liveStatus",
            "/data/realLiveStatus",
            "/data/profileInfo/uid",
            "/data/profileInfo/nick",
            "/data/profileInfo/avatar180",
            "/data/liveData/introduction",
            "/data/liveData/roomName",
            "/data/liveData/startTime",
            "/data/liveData/liveId",
            "/data/liveData/gameFullName",
            "/data/liveData/screenshot",
            "/data/liveData/bitRateInfo",
            "/data/stream/baseSteamInfoList/*/sCdnType",
            "/data/stream/baseSteamInfoList/*/iWebPriorityRate",
            "/data/stream/baseSteamInfoList/*/sStreamName",
            "/data/stream/baseSteamInfoList/*/sFlvUrl",
            "/data/stream/baseSteamInfoList/*/sFlvUrlSuffix",
            "/data/stream/baseSteamInfoList/*/sFlvAntiCode",
            "/data/stream/baseSteamInfoList/*/sHlsUrl",
            "/data/stream/baseSteamInfoList/*/sHlsUrlSuffix",
            "/data/stream/baseSteamInfoList/*/sHlsAntiCode",
        ],
    ),
    ("liveData.bitRateInfo (a JSON string)", &["/*/sDisplayName", "/*/iBitRate", "/*/iCodecType"]),
];

/// Words in a title that mark a rebroadcast, not a live (rust-srec, biliup).
const REBROADCAST: &[&str] = &["回放", "重播"];

fn title(data: &Value) -> String {
    let mut title = j::string_or_empty(data, "/liveData/introduction");
    if title.is_empty() {
        title = j::string_or_empty(data, "/liveData/roomName");
    }
    title
}

/// Live: every status the API gives says `ON`, and the title is no rebroadcast.
fn is_live(data: &Value) -> bool {
    let statuses: Vec<String> =
        ["/liveStatus", "/realLiveStatus"].iter().filter_map(|p| j::string(data, p)).collect();
    !statuses.is_empty()
        && statuses.iter().all(|s| s == "ON")
        && !REBROADCAST.iter().any(|w| title(data).contains(w))
}

/// Rebuilds a Huya anticode for `stream_name` from the API's `anticode`
/// (biliup's fallback; the adapter uses it only when the API's anticode has
/// no `wsSecret`).
///
/// `uid` is the viewer id (random), `now_ms` the clock in milliseconds.
pub fn anticode(anticode: &str, stream_name: &str, uid: u64, now_ms: i64) -> Option<String> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(anticode.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let fm = get("fm")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(fm.as_bytes()).ok()?;
    let prefix = String::from_utf8_lossy(&decoded).split('_').next()?.to_owned();
    let ctype = get("ctype").unwrap_or_else(|| "huya_live".to_owned());
    let t = get("t").unwrap_or_else(|| "100".to_owned());
    let now_secs = now_ms / 1000;
    let mut ws_time = get("wsTime").unwrap_or_default();
    let expires = i64::from_str_radix(&ws_time, 16).unwrap_or(0);
    if expires - now_secs < 20 * 60 {
        ws_time = format!("{:x}", now_secs + 24 * 3600);
    }
    let u = ((uid << 8) | (uid >> 24)) & 0xFFFF_FFFF;
    let seqid = uid as i64 + now_ms;
    let hash = md5_hex(format!("{seqid}|{ctype}|{t}"));
    let secret = md5_hex(format!("{prefix}_{u}_{stream_name}_{hash}_{ws_time}"));
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    out.append_pair("wsSecret", &secret)
        .append_pair("wsTime", &ws_time)
        .append_pair("seqid", &seqid.to_string())
        .append_pair("ctype", &ctype)
        .append_pair("ver", "1")
        .append_pair("fs", &get("fs").unwrap_or_else(|| "bgct".to_owned()))
        .append_pair("u", &u.to_string())
        .append_pair("t", &t)
        .append_pair("sdk_sid", &now_ms.to_string());
    Some(out.finish())
}

#[async_trait]
impl PlatformAdapter for Huya {
    fn name(&self) -> &str {
        NAME
    }

    /// Huya's signed HTTPS stream URLs may be usable once (references:
    /// `../shared/research/platform-fidelity.md`): reconnects re-fetch.
    fn single_use_stream_urls(&self) -> bool {
        true
    }

    fn url_forms(&self) -> Vec<String> {
        vec![
            "https://www.huya.com/<room number>".into(),
            "https://www.huya.com/<alias>".into(),
            "https://m.huya.com/<room number or alias>".into(),
        ]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !matches!(host(&url).as_str(), "huya.com" | "www.huya.com" | "m.huya.com") {
            return None;
        }
        match segments(&url).as_slice() {
            [room]
                if !RESERVED.contains(&room.to_ascii_lowercase().as_str())
                    && room
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                Some(room.clone())
            }
            _ => None,
        }
    }

    fn channel_url(&self, channel: &str) -> String {
        format!("https://www.huya.com/{channel}")
    }

    /// The room number: `/<alias>` and `/<number>` are one room.
    async fn canonical_channel(&self, ctx: &PlatformContext, channel: &str) -> Result<String> {
        resolve_room(ctx, channel).await
    }

    fn not_a_live_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !on_domain(&url, &["huya.com"]) || self.parse_url(url.as_str()).is_some() {
            return None;
        }
        let first = segments(&url).first().map(|s| s.to_ascii_lowercase());
        let what = if host(&url) == "v.huya.com" || first.as_deref() == Some("video") {
            "a Huya video page"
        } else if matches!(first.as_deref(), Some("g" | "l" | "game" | "directory")) {
            "a Huya category page"
        } else if first.is_none() {
            "Huya's home page"
        } else {
            "a Huya page"
        };
        Some(refusal(what, "https://www.huya.com/<room number or alias>"))
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let data = profile_room(ctx, channel).await?;
        let live = is_live(&data);
        let start = j::int(&data, "/liveData/startTime").unwrap_or(0);
        let title = title(&data);
        Ok({
            let mut built = LiveInfo::default();
            built.uid = j::string_or_empty(&data, "/profileInfo/uid");
            built.uname = j::string_or_empty(&data, "/profileInfo/nick");
            built.avatar = j::string_or_empty(&data, "/profileInfo/avatar180");
            built.title = title;
            built.cover = j::string_or_empty(&data, "/liveData/screenshot");
            built.categories = j::string(&data, "/liveData/gameFullName")
                .filter(|s| !s.is_empty())
                .into_iter()
                .collect();
            built.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
            built.live_id = if live {
                j::string(&data, "/liveData/liveId")
                    .filter(|s| !s.is_empty() && s != "0")
                    .or_else(|| (start > 0).then(|| start.to_string()))
            } else {
                None
            };
            built.start_time = if live { unix_time(start) } else { None };
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let data = profile_room(ctx, channel).await?;
        if !is_live(&data) {
            return Err(PlatformError::offline(NAME, channel));
        }
        // (display name, bitrate (0 = source), codec type (1 = HEVC)).
        let mut qualities: Vec<(String, i64, i64)> = j::string(&data, "/liveData/bitRateInfo")
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .map(|v| {
                j::array(&v, "")
                    .iter()
                    .filter_map(|q| {
                        Some((
                            j::string(q, "/sDisplayName")?,
                            j::int(q, "/iBitRate").unwrap_or(0),
                            j::int(q, "/iCodecType").unwrap_or(0),
                        ))
                    })
                    // HDR tiers need a player that asks for them (rust-srec skips them too).
                    .filter(|(name, _, _)| !name.to_ascii_uppercase().contains("HDR"))
                    .collect()
            })
            .unwrap_or_default();
        qualities.sort_by_key(|(_, rate, _)| if *rate == 0 { i64::MAX } else { *rate });
        qualities.reverse();
        if qualities.is_empty() {
            qualities.push(("source".to_owned(), 0, 0));
        }
        let mut cdns: Vec<&Value> = j::array(&data, "/stream/baseSteamInfoList")
            .iter()
            .filter(|c| j::int(c, "/iWebPriorityRate").unwrap_or(0) >= 0)
            .filter(|c| !SKIPPED_CDNS.contains(&j::string_or_empty(c, "/sCdnType").as_str()))
            .collect();
        cdns.sort_by_key(|c| std::cmp::Reverse(j::int(c, "/iWebPriorityRate").unwrap_or(0)));
        let now_ms =
            ctx.clock.now().unix_timestamp() * 1000 + i64::from(ctx.clock.now().millisecond());
        let viewer = 1_234_000_000 + ctx.random.next_u64() % 1_000_000;
        let headers = stream_headers(ctx, NAME, REFERER);
        let mut variants = Vec::new();
        for (kind, url_key, suffix_key, code_key) in [
            (StreamKind::Flv, "/sFlvUrl", "/sFlvUrlSuffix", "/sFlvAntiCode"),
            (StreamKind::Hls, "/sHlsUrl", "/sHlsUrlSuffix", "/sHlsAntiCode"),
        ] {
            for (quality, rate, codec_type) in &qualities {
                for cdn in &cdns {
                    let name = j::string_or_empty(cdn, "/sStreamName");
                    let base = j::string_or_empty(cdn, url_key);
                    let code = j::string_or_empty(cdn, code_key);
                    if name.is_empty() || base.is_empty() {
                        continue;
                    }
                    // The API's anticode as it came; re-signed only when it has no secret.
                    let has_secret = url::form_urlencoded::parse(code.as_bytes())
                        .any(|(k, v)| k == "wsSecret" && !v.is_empty());
                    let mut query = if has_secret {
                        code.clone()
                    } else {
                        let Some(signed) = anticode(&code, &name, viewer, now_ms) else { continue };
                        signed
                    };
                    if *rate != 0 {
                        query.push_str(&format!("&ratio={rate}"));
                    }
                    let suffix =
                        j::string(cdn, suffix_key).filter(|s| !s.is_empty()).unwrap_or_else(|| {
                            if kind == StreamKind::Flv { "flv" } else { "m3u8" }.into()
                        });
                    let mut v = StreamVariant::new(
                        format!("{base}/{name}.{suffix}?{query}"),
                        kind,
                        quality,
                    );
                    v.source = *rate == 0;
                    v.bitrate_kbps = (*rate > 0).then_some(*rate as u32);
                    v.codec = Some(if *codec_type == 1 { "hevc" } else { "avc" }.to_owned());
                    v.cdn = j::string(cdn, "/sCdnType");
                    v.headers = headers.clone();
                    variants.push(v);
                }
            }
        }
        if variants.is_empty() {
            return Err(PlatformError::unexpected(
                NAME,
                API,
                "at least one usable CDN in stream.baseSteamInfoList",
                "none",
            ));
        }
        Ok(variants)
    }
}
