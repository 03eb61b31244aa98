//! Douyu (`douyu.com`).
//!
//! Live info: `www.douyu.com/betard/<rid>`. Streams: `getEncryption` (a key
//! tied to the user agent, cached until its `expire_at`, refetched when
//! Douyu answers 403 / 鉴权失败), an md5 key-stretched `auth` computed with
//! the clock, then `POST getH5PlayV1/<rid>` once per quality. Error codes
//! -3, -4 and -5 mean the room has no stream (offline); -9 (clock skew) is
//! retried once. When Douyu hands out an `scdn` line (poor, biliup and
//! rust-srec avoid it), the request is repeated once for another line of
//! `cdnsWithName`. Aliases (`douyu.com/pigff`) resolve to a room id through
//! `m.douyu.com/<alias>`; `?rid=<n>` in a URL wins.
//!
//! Checked against rust-srec `platforms/douyu` (87fc320a) and biliup
//! (adf6a1c0) in 2026-12.

use std::sync::Mutex;

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};
use regex::Regex;
use serde_json::Value;

use super::{md5_hex, stream_headers, unix_time};
use crate::adapter::{PlatformAdapter, PlatformContext, StreamKind, StreamVariant};
use crate::error::{PlatformError, Result};
use crate::json as j;
use crate::url_match::{host, http_url, is_digits, on_domain, query, refusal, segments};

const NAME: &str = "douyu";
const WWW: &str = "https://www.douyu.com";
const REFERER: &str = "https://www.douyu.com/";
/// The device id the web player uses when it has none.
const DEFAULT_DID: &str = "10000000000000000000000000001501";

/// First path segments that are Douyu pages, not rooms.
const RESERVED: &[&str] = &[
    "directory",
    "member",
    "search",
    "creator",
    "cate",
    "special",
    "topic",
    "schedule",
    "home",
    "betard",
    "lapi",
    "wgapi",
    "api",
    "japi",
    "video",
    "g_",
];

/// Used when `getEncryption` gives no usable `expire_at` (as rust-srec).
const ENCRYPTION_TTL: i64 = 24 * 3600;

/// The JSON fields this adapter reads, per endpoint, as JSON pointers
/// (checked against the real fixtures by a test).
pub const FIELDS: &[(&str, &[&str])] = &[
    (
        "betard (live)",
        &[
            "/room/show_status",
            "/room/videoLoop",
            "/room/show_time",
            "/room/show_id",
            "/room/owner_uid",
            "/room/nickname",
            "/room/owner_avatar",
            "/room/room_name",
            "/room/room_pic",
            "/room/second_lvl_name",
            "/column/cate_name",
        ],
    ),
    (
        "getH5PlayV1",
        &[
            "/error",
            "/data/rtmp_url",
            "/data/rtmp_live",
            "/data/rtmp_cdn",
            "/data/rate",
            "/data/multirates/*/name",
            "/data/multirates/*/rate",
            "/data/multirates/*/bit",
            "/data/cdnsWithName/*/cdn",
        ],
    ),
    (
        "getEncryption (no real fixture)",
        &["/error", "/data/key", "/data/rand_str", "/data/enc_time", "/data/enc_data"],
    ),
];

/// The Douyu adapter. It caches the `getEncryption` key.
#[derive(Debug, Default)]
pub struct Douyu {
    /// The key and until when (unix seconds) it is valid.
    encryption: Mutex<Option<(Encryption, i64)>>,
}

impl Douyu {
    /// A new adapter (with an empty key cache).
    pub fn new() -> Self {
        Douyu::default()
    }
}

/// The `auth` of getH5PlayV1: `rand_str` stretched `enc_time` times with md5
/// and `key`, then `md5(value + key + suffix)` (suffix `""` when
/// `is_special`, else `<rid><tt>`).
///
/// ```
/// use onelive_platform::adapters::douyu::auth;
///
/// let a = auth("r", "k", 2, false, "288016", 1714550000);
/// assert_eq!(a.len(), 32);
/// assert_ne!(a, auth("r", "k", 2, true, "288016", 1714550000));
/// ```
pub fn auth(
    rand_str: &str,
    key: &str,
    enc_time: u32,
    is_special: bool,
    rid: &str,
    tt: i64,
) -> String {
    let mut value = rand_str.to_owned();
    for _ in 0..enc_time {
        value = md5_hex(format!("{value}{key}"));
    }
    let suffix = if is_special { String::new() } else { format!("{rid}{tt}") };
    md5_hex(format!("{value}{key}{suffix}"))
}

