//! Bilibili Live (`live.bilibili.com`).
//!
//! Live info: `room_init` (short id to room id, status) on
//! `api.live.bilibili.com`; only when the room is live also `get_info`
//! (title, cover, area) and `get_anchor_in_room` (name, avatar; cached per
//! room for an hour, at most [`ANCHOR_CACHE_ROOMS`] rooms). An offline room
//! costs one request, and its [`LiveInfo`] carries the `uid` and `status`
//! from `room_init`, plus `uname`/`avatar` when the room was seen live
//! within the hour; `title`, `cover` and `categories` are empty and
//! `live_id`/`start_time` are `None`.
//!
//! Streams: `getRoomPlayInfo`, signed with WBI (keys from
//! `api.bilibili.com/x/web-interface/nav`, cached two hours).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};
use serde_json::Value;

use super::{md5_hex, stream_headers, unix_time};
use crate::adapter::{PlatformAdapter, PlatformContext, StreamKind, StreamVariant};
use crate::error::{PlatformError, Result};
use crate::http::HttpResponse;
use crate::json;
use crate::url_match::{host, http_url, is_digits, on_domain, refusal, segments};

const NAME: &str = "bilibili";
const API: &str = "https://api.live.bilibili.com";
const NAV: &str = "https://api.bilibili.com/x/web-interface/nav";
const REFERER: &str = "https://live.bilibili.com/";
/// WBI keys are refreshed after this many seconds.
const WBI_KEY_TTL: i64 = 2 * 3600;
/// A streamer's cached name and avatar are refreshed after this many seconds.
const ANCHOR_TTL: i64 = 3600;
/// At most this many rooms keep a cached name and avatar (about 300 bytes
/// each); when full, expired entries go first, then the oldest.
pub const ANCHOR_CACHE_ROOMS: usize = 16_384;

/// The JSON fields this adapter reads, per endpoint, as JSON pointers
/// (checked against the real fixtures by a test).
pub const FIELDS: &[(&str, &[&str])] = &[
    ("room_init", &["/code", "/data/room_id", "/data/uid", "/data/live_status", "/data/live_time"]),
    (
        "get_info",
        &[
            "/code",
            "/data/title",
            "/data/user_cover",
            "/data/keyframe",
            "/data/parent_area_name",
            "/data/area_name",
            "/data/live_status",
        ],
    ),
    (
        "getRoomPlayInfo",
        &[
            "/code",
            "/data/playurl_info/playurl/g_qn_desc/*/qn",
            "/data/playurl_info/playurl/g_qn_desc/*/desc",
            "/data/playurl_info/playurl/stream/*/protocol_name",
            "/data/playurl_info/playurl/stream/*/format/*/codec/*/codec_name",
            "/data/playurl_info/playurl/stream/*/format/*/codec/*/current_qn",
            "/data/playurl_info/playurl/stream/*/format/*/codec/*/accept_qn",
            "/data/playurl_info/playurl/stream/*/format/*/codec/*/base_url",
            "/data/playurl_info/playurl/stream/*/format/*/codec/*/url_info/*/host",
            "/data/playurl_info/playurl/stream/*/format/*/codec/*/url_info/*/extra",
        ],
    ),
    (
        "get_anchor_in_room (no real fixture)",
        &["/data/info/uid", "/data/info/uname", "/data/info/face"],
    ),
    ("nav (no real fixture)", &["/data/wbi_img/img_url", "/data/wbi_img/sub_url"]),
];

/// The fixed permutation of the WBI mixin key (public, from Bilibili's web player).
const MIXIN_KEY_ORDER: [usize; 64] = [
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49, 33, 9, 42, 19, 29,
    28, 14, 39, 12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40, 61, 26, 17, 0, 1, 60, 51, 30, 4, 22, 25,
    54, 21, 56, 59, 6, 63, 57, 62, 11, 36, 20, 34, 44, 52,
];

/// The Bilibili Live adapter.
#[derive(Debug, Default)]
pub struct Bilibili {
    /// (mixin key, fetched at unix seconds).
    wbi_key: Mutex<Option<(String, i64)>>,
    /// Streamer name and avatar per room id.
    anchors: Mutex<AnchorCache>,
}

/// A streamer's name and avatar, as `get_anchor_in_room` gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Anchor {
    uid: String,
    uname: String,
    avatar: String,
}

