//! Douyin (`live.douyin.com`, 抖音直播).
//!
//! Live info and streams come from one call, the web room API
//! `live.douyin.com/webcast/room/web/enter/`, signed with [`abogus::a_bogus`]
//! over the query and the User-Agent, with a random `msToken` and the
//! cookies the site sets for visitors: `ttwid` (registered once at
//! `ttwid.bytedance.com/ttwid/union/register/` and kept), `__ac_nonce` and
//! `odin_ttid`. The clock and the randomness come from the
//! [`PlatformContext`], so a fixed clock and seed give the same request.
//!
//! Douyin's risk control answers a refused request with HTTP 200 and an
//! empty body: that is [`PlatformError::Blocked`], never "offline". The
//! adapter then tries the app reflow API
//! (`webcast.amemv.com/webcast/room/reflow/info/`), which needs the
//! streamer's `sec_uid`: known from an earlier answer for the same room, or
//! from a short link. `v.douyin.com/<code>` share links are resolved with one
//! redirect request (cached).

pub mod abogus;

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};
use serde_json::Value;

use super::{bytedance, stream_headers, unix_time};
use crate::adapter::{PlatformAdapter, PlatformContext, StreamVariant};
use crate::error::{PlatformError, Result};
use crate::json as j;
use crate::url_match::{host, http_url, query, segments};

const NAME: &str = "douyin";
const LIVE: &str = "https://live.douyin.com";
const REFERER: &str = "https://live.douyin.com/";
const TTWID_URL: &str = "https://ttwid.bytedance.com/ttwid/union/register/";
const REFLOW_URL: &str = "https://webcast.amemv.com/webcast/room/reflow/info/";
/// The channel prefix of a share link that still has to be resolved.
const SHORT: &str = "v.douyin.com/";
/// What the web API calls a room that has ended.
const ENDED: &str = "直播已结束";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

/// First path segments of `live.douyin.com` that are pages, not rooms.
const RESERVED: &[&str] =
    &["webcast", "category", "search", "hot_live", "follow", "favicon.ico", "robots.txt", "user"];

/// Where a share link points.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A web room id (`live.douyin.com/<web_rid>`).
    WebRid(String),
    /// A room of the app reflow API (`room_id` `"2"` = the user's current room).
    Reflow { room_id: String, sec_uid: String },
}

#[derive(Default)]
struct State {
    /// The visitor `ttwid` cookie, registered once.
    ttwid: Option<String>,
    /// `sec_uid` of the streamer of each web room seen.
    sec_uids: HashMap<String, String>,
    /// Resolved share links, by code.
    short_links: HashMap<String, Target>,
}

/// The Douyin adapter. It keeps the visitor cookie and what it learned
/// about rooms (a share link's target, a room's streamer) between calls.
#[derive(Default)]
pub struct Douyin {
    state: Mutex<State>,
}

impl std::fmt::Debug for Douyin {
    /// Never shows the visitor cookie.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Douyin").finish_non_exhaustive()
    }
}

/// A room as both APIs describe it.
struct Room {
    room: Value,
    anchor: Value,
    partition: Value,
}