async fn resolve_rid(ctx: &PlatformContext, channel: &str) -> Result<String> {
    if is_digits(channel) {
        return Ok(channel.to_owned());
    }
    let url = format!("https://m.douyu.com/{channel}");
    let response = ctx.http.get(NAME, &url).send().await?.check_common()?;
    if response.status == 404 {
        return Err(PlatformError::not_found(NAME, channel));
    }
    let pattern = Regex::new(r#"roomInfo"\s*:\s*\{\s*"rid"\s*:\s*(\d+)"#)
        .map_err(|e| PlatformError::Config(e.to_string()))?;
    let page = response.text();
    match pattern.captures(&page).and_then(|c| c.get(1)) {
        Some(m) => Ok(m.as_str().to_owned()),
        None if response.status == 200 => Err(PlatformError::not_found(NAME, channel)),
        None => Err(response.unexpected("a room page with roomInfo.rid")),
    }
}

async fn betard(ctx: &PlatformContext, channel: &str) -> Result<(String, Value)> {
    let rid = resolve_rid(ctx, channel).await?;
    let url = format!("{WWW}/betard/{rid}");
    let response = ctx
        .http
        .get(NAME, &url)
        .header("Referer", REFERER)
        .with_platform_cookies()
        .send()
        .await?
        .check_common()?;
    match response.status {
        200 => {}
        404 => return Err(PlatformError::not_found(NAME, channel)),
        403 => return Err(PlatformError::blocked(NAME, "HTTP 403 from betard")),
        _ => return Err(response.unexpected("betard JSON {room}")),
    }
    let body: Value = response.json("betard JSON {room}")?;
    if !j::at(&body, "/room").is_some_and(Value::is_object) {
        return Err(response.unexpected("betard JSON {room}"));
    }
    j::require(&body, "/room/show_status", NAME, &url, "betard")?;
    Ok((rid, body))
}

fn is_live(body: &Value) -> bool {
    j::int(body, "/room/show_status") == Some(1)
        && j::int(body, "/room/videoLoop").unwrap_or(0) == 0
}

/// `getEncryption` data.
#[derive(Debug, Clone)]
struct Encryption {
    key: String,
    rand_str: String,
    enc_time: u32,
    enc_data: String,
    is_special: bool,
}

async fn fetch_encryption(ctx: &PlatformContext) -> Result<(Encryption, i64)> {
    let url = format!("{WWW}/wgapi/livenc/liveweb/websec/getEncryption");
    let response = ctx
        .http
        .get(NAME, &url)
        .query(&[("did", DEFAULT_DID)])
        .header("Referer", REFERER)
        .send()
        .await?
        .check_common()?;
    let expected = "getEncryption JSON {error: 0, data: {key, rand_str, enc_time, enc_data}}";
    if response.status == 403 {
        return Err(PlatformError::blocked(NAME, "HTTP 403 from getEncryption"));
    }
    let body: Value = response.json(expected)?;
    if j::int(&body, "/error") != Some(0) {
        return Err(response.unexpected(expected));
    }
    let field = |name: &str| {
        j::string(&body, &format!("/data/{name}")).ok_or_else(|| response.unexpected(expected))
    };
    let now = ctx.unix_now();
    let until =
        j::int(&body, "/data/expire_at").filter(|t| *t > now).unwrap_or(now + ENCRYPTION_TTL);
    Ok((
        Encryption {
            key: field("key")?,
            rand_str: field("rand_str")?,
            enc_time: j::int(&body, "/data/enc_time").unwrap_or(0).clamp(0, 1000) as u32,
            enc_data: field("enc_data")?,
            is_special: j::int(&body, "/data/is_special") == Some(1),
        },
        until,
    ))
}

/// True for Douyu's poor `scdn` lines.
fn is_scdn(cdn: &str) -> bool {
    cdn.starts_with("scdn")
}

impl Douyu {
    /// The cached key while valid, else a fresh one (cached).
    async fn encryption(&self, ctx: &PlatformContext) -> Result<Encryption> {
        let now = ctx.unix_now();
        if let Ok(cache) = self.encryption.lock()
            && let Some((enc, until)) = cache.as_ref()
            && now < *until
        {
            return Ok(enc.clone());
        }
        let (enc, until) = fetch_encryption(ctx).await?;
        if let Ok(mut cache) = self.encryption.lock() {
            *cache = Some((enc.clone(), until));
        }
        Ok(enc)
    }

    fn forget_encryption(&self) {
        if let Ok(mut cache) = self.encryption.lock() {
            *cache = None;
        }
    }

    /// getH5PlayV1 for `rate`, avoiding an `scdn` line once; `Ok(None)`
    /// means offline.
    async fn play(&self, ctx: &PlatformContext, rid: &str, rate: i64) -> Result<Option<Value>> {
        let Some(data) = self.play_on(ctx, rid, rate, "").await? else { return Ok(None) };
        if !is_scdn(&j::string_or_empty(&data, "/rtmp_cdn")) {
            return Ok(Some(data));
        }
        let other = j::array(&data, "/cdnsWithName")
            .iter()
            .rev()
            .filter_map(|c| j::string(c, "/cdn"))
            .find(|c| !is_scdn(c));
        match other {
            Some(cdn) => Ok(self.play_on(ctx, rid, rate, &cdn).await?.or(Some(data))),
            None => Ok(Some(data)),
        }
    }

    /// One getH5PlayV1 call on line `cdn` (`""`: Douyu's choice).
    async fn play_on(
        &self,
        ctx: &PlatformContext,
        rid: &str,
        rate: i64,
        cdn: &str,
    ) -> Result<Option<Value>> {
        let url = format!("{WWW}/lapi/live/getH5PlayV1/{rid}");
        let expected = "getH5PlayV1 JSON {error, data: {rtmp_url, rtmp_live}}";
        let mut last_code = None;
        for attempt in 0..2 {
            let enc = self.encryption(ctx).await?;
            let tt = ctx.unix_now();
            let auth = auth(&enc.rand_str, &enc.key, enc.enc_time, enc.is_special, rid, tt);
            let tt = tt.to_string();
            let rate = rate.to_string();
            let response = ctx
                .http
                .post(NAME, &url)
                .header("Referer", REFERER)
                .with_platform_cookies()
                .form(&[
                    ("enc_data", enc.enc_data.as_str()),
                    ("tt", tt.as_str()),
                    ("did", DEFAULT_DID),
                    ("auth", auth.as_str()),
                    ("cdn", cdn),
                    ("rate", rate.as_str()),
                    ("hevc", "0"),
                    ("fa", "0"),
                    ("ive", "0"),
                    ("ver", "Douyu_new"),
                    ("iar", "0"),
                    ("rid", rid),
                    ("sov", "0"),
                ])
                .send()
                .await?
                .check_common()?;
            let text = response.text();
            if response.status == 403 || text.contains("鉴权失败") {
                // The key may be stale: fetch a new one and try once more.
                self.forget_encryption();
                if attempt == 0 {
                    continue;
                }
                return Err(PlatformError::blocked(
                    NAME,
                    format!(
                        "getH5PlayV1 refused the signature twice (HTTP {}, 鉴权失败), with a \
                         fresh getEncryption key the second time",
                        response.status
                    ),
                ));
            }
            let body: Value = response.json(expected)?;
            match j::int(&body, "/error") {
                Some(0) => return Ok(Some(body.get("data").cloned().unwrap_or(Value::Null))),
                // The room has no stream (offline, or went offline meanwhile).
                Some(-5..=-3) => return Ok(None),
                // The clock was off: a fresh timestamp may pass.
                Some(-9) if attempt == 0 => {
                    last_code = Some(-9);
                    continue;
                }
                Some(126) => {
                    return Err(PlatformError::blocked(NAME, "region blocked (error 126)"));
                }
                Some(code) => {
                    return Err(PlatformError::unexpected(
                        NAME,
                        &url,
                        expected,
                        format!("error {code} {}", j::string_or_empty(&body, "/msg")),
                    ));
                }
                None => return Err(response.unexpected(expected)),
            }
        }
        Err(PlatformError::unexpected(NAME, &url, expected, format!("error {last_code:?} twice")))
    }
}

#[async_trait]
impl PlatformAdapter for Douyu {
    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec![
            "https://www.douyu.com/<room id>".into(),
            "https://www.douyu.com/<alias>".into(),
            "https://www.douyu.com/topic/<name>?rid=<room id>".into(),
            "https://m.douyu.com/<room id>".into(),
        ]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !matches!(
            host(&url).as_str(),
            "douyu.com" | "www.douyu.com" | "m.douyu.com" | "douyutv.com" | "www.douyutv.com"
        ) {
            return None;
        }
        if let Some(rid) = query(&url, "rid").filter(|r| is_digits(r)) {
            return Some(rid);
        }
        match segments(&url).as_slice() {
            [id] if is_digits(id) => Some(id.clone()),
            [alias]
                if !RESERVED.iter().any(|r| alias.to_ascii_lowercase().starts_with(r))
                    && alias.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Some(alias.clone())
            }
            _ => None,
        }
    }

    fn channel_url(&self, channel: &str) -> String {
        format!("https://www.douyu.com/{channel}")
    }

    /// The room id: `/<alias>` and `/<rid>` are one room.
    async fn canonical_channel(&self, ctx: &PlatformContext, channel: &str) -> Result<String> {
        resolve_rid(ctx, channel).await
    }

    fn not_a_live_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !on_domain(&url, &["douyu.com", "douyutv.com"]) || self.parse_url(url.as_str()).is_some()
        {
            return None;
        }
        let first = segments(&url).first().map(|s| s.to_ascii_lowercase());
        let what = if host(&url) == "v.douyu.com" || first.as_deref() == Some("video") {
            "a Douyu video page"
        } else if first.as_deref() == Some("topic") {
            "a Douyu topic page without ?rid=<room id>"
        } else if first.as_deref().is_some_and(|f| f == "directory" || f.starts_with("g_")) {
            "a Douyu category page"
        } else if first.is_none() {
            "Douyu's home page"
        } else {
            "a Douyu page"
        };
        Some(refusal(what, "https://www.douyu.com/<room id>"))
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let (_, body) = betard(ctx, channel).await?;
        let live = is_live(&body);
        let show_time = j::int(&body, "/room/show_time").unwrap_or(0);
        let avatar = j::string(&body, "/room/owner_avatar")
            .or_else(|| j::string(&body, "/room/avatar/big"))
            .unwrap_or_default();
        let cover = j::string(&body, "/room/room_pic")
            .or_else(|| j::string(&body, "/room/coverSrc"))
            .unwrap_or_default();
        let mut categories = Vec::new();
        for p in ["/column/cate_name", "/room/second_lvl_name"] {
            if let Some(c) =
                j::string(&body, p).filter(|c| !c.is_empty() && !categories.contains(c))
            {
                categories.push(c);
            }
        }
        Ok({
            let mut built = LiveInfo::default();
            built.uid = j::string_or_empty(&body, "/room/owner_uid");
            built.uname = j::string(&body, "/room/nickname")
                .or_else(|| j::string(&body, "/room/owner_name"))
                .unwrap_or_default();
            built.avatar = avatar;
            built.title = j::string_or_empty(&body, "/room/room_name").replace("&nbsp;", " ");
            built.cover = cover;
            built.categories = categories;
            built.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
            built.live_id = if live {
                j::string(&body, "/room/show_id")
                    .or_else(|| (show_time > 0).then(|| show_time.to_string()))
            } else {
                None
            };
            built.start_time = if live { unix_time(show_time) } else { None };
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let rid = resolve_rid(ctx, channel).await?;
        let Some(first) = self.play(ctx, &rid, 0).await? else {
            return Err(PlatformError::offline(NAME, channel));
        };
        let rates: Vec<(String, i64, Option<i64>)> = j::array(&first, "/multirates")
            .iter()
            .filter_map(|r| Some((j::string(r, "/name")?, j::int(r, "/rate")?, j::int(r, "/bit"))))
            .collect();
        let current = j::int(&first, "/rate").unwrap_or(0);
        let headers = stream_headers(ctx, NAME, REFERER);
        let to_variant = |data: &Value, rate: i64| -> Option<StreamVariant> {
            let base = j::string(data, "/rtmp_url")?;
            let live = j::string(data, "/rtmp_live")?;
            let (name, bit) = rates
                .iter()
                .find(|(_, r, _)| *r == rate)
                .map(|(n, _, b)| (n.clone(), *b))
                .unwrap_or_else(|| {
                    (if rate == 0 { "source".into() } else { format!("rate{rate}") }, None)
                });
            let kind = if live.split('?').next().is_some_and(|p| p.ends_with(".m3u8")) {
                StreamKind::Hls
            } else {
                StreamKind::Flv
            };
            let mut v = StreamVariant::new(format!("{base}/{live}"), kind, name);
            v.source = rate == 0;
            v.bitrate_kbps = bit.filter(|b| *b > 0).map(|b| b as u32);
            v.cdn = j::string(data, "/rtmp_cdn");
            v.headers = headers.clone();
            Some(v)
        };
        let mut variants: Vec<StreamVariant> = to_variant(&first, current).into_iter().collect();
        for (_, rate, _) in &rates {
            if *rate == current {
                continue;
            }
            if let Some(data) = self.play(ctx, &rid, *rate).await?
                && let Some(v) = to_variant(&data, *rate)
            {
                variants.push(v);
            }
        }
        if variants.is_empty() {
            return Err(PlatformError::unexpected(
                NAME,
                WWW,
                "rtmp_url and rtmp_live in getH5PlayV1",
                "none",
            ));
        }
        Ok(variants)
    }
}