/// A bounded per-room cache of [`Anchor`]s with a time to live.
#[derive(Debug)]
struct AnchorCache {
    capacity: usize,
    ttl: i64,
    /// room id -> (anchor, fetched at unix seconds).
    rooms: HashMap<String, (Anchor, i64)>,
}

impl Default for AnchorCache {
    fn default() -> Self {
        AnchorCache::new(ANCHOR_CACHE_ROOMS, ANCHOR_TTL)
    }
}

impl AnchorCache {
    fn new(capacity: usize, ttl: i64) -> Self {
        AnchorCache { capacity, ttl, rooms: HashMap::new() }
    }

    /// The anchor of `room_id` if fetched less than `ttl` seconds before `now`.
    fn fresh(&self, room_id: &str, now: i64) -> Option<Anchor> {
        self.rooms
            .get(room_id)
            .filter(|(_, at)| now - at < self.ttl && now >= *at)
            .map(|(anchor, _)| anchor.clone())
    }

    /// The anchor of `room_id` however old (for offline rooms: better a
    /// name from yesterday than none).
    fn any(&self, room_id: &str) -> Option<Anchor> {
        self.rooms.get(room_id).map(|(anchor, _)| anchor.clone())
    }

    fn insert(&mut self, room_id: &str, anchor: Anchor, now: i64) {
        if self.capacity == 0 {
            return;
        }
        if !self.rooms.contains_key(room_id) && self.rooms.len() >= self.capacity {
            let ttl = self.ttl;
            self.rooms.retain(|_, (_, at)| now - *at < ttl && now >= *at);
            if self.rooms.len() >= self.capacity
                && let Some(oldest) =
                    self.rooms.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone())
            {
                self.rooms.remove(&oldest);
            }
        }
        self.rooms.insert(room_id.to_owned(), (anchor, now));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.rooms.len()
    }
}

impl Bilibili {
    /// A new adapter (with an empty WBI key cache).
    pub fn new() -> Self {
        Bilibili::default()
    }
}

/// The WBI mixin key of an `img_key` and a `sub_key`.
pub fn wbi_mixin_key(img_key: &str, sub_key: &str) -> String {
    let raw: Vec<char> = format!("{img_key}{sub_key}").chars().collect();
    MIXIN_KEY_ORDER.iter().filter_map(|&i| raw.get(i)).take(32).collect()
}

/// Signs `params` with WBI: adds `wts` (unix seconds), sorts by key,
/// strips `!'()*` from values, and appends `w_rid = md5(query + mixin_key)`.
/// Returns the signed parameters in order.
///
/// ```
/// use onelive_platform::adapters::bilibili::{wbi_mixin_key, wbi_sign};
///
/// let key = wbi_mixin_key("7cd084941338484aae1ad9425b84077c", "4932caff0ff746eab6f01bf08b70ac45");
/// let signed = wbi_sign(&[("foo", "114"), ("bar", "514"), ("zab", "1919810")], &key, 1702204169);
/// assert_eq!(signed.last().unwrap().1, "8f6f2b5b3d485fe1886cec6a0be8c5d4");
/// ```
pub fn wbi_sign(params: &[(&str, &str)], mixin_key: &str, wts: i64) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| {
            ((*k).to_owned(), v.chars().filter(|c| !"!'()*".contains(*c)).collect::<String>())
        })
        .collect();
    pairs.push(("wts".to_owned(), wts.to_string()));
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let query: String = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let w_rid = md5_hex(format!("{query}{mixin_key}"));
    pairs.push(("w_rid".to_owned(), w_rid));
    pairs
}

/// encodeURIComponent-style percent encoding.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

/// Checks the `{code, message, data}` envelope and returns `data`.
fn envelope(response: HttpResponse, channel: &str, expected: &str) -> Result<Value> {
    let response = response.check_common()?;
    if response.status == 412 {
        return Err(PlatformError::blocked(NAME, "HTTP 412 (risk control)"));
    }
    let body: Value = response.json(expected)?;
    let code = json::int(&body, "/code").ok_or_else(|| response.unexpected(expected))?;
    let message = json::string_or_empty(&body, "/message") + &json::string_or_empty(&body, "/msg");
    match code {
        0 => Ok(body.get("data").cloned().unwrap_or(Value::Null)),
        60004 | 60005 | 19002000 => Err(PlatformError::not_found(NAME, channel)),
        -352 | -412 | -403 => Err(PlatformError::blocked(NAME, format!("code {code} {message}"))),
        -509 | -799 => Err(PlatformError::rate_limited(NAME, None)),
        -101 => Err(PlatformError::login_required(NAME, format!("code {code} {message}"))),
        _ => Err(PlatformError::unexpected(
            NAME,
            response.url(),
            expected,
            format!("code {code} {message}"),
        )),
    }
}