impl Douyin {
    /// A new adapter.
    pub fn new() -> Self {
        Douyin::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The channel's room from the web API, else the reflow API.
    async fn room(&self, ctx: &PlatformContext, channel: &str) -> Result<Room> {
        let target = match channel.strip_prefix(SHORT) {
            Some(code) => self.resolve_short(ctx, code).await?,
            None => Target::WebRid(channel.to_owned()),
        };
        match target {
            Target::Reflow { room_id, sec_uid } => reflow(ctx, channel, &room_id, &sec_uid).await,
            Target::WebRid(web_rid) => match self.web_enter(ctx, &web_rid).await {
                Err(error @ PlatformError::Blocked { .. }) => {
                    let known = self.state().sec_uids.get(&web_rid).cloned();
                    let Some(sec_uid) = known else {
                        return Err(PlatformError::blocked(
                            NAME,
                            format!(
                                "{}; the app reflow fallback needs the streamer's sec_uid, which \
                                 is not known yet for room {web_rid} (it is learned from one \
                                 successful answer, or use the room's v.douyin.com share link)",
                                reason(&error)
                            ),
                        ));
                    };
                    reflow(ctx, channel, "2", &sec_uid).await.map_err(|fallback| {
                        PlatformError::blocked(
                            NAME,
                            format!(
                                "{}; the app reflow fallback failed too: {fallback}",
                                reason(&error)
                            ),
                        )
                    })
                }
                other => other,
            },
        }
    }

    /// One request to the share link, not followed: its `Location` names the room.
    async fn resolve_short(&self, ctx: &PlatformContext, code: &str) -> Result<Target> {
        if let Some(target) = self.state().short_links.get(code).cloned() {
            return Ok(target);
        }
        let url = format!("https://v.douyin.com/{code}/");
        let response = ctx.http.get(NAME, &url).no_redirects().send().await?.check_common()?;
        let channel = format!("{SHORT}{code}");
        let location = match response.status {
            301 | 302 | 303 | 307 | 308 => {
                response.header("location").unwrap_or_default().to_owned()
            }
            404 => return Err(PlatformError::not_found(NAME, &channel)),
            _ => return Err(response.unexpected("a redirect to the shared room")),
        };
        let target = share_target(&location).ok_or_else(|| {
            PlatformError::unexpected(
                NAME,
                &url,
                "a redirect to a live room (live.douyin.com/<web_rid>, a reflow/<room_id> page \
                 with sec_user_id, or a user page)",
                crate::error::strip_query(&location),
            )
        })?;
        self.state().short_links.insert(code.to_owned(), target.clone());
        Ok(target)
    }

    /// The visitor `ttwid`: the configured cookie's, the cached one, or a
    /// new registration. `Err` carries why registration failed.
    async fn ttwid(&self, ctx: &PlatformContext) -> std::result::Result<String, String> {
        if let Some(ttwid) = self.state().ttwid.clone() {
            return Ok(ttwid);
        }
        let body = serde_json::json!({
            "region": "cn", "aid": 6383, "needFid": false,
            "service": "https://www.douyin.com", "union": true, "fid": ""
        });
        let response =
            ctx.http.post(NAME, TTWID_URL).json(body).send().await.map_err(|e| e.to_string())?;
        let cookie = response
            .header("set-cookie")
            .and_then(|c| c.split(';').next())
            .and_then(|c| c.trim().strip_prefix("ttwid="))
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        match cookie {
            Some(ttwid) => {
                self.state().ttwid = Some(ttwid.clone());
                Ok(ttwid)
            }
            None => Err(format!("HTTP {} without a ttwid cookie", response.status)),
        }
    }

    async fn web_enter(&self, ctx: &PlatformContext, web_rid: &str) -> Result<Room> {
        let configured = ctx.config().site(NAME).cookies.filter(|c| !c.trim().is_empty());
        let mut cookies = Vec::new();
        let mut ttwid_problem = None;
        if !configured.as_deref().is_some_and(|c| c.contains("ttwid=")) {
            match self.ttwid(ctx).await {
                Ok(ttwid) => cookies.push(format!("ttwid={ttwid}")),
                Err(why) => ttwid_problem = Some(why),
            }
        }
        let user_agent = ctx.config().user_agent_for(NAME);
        let ms_token = random_string(ctx, 184, ALNUM);
        cookies.push(format!("__ac_nonce={}", random_string(ctx, 21, HEX)));
        cookies.push(format!("odin_ttid={}", random_string(ctx, 160, HEX)));
        if let Some(configured) = configured {
            cookies.push(configured);
        }
        let query = web_enter_query(web_rid, &browser_version(&user_agent), &ms_token);
        let url = format!("{LIVE}/webcast/room/web/enter/?{}", signed(ctx, &query, &user_agent));
        let response = ctx
            .http
            .get(NAME, &url)
            .header("User-Agent", &user_agent)
            .header("Referer", REFERER)
            .header("Accept-Language", "zh-CN,zh;q=0.9")
            .header("Cookie", &cookies.join("; "))
            .send()
            .await?
            .check_common()?;
        if response.status == 403 || response.status == 444 {
            return Err(PlatformError::blocked(
                NAME,
                format!("HTTP {} from the web room API (webcast/room/web/enter)", response.status),
            ));
        }
        if response.status == 200 && response.body.iter().all(u8::is_ascii_whitespace) {
            // A stale visitor cookie is a common cause: register a new one next time.
            self.state().ttwid = None;
            let ttwid = match ttwid_problem {
                Some(why) => format!(", sent without a ttwid cookie: registration failed: {why}"),
                None => String::new(),
            };
            return Err(PlatformError::blocked(
                NAME,
                format!(
                    "risk control: the web room API (webcast/room/web/enter) answered HTTP 200 \
                     with an empty body (a_bogus signature, msToken or cookies refused{ttwid})"
                ),
            ));
        }
        let expected = "web room JSON {status_code: 0, data: {data: [room], user}}";
        if response.status != 200 {
            return Err(response.unexpected(expected));
        }
        let body: Value = response.json(expected)?;
        let code = j::int(&body, "/status_code");
        if code != Some(0) {
            return Err(PlatformError::unexpected(
                NAME,
                response.url(),
                expected,
                format!(
                    "status_code {} {}",
                    code.map_or("missing".to_owned(), |c| c.to_string()),
                    j::string(&body, "/data/prompts")
                        .or_else(|| j::string(&body, "/data/message"))
                        .unwrap_or_default()
                ),
            ));
        }
        let anchor = body.pointer("/data/user").cloned().unwrap_or(Value::Null);
        let room = j::array(&body, "/data/data").first().cloned();
        let Some(room) = room else {
            let prompts = j::string_or_empty(&body, "/data/prompts");
            if prompts.contains(ENDED) || anchor.is_object() {
                // The room exists but the web API has no room object for it.
                if !anchor.is_object() {
                    return Ok(Room {
                        room: serde_json::json!({"status": 4}),
                        anchor,
                        partition: Value::Null,
                    });
                }
                return Err(PlatformError::unexpected(
                    NAME,
                    response.url(),
                    "a room in data.data",
                    "an empty data.data (a VR, audio or other room the web API does not serve)",
                ));
            }
            return Err(PlatformError::not_found(NAME, web_rid));
        };
        if let Some(sec_uid) = j::string(&anchor, "/sec_uid").filter(|s| !s.is_empty()) {
            self.state().sec_uids.insert(web_rid.to_owned(), sec_uid);
        }
        let partition = body.pointer("/data/partition_road_map").cloned().unwrap_or(Value::Null);
        Ok(Room { room, anchor, partition })
    }
}

/// The reason text of a Blocked error.
fn reason(error: &PlatformError) -> String {
    match error {
        PlatformError::Blocked { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// The app reflow API: the room object at `data.room`, its owner inside.
async fn reflow(
    ctx: &PlatformContext,
    channel: &str,
    room_id: &str,
    sec_uid: &str,
) -> Result<Room> {
    let user_agent = ctx.config().user_agent_for(NAME);
    let ms_token = random_string(ctx, 184, ALNUM);
    let query = form(&[
        ("type_id", "0"),
        ("live_id", "1"),
        ("room_id", room_id),
        ("sec_user_id", sec_uid),
        ("version_code", "99.99.99"),
        ("app_id", "1128"),
        ("msToken", &ms_token),
    ]);
    let url = format!("{REFLOW_URL}?{}", signed(ctx, &query, &user_agent));
    let mut request = ctx
        .http
        .get(NAME, &url)
        .header("User-Agent", &user_agent)
        .header("Referer", REFERER)
        .header("Accept-Language", "zh-CN,zh;q=0.9");
    if let Some(cookies) = ctx.config().site(NAME).cookies.filter(|c| !c.trim().is_empty()) {
        request = request.header("Cookie", &cookies);
    }
    let response = request.send().await?.check_common()?;
    if response.status == 403 {
        return Err(PlatformError::blocked(NAME, "HTTP 403 from the app reflow API"));
    }
    if response.status == 200 && response.body.iter().all(u8::is_ascii_whitespace) {
        return Err(PlatformError::blocked(
            NAME,
            "risk control: the app reflow API (webcast/room/reflow/info) answered HTTP 200 with an \
             empty body",
        ));
    }
    let expected = "reflow JSON {status_code: 0, data: {room}}";
    if response.status != 200 {
        return Err(response.unexpected(expected));
    }
    let body: Value = response.json(expected)?;
    match j::int(&body, "/status_code") {
        Some(0) => {}
        Some(_) if j::at(&body, "/data/room").is_none() => {
            return Err(PlatformError::not_found(NAME, channel));
        }
        _ => return Err(response.unexpected(expected)),
    }
    let Some(room) = body.pointer("/data/room").filter(|r| r.is_object()).cloned() else {
        return Err(PlatformError::not_found(NAME, channel));
    };
    let anchor = room.get("owner").cloned().unwrap_or(Value::Null);
    Ok(Room { room, anchor, partition: Value::Null })
}

/// The web room API's query (without `a_bogus`), in the order the site sends it.
fn web_enter_query(web_rid: &str, browser_version: &str, ms_token: &str) -> String {
    form(&[
        ("aid", "6383"),
        ("app_name", "douyin_web"),
        ("live_id", "1"),
        ("device_platform", "web"),
        ("enter_from", "web_live"),
        ("language", "zh-CN"),
        ("browser_language", "zh-CN"),
        ("browser_platform", "Win32"),
        ("browser_name", "Chrome"),
        ("browser_version", browser_version),
        ("web_rid", web_rid),
        ("msToken", ms_token),
    ])
}

/// `query&a_bogus=<signature>`, signed now with three random numbers.
fn signed(ctx: &PlatformContext, query: &str, user_agent: &str) -> String {
    let now_ms = (ctx.clock.now().unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    let random = [0, 1, 2].map(|_| (ctx.random.next_u64() % 10_000) as u32);
    let input = abogus::SignInput { user_agent, now_ms, random };
    format!("{query}&a_bogus={}", abogus::a_bogus(query, &input))
}

/// `application/x-www-form-urlencoded` pairs, in order.
fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// `124.0.0.0` from a Chrome User-Agent (the API wants the major version).
fn browser_version(user_agent: &str) -> String {
    let major = user_agent
        .split("Chrome/")
        .nth(1)
        .and_then(|rest| rest.split('.').next())
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("124");
    format!("{major}.0.0.0")
}

fn random_string(ctx: &PlatformContext, len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|_| char::from(alphabet[(ctx.random.next_u64() % alphabet.len() as u64) as usize]))
        .collect()
}

/// What a share link's redirect `location` points at.
fn share_target(location: &str) -> Option<Target> {
    let url = http_url(location)?;
    let host = host(&url);
    let segments = segments(&url);
    if host == "live.douyin.com" {
        return segments.first().map(|s| Target::WebRid(s.trim_start_matches('+').to_owned()));
    }
    // webcast.amemv.com/douyin/webcast/reflow/<room_id>?sec_user_id=...
    if let Some(at) = segments.iter().position(|s| s == "reflow")
        && let (Some(room_id), Some(sec_uid)) = (segments.get(at + 1), query(&url, "sec_user_id"))
    {
        return Some(Target::Reflow { room_id: room_id.clone(), sec_uid });
    }
    // www.iesdouyin.com/share/user/<sec_uid> or www.douyin.com/user/<sec_uid>
    if let Some(at) = segments.iter().position(|s| s == "user")
        && let Some(sec_uid) = segments.get(at + 1).filter(|s| s.starts_with("MS4wLjAB"))
    {
        return Some(Target::Reflow { room_id: "2".to_owned(), sec_uid: sec_uid.clone() });
    }
    None
}

fn first_url(value: &Value, pointer: &str) -> String {
    j::array(value, pointer).first().and_then(Value::as_str).unwrap_or_default().to_owned()
}

#[async_trait]
impl PlatformAdapter for Douyin {
    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec![
            "https://live.douyin.com/<web_rid>".into(),
            "https://v.douyin.com/<share code>/ (share link)".into(),
        ]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        let segments = segments(&url);
        match host(&url).as_str() {
            "live.douyin.com" => match segments.as_slice() {
                [rid] => {
                    let rid = rid.trim_start_matches('+');
                    let valid = !rid.is_empty()
                        && !RESERVED.contains(&rid.to_ascii_lowercase().as_str())
                        && rid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
                    valid.then(|| rid.to_owned())
                }
                _ => None,
            },
            "www.douyin.com" | "douyin.com" => match segments.as_slice() {
                [section, live, rid]
                    if matches!(section.as_str(), "follow" | "root")
                        && live == "live"
                        && rid.bytes().all(|b| b.is_ascii_alphanumeric()) =>
                {
                    Some(rid.clone())
                }
                _ => None,
            },
            "v.douyin.com" => match segments.as_slice() {
                [code]
                    if code
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
                {
                    Some(format!("{SHORT}{code}"))
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn channel_url(&self, channel: &str) -> String {
        match channel.strip_prefix(SHORT) {
            Some(code) => format!("https://v.douyin.com/{code}/"),
            None => format!("{LIVE}/{channel}"),
        }
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let Room { room, anchor, partition } = self.room(ctx, channel).await?;
        let live = j::int(&room, "/status") == Some(2);
        let mut categories = Vec::new();
        for p in ["/partition/title", "/sub_partition/partition/title"] {
            if let Some(c) =
                j::string(&partition, p).filter(|c| !c.is_empty() && !categories.contains(c))
            {
                categories.push(c);
            }
        }
        Ok({
            let mut built = LiveInfo::default();
            built.uid = j::string(&anchor, "/id_str")
                .filter(|s| !s.is_empty())
                .or_else(|| j::string(&anchor, "/sec_uid"))
                .unwrap_or_default();
            built.uname = j::string_or_empty(&anchor, "/nickname");
            built.avatar = first_url(&anchor, "/avatar_thumb/url_list");
            built.title = j::string_or_empty(&room, "/title");
            built.cover = first_url(&room, "/cover/url_list");
            built.categories = categories;
            built.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
            built.live_id =
                if live { j::string(&room, "/id_str").filter(|s| !s.is_empty()) } else { None };
            built.start_time =
                if live { j::int(&room, "/create_time").and_then(unix_time) } else { None };
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let Room { room, .. } = self.room(ctx, channel).await?;
        if j::int(&room, "/status") != Some(2) {
            return Err(PlatformError::offline(NAME, channel));
        }
        let headers = stream_headers(ctx, NAME, REFERER);
        let Some(stream_url) = room.get("stream_url").filter(|s| s.is_object()) else {
            return Err(PlatformError::unexpected(
                NAME,
                LIVE,
                "room.stream_url",
                "a live room without stream_url (a kind of room the web API does not stream; \
                 try its v.douyin.com share link)",
            ));
        };
        let mut variants = stream_url
            .pointer("/live_core_sdk_data/pull_data")
            .map(|pull| bytedance::ladder(pull, &headers))
            .unwrap_or_default();
        if variants.is_empty() {
            variants = bytedance::resolution_maps(stream_url, &headers);
        }
        if variants.is_empty() {
            return Err(PlatformError::unexpected(
                NAME,
                LIVE,
                "stream_data or flv_pull_url in room.stream_url",
                "none",
            ));
        }
        Ok(variants)
    }
}