/// `room_init` facts.
struct Room {
    room_id: String,
    uid: String,
    live: bool,
    live_time: i64,
}

impl Bilibili {
    async fn room_init(&self, ctx: &PlatformContext, channel: &str) -> Result<Room> {
        let url = format!("{API}/room/v1/Room/room_init");
        let response = ctx
            .http
            .get(NAME, &url)
            .query(&[("id", channel)])
            .header("Referer", REFERER)
            .with_platform_cookies()
            .send()
            .await?;
        let expected = "room_init JSON {code, data: {room_id, live_status}}";
        let data = envelope(response, channel, expected)?;
        json::require(&data, "/live_status", NAME, &url, "room_init data")?;
        let room_id = json::string(&data, "/room_id")
            .ok_or_else(|| PlatformError::unexpected(NAME, &url, expected, "no data.room_id"))?;
        Ok(Room {
            room_id,
            uid: json::string_or_empty(&data, "/uid"),
            live: json::int(&data, "/live_status") == Some(1),
            live_time: json::int(&data, "/live_time").unwrap_or(0),
        })
    }

    /// The streamer of a room: from the cache when fresh, else one
    /// `get_anchor_in_room` request (whose answer is cached).
    async fn anchor(&self, ctx: &PlatformContext, channel: &str, room: &Room) -> Result<Anchor> {
        let now = ctx.unix_now();
        if let Some(anchor) = self.anchors.lock().ok().and_then(|c| c.fresh(&room.room_id, now)) {
            return Ok(anchor);
        }
        let anchor_url = format!("{API}/live_user/v1/UserInfo/get_anchor_in_room");
        let response = ctx
            .http
            .get(NAME, &anchor_url)
            .query(&[("roomid", room.room_id.as_str())])
            .header("Referer", REFERER)
            .with_platform_cookies()
            .send()
            .await?;
        let data = envelope(response, channel, "get_anchor_in_room JSON {code, data: {info}}")?;
        let anchor = Anchor {
            uid: json::string(&data, "/info/uid").unwrap_or_else(|| room.uid.clone()),
            uname: json::string_or_empty(&data, "/info/uname"),
            avatar: json::string_or_empty(&data, "/info/face"),
        };
        if let Ok(mut cache) = self.anchors.lock() {
            cache.insert(&room.room_id, anchor.clone(), now);
        }
        Ok(anchor)
    }

    async fn mixin_key(&self, ctx: &PlatformContext) -> Result<String> {
        let now = ctx.unix_now();
        if let Ok(cache) = self.wbi_key.lock()
            && let Some((key, at)) = cache.as_ref()
            && now - at < WBI_KEY_TTL
        {
            return Ok(key.clone());
        }
        let response = ctx
            .http
            .get(NAME, NAV)
            .header("Referer", REFERER)
            .with_platform_cookies()
            .send()
            .await?
            .check_common()?;
        let expected = "nav JSON with data.wbi_img.{img_url, sub_url}";
        let body: Value = response.json(expected)?;
        let stem = |pointer: &str| -> Option<String> {
            let url = json::string(&body, pointer)?;
            let file = url.rsplit('/').next()?;
            Some(file.split('.').next()?.to_owned())
        };
        let (Some(img), Some(sub)) = (stem("/data/wbi_img/img_url"), stem("/data/wbi_img/sub_url"))
        else {
            return Err(response.unexpected(expected));
        };
        let key = wbi_mixin_key(&img, &sub);
        if let Ok(mut cache) = self.wbi_key.lock() {
            *cache = Some((key.clone(), now));
        }
        Ok(key)
    }
}

#[async_trait]
impl PlatformAdapter for Bilibili {
    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec![
            "https://live.bilibili.com/<room id or short id>".into(),
            "https://live.bilibili.com/blanc/<room id>".into(),
            "https://live.bilibili.com/h5/<room id> (mobile)".into(),
        ]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !matches!(host(&url).as_str(), "live.bilibili.com" | "m.live.bilibili.com") {
            return None;
        }
        let segs = segments(&url);
        let id = match segs.as_slice() {
            [id] => id,
            [prefix, id] if prefix == "blanc" || prefix == "h5" => id,
            _ => return None,
        };
        is_digits(id).then(|| id.trim_start_matches('0').to_owned()).filter(|s| !s.is_empty())
    }

    fn channel_url(&self, channel: &str) -> String {
        format!("https://live.bilibili.com/{channel}")
    }

    fn not_a_live_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !on_domain(&url, &["bilibili.com", "b23.tv"]) || self.parse_url(url.as_str()).is_some() {
            return None;
        }
        let host = host(&url);
        let what = if host == "space.bilibili.com" {
            "a Bilibili user page"
        } else if host == "b23.tv" {
            "a Bilibili short link (open it in a browser to see where it leads)"
        } else if segments(&url).first().is_some_and(|s| s == "video" || s == "bangumi") {
            "a Bilibili video"
        } else if host.starts_with("live.") || host.starts_with("m.live.") {
            "a Bilibili Live page"
        } else {
            "a Bilibili page"
        };
        Some(refusal(what, "https://live.bilibili.com/<room id>"))
    }

    /// The long room id (`room_init`'s `room_id`): `/196` and `/21452505`
    /// are one room.
    async fn canonical_channel(&self, ctx: &PlatformContext, channel: &str) -> Result<String> {
        Ok(self.room_init(ctx, channel).await?.room_id)
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let room = self.room_init(ctx, channel).await?;
        if !room.live {
            // One request for an offline room: what room_init says, plus
            // the streamer's name and avatar if an earlier live poll
            // cached them.
            let anchor = self.anchors.lock().ok().and_then(|c| c.any(&room.room_id));
            let (uname, avatar) = anchor.map(|a| (a.uname, a.avatar)).unwrap_or_default();
            return Ok({
                let mut built = LiveInfo::default();
                built.uid = room.uid;
                built.uname = uname;
                built.avatar = avatar;
                built.status = LiveStatus::Offline;
                built
            });
        }
        let info_url = format!("{API}/room/v1/Room/get_info");
        let response = ctx
            .http
            .get(NAME, &info_url)
            .query(&[("room_id", room.room_id.as_str())])
            .header("Referer", REFERER)
            .with_platform_cookies()
            .send()
            .await?;
        let info = envelope(response, channel, "get_info JSON {code, data: {title, ...}}")?;
        let anchor = self.anchor(ctx, channel, &room).await?;

        let mut cover = json::string_or_empty(&info, "/user_cover");
        if cover.is_empty() {
            cover = json::string_or_empty(&info, "/keyframe");
        }
        let categories = ["/parent_area_name", "/area_name"]
            .iter()
            .filter_map(|p| json::string(&info, p))
            .filter(|s| !s.is_empty())
            .collect();
        // room_init said live; get_info may have seen the stream end since.
        let live = json::int(&info, "/live_status").is_none_or(|s| s == 1);
        Ok({
            let mut built = LiveInfo::default();
            built.uid = anchor.uid;
            built.uname = anchor.uname;
            built.avatar = anchor.avatar;
            built.title = json::string_or_empty(&info, "/title");
            built.cover = cover;
            built.categories = categories;
            built.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
            built.live_id = (live && room.live_time > 0).then(|| room.live_time.to_string());
            built.start_time = if live { unix_time(room.live_time) } else { None };
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let room = self.room_init(ctx, channel).await?;
        if !room.live {
            return Err(PlatformError::offline(NAME, channel));
        }
        let key = self.mixin_key(ctx).await?;
        // The best tier first; then the lower tiers the room accepts. Tiers
        // above the one served are not asked for: Bilibili serves at most
        // qn 250 without a login whatever is asked, so asking again for
        // 10000 or 400 would only cost requests.
        let Some(first) = self.play_info(ctx, channel, &room.room_id, &key, 10000).await? else {
            return Err(PlatformError::offline(NAME, channel));
        };
        let mut variants = first.variants(ctx, None);
        if let Some(capped) = first.capped_at() {
            tracing::debug!(
                room = %room.room_id,
                served = capped,
                "bilibili: served below the best accepted tier (no login cookie?)"
            );
        }
        for qn in first.lower_tiers() {
            if let Some(tier) = self.play_info(ctx, channel, &room.room_id, &key, qn).await? {
                variants.extend(tier.variants(ctx, Some(qn)));
            }
        }
        if variants.is_empty() {
            return Err(PlatformError::unexpected(
                NAME,
                PLAY_INFO,
                "at least one stream URL in playurl_info",
                "none",
            ));
        }
        Ok(variants)
    }
}

const PLAY_INFO: &str = "https://api.live.bilibili.com/xlive/web-room/v2/index/getRoomPlayInfo";

/// The `playurl` object of one getRoomPlayInfo answer.
struct PlayUrl(Value);

impl PlayUrl {
    /// The served qn when it is below the best tier the room accepts (an
    /// anonymous viewer gets 250 when asking for 10000).
    fn capped_at(&self) -> Option<i64> {
        let (served, accepted) = self.tiers();
        let best_served = served.iter().copied().max()?;
        let best_accepted = accepted.iter().copied().max()?;
        (best_served < best_accepted).then_some(best_served)
    }

    /// The accepted qn tiers below the best one served, best first.
    fn lower_tiers(&self) -> Vec<i64> {
        let (served, mut accepted) = self.tiers();
        let Some(best_served) = served.iter().copied().max() else { return Vec::new() };
        accepted.retain(|qn| !served.contains(qn) && *qn < best_served);
        accepted.sort_unstable_by(|a, b| b.cmp(a));
        accepted.dedup();
        accepted
    }

    /// The served (`current_qn`) and accepted (`accept_qn`) tiers.
    fn tiers(&self) -> (Vec<i64>, Vec<i64>) {
        let mut served = Vec::new();
        let mut accepted = Vec::new();
        for stream in json::array(&self.0, "/stream") {
            for format in json::array(stream, "/format") {
                for codec in json::array(format, "/codec") {
                    served.extend(json::int(codec, "/current_qn"));
                    accepted
                        .extend(json::array(codec, "/accept_qn").iter().filter_map(Value::as_i64));
                }
            }
        }
        (served, accepted)
    }

    /// The variants served at `only_qn` (all served tiers when `None`).
    fn variants(&self, ctx: &PlatformContext, only_qn: Option<i64>) -> Vec<StreamVariant> {
        let playurl = &self.0;
        let names: Vec<(i64, String)> = json::array(playurl, "/g_qn_desc")
            .iter()
            .filter_map(|d| Some((json::int(d, "/qn")?, json::string(d, "/desc")?)))
            .collect();
        let headers = stream_headers(ctx, NAME, REFERER);
        let mut variants = Vec::new();
        for stream in json::array(playurl, "/stream") {
            let kind = match json::string_or_empty(stream, "/protocol_name").as_str() {
                "http_stream" => StreamKind::Flv,
                "http_hls" => StreamKind::Hls,
                _ => continue,
            };
            for format in json::array(stream, "/format") {
                for codec in json::array(format, "/codec") {
                    let qn = json::int(codec, "/current_qn").unwrap_or(0);
                    if only_qn.is_some_and(|wanted| wanted != qn) {
                        continue;
                    }
                    let accept: Vec<i64> = json::array(codec, "/accept_qn")
                        .iter()
                        .filter_map(|q| q.as_i64())
                        .collect();
                    let quality = names
                        .iter()
                        .find(|(n, _)| *n == qn)
                        .map(|(_, d)| d.clone())
                        .unwrap_or_else(|| format!("qn{qn}"));
                    let base = json::string_or_empty(codec, "/base_url");
                    for info in json::array(codec, "/url_info") {
                        let host = json::string_or_empty(info, "/host");
                        let extra = json::string_or_empty(info, "/extra");
                        if host.is_empty() || base.is_empty() {
                            continue;
                        }
                        let mut v =
                            StreamVariant::new(format!("{host}{base}{extra}"), kind, &quality);
                        v.source = qn == 10000 || accept.iter().all(|a| *a <= qn);
                        v.codec = json::string(codec, "/codec_name");
                        v.cdn = extra
                            .split('&')
                            .find_map(|p| p.strip_prefix("cdn="))
                            .map(str::to_owned)
                            .or_else(|| Some(host.trim_start_matches("https://").to_owned()));
                        v.headers = headers.clone();
                        variants.push(v);
                    }
                }
            }
        }
        variants
    }
}

impl Bilibili {
    /// One WBI-signed getRoomPlayInfo call for tier `qn`; `None` when the
    /// answer has no `playurl_info` (offline).
    async fn play_info(
        &self,
        ctx: &PlatformContext,
        channel: &str,
        room_id: &str,
        key: &str,
        qn: i64,
    ) -> Result<Option<PlayUrl>> {
        let qn = qn.to_string();
        let params = [
            ("room_id", room_id),
            ("protocol", "0,1"),
            ("format", "0,1,2"),
            ("codec", "0,1"),
            ("qn", qn.as_str()),
            ("platform", "web"),
            ("ptype", "8"),
            ("dolby", "5"),
            ("panorama", "1"),
            ("web_location", "444.8"),
        ];
        let signed = wbi_sign(&params, key, ctx.unix_now());
        let response = ctx
            .http
            .get(NAME, PLAY_INFO)
            .query(&signed)
            .header("Referer", REFERER)
            .with_platform_cookies()
            .send()
            .await?;
        let expected = "getRoomPlayInfo JSON {code, data: {playurl_info}}";
        let data = envelope(response, channel, expected)?;
        json::require(&data, "/playurl_info", NAME, PLAY_INFO, "getRoomPlayInfo data")?;
        if json::at(&data, "/playurl_info").is_some() {
            json::require(&data, "/playurl_info/playurl", NAME, PLAY_INFO, "getRoomPlayInfo data")?;
        }
        Ok(json::at(&data, "/playurl_info/playurl").cloned().map(PlayUrl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wbi_reference_vector() {
        let key =
            wbi_mixin_key("7cd084941338484aae1ad9425b84077c", "4932caff0ff746eab6f01bf08b70ac45");
        assert_eq!(key, "ea1db124af3c7062474693fa704f4ff8");
        let signed =
            wbi_sign(&[("foo", "114"), ("bar", "514"), ("zab", "1919810")], &key, 1702204169);
        let keys: Vec<&str> = signed.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["bar", "foo", "wts", "zab", "w_rid"]);
        assert_eq!(signed[4].1, "8f6f2b5b3d485fe1886cec6a0be8c5d4");
    }

    fn anchor(name: &str) -> Anchor {
        Anchor { uid: "1".into(), uname: name.into(), avatar: format!("{name}.jpg") }
    }

    #[test]
    fn anchor_cache_expires_entries() {
        let mut cache = AnchorCache::new(4, 100);
        cache.insert("r1", anchor("a"), 1000);
        assert_eq!(cache.fresh("r1", 1099), Some(anchor("a")));
        assert_eq!(cache.fresh("r1", 1100), None, "expired after the ttl");
        assert_eq!(cache.any("r1"), Some(anchor("a")), "still known for offline rooms");
        assert_eq!(cache.fresh("r2", 1000), None);
        cache.insert("r1", anchor("b"), 1100);
        assert_eq!(cache.fresh("r1", 1150), Some(anchor("b")), "refreshed");
    }

    #[test]
    fn anchor_cache_is_bounded() {
        let mut cache = AnchorCache::new(3, 100);
        cache.insert("r1", anchor("a"), 1000);
        cache.insert("r2", anchor("b"), 1010);
        cache.insert("r3", anchor("c"), 1020);
        // Full, nothing expired: the oldest (r1) goes.
        cache.insert("r4", anchor("d"), 1030);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.any("r1"), None);
        assert_eq!(cache.any("r2"), Some(anchor("b")));
        // Updating a known room evicts nothing.
        cache.insert("r2", anchor("b2"), 1040);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.any("r3"), Some(anchor("c")));
        // Full with an expired entry (r3, fetched at 1020): it goes, the
        // fresh ones stay.
        cache.insert("r5", anchor("e"), 1125);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.any("r3"), None);
        for room in ["r2", "r4", "r5"] {
            assert!(cache.any(room).is_some(), "{room} kept");
        }
    }

    #[test]
    fn wbi_strips_reserved_characters() {
        let a = wbi_sign(&[("q", "a(b)*!'")], "k", 1);
        assert_eq!(a[0].1, "ab");
    }
}
