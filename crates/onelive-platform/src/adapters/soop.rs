//! SOOP, formerly AfreecaTV (`play.sooplive.com`).
//!
//! Live info: the player API (`live.sooplive.com/afreeca/player_live_api.php`,
//! `type=live`: status, title, broadcast number). Only for an offline
//! channel also the station API (`chapi.sooplive.co.kr/api/<bj>/station`:
//! name, avatar, unknown ids), best effort: a failing station API never
//! hides a live stream. Streams: per quality preset, an `aid` token from the
//! player API (`type=aid`) and a `view_url` from `broad_stream_assign.html`
//! on the broadcast's stream manager host, with `return_type` mapped from the
//! `CDN` the player API names (`gs_cdn` → `gs_cdn_pc_web`, `lg_cdn` →
//! `lg_cdn_pc_web`; SOOP answers a raw `lg_cdn` with HTTP 400). A preset that
//! fails is skipped; the others are still offered. Adult (19+) broadcasts
//! (`RESULT` -6, or -8 for the age gate) need a login cookie.
//!
//! Checked against streamlink `plugins/soop.py` (5376d2e8) and rust-srec
//! `platforms/soop` (87fc320a) in 2026-12.

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};
use serde_json::Value;

use super::stream_headers;
use crate::adapter::{PlatformAdapter, PlatformContext, StreamKind, StreamVariant};
use crate::error::{PlatformError, Result};
use crate::json as j;
use crate::url_match::{host, http_url, is_digits, on_domain, refusal, segments};

const NAME: &str = "soop";
const PLAYER_API: &str = "https://live.sooplive.com/afreeca/player_live_api.php";
const STATION_API: &str = "https://chapi.sooplive.co.kr/api";
const ORIGIN: &str = "https://play.sooplive.com";

/// `CHANNEL.RESULT`: live.
const RESULT_LIVE: i64 = 1;
/// `CHANNEL.RESULT`: offline (or a GDPR/geo stub when `GDPR` is true).
const RESULT_OFFLINE: i64 = 0;
/// `CHANNEL.RESULT`: login required (adult broadcast).
const RESULT_LOGIN: i64 = -6;
/// `CHANNEL.RESULT`: age gate not passed by the logged-in account.
const RESULT_AGE_GATE: i64 = -8;

/// The JSON fields this adapter reads, per endpoint, as JSON pointers (`*`
/// stands for every item of an array). A test checks that every one resolves in every real response of that
/// endpoint kept as a fixture, so a renamed field cannot hide.
pub const FIELDS: &[(&str, &[&str])] = &[
    (
        "player_live_api type=live (live)",
        &[
            "/CHANNEL/RESULT",
            "/CHANNEL/BNO",
            "/CHANNEL/BJID",
            "/CHANNEL/BJNICK",
            "/CHANNEL/TITLE",
            "/CHANNEL/CATE",
            "/CHANNEL/CATEGORY_TAGS",
            "/CHANNEL/BTIME",
            "/CHANNEL/BPWD",
            "/CHANNEL/RMD",
            "/CHANNEL/CDN",
            "/CHANNEL/VIEWPRESET",
        ],
    ),
    ("player_live_api type=live (offline)", &["/CHANNEL/RESULT"]),
    ("player_live_api type=live (adult)", &["/CHANNEL/RESULT", "/CHANNEL/TITLE", "/CHANNEL/BTIME"]),
    ("VIEWPRESET items", &["/*/name", "/*/label", "/*/label_resolution", "/*/bps"]),
    ("player_live_api type=aid", &["/CHANNEL/RESULT", "/CHANNEL/AID"]),
    ("broad_stream_assign.html", &["/view_url"]),
];

/// The `return_type` that `broad_stream_assign.html` accepts for the `CDN`
/// the player API named.
///
/// ```
/// use onelive_platform::adapters::soop::assign_return_type;
///
/// assert_eq!(assign_return_type("lg_cdn"), "lg_cdn_pc_web");
/// assert_eq!(assign_return_type("gs_cdn"), "gs_cdn_pc_web");
/// assert_eq!(assign_return_type("gcp_cdn"), "gcp_cdn");
/// ```
pub fn assign_return_type(cdn: &str) -> String {
    if cdn.ends_with("_pc_web") {
        cdn.to_owned()
    } else if cdn.contains("gs_cdn") {
        "gs_cdn_pc_web".to_owned()
    } else if cdn.contains("lg_cdn") {
        "lg_cdn_pc_web".to_owned()
    } else {
        cdn.to_owned()
    }
}

/// The SOOP adapter.
#[derive(Debug, Default, Clone, Copy)]
pub struct Soop;

async fn player(
    ctx: &PlatformContext,
    bj: &str,
    kind: &str,
    bno: &str,
    quality: &str,
) -> Result<Value> {
    let response = ctx
        .http
        .post(NAME, PLAYER_API)
        .query(&[("bjid", bj)])
        .header("Referer", &format!("{ORIGIN}/{bj}"))
        .header("Origin", ORIGIN)
        .with_platform_cookies()
        .form(&[
            ("bid", bj),
            ("bno", bno),
            ("type", kind),
            ("pwd", ""),
            ("player_type", "html5"),
            ("stream_type", "common"),
            ("quality", quality),
            ("mode", "landing"),
            ("from_api", "0"),
            ("is_revive", "false"),
        ])
        .send()
        .await?
        .check_common()?;
    let expected = "player_live_api JSON {CHANNEL: {RESULT}}";
    if response.status == 403 {
        return Err(PlatformError::blocked(NAME, "HTTP 403 from player_live_api"));
    }
    if response.status != 200 {
        return Err(response.unexpected(expected));
    }
    let body: Value = response.json(expected)?;
    match j::at(&body, "/CHANNEL") {
        Some(channel) if j::int(channel, "/RESULT").is_some() => Ok(channel.clone()),
        _ => Err(response.unexpected(expected)),
    }
}

async fn station(ctx: &PlatformContext, bj: &str) -> Result<Value> {
    let url = format!("{STATION_API}/{bj}/station");
    let response =
        ctx.http.get(NAME, &url).header("Referer", &format!("{ORIGIN}/{bj}")).send().await?;
    if response.status == 515 {
        return Err(PlatformError::not_found(NAME, bj));
    }
    let response = response.check_common()?;
    let expected = "station JSON {station, broad}";
    match response.status {
        200 => {}
        404 => return Err(PlatformError::not_found(NAME, bj)),
        403 => return Err(PlatformError::blocked(NAME, "HTTP 403 from the station API")),
        _ => return Err(response.unexpected(expected)),
    }
    let body: Value = response.json(expected)?;
    if j::int(&body, "/code") == Some(9000) {
        return Err(PlatformError::not_found(NAME, bj));
    }
    if !j::at(&body, "/station").is_some_and(Value::is_object) {
        return Err(response.unexpected(expected));
    }
    Ok(body)
}

fn nonempty(value: &Value, pointer: &str) -> Option<String> {
    j::string(value, pointer).filter(|s| !s.is_empty())
}

/// The avatar of a channel on SOOP's profile-image CDN (a stable path keyed
/// by the id; the live path makes no request for it).
fn profile_image(bj: &str) -> String {
    let bj = bj.to_ascii_lowercase();
    let prefix: String = bj.chars().take(2).collect();
    format!("https://profile.img.sooplive.co.kr/LOGO/{prefix}/{bj}/{bj}.jpg")
}

/// The error for a player answer that is a GDPR / region stub.
fn region_blocked(live: &Value) -> Option<PlatformError> {
    (j::at(live, "/GDPR").and_then(Value::as_bool) == Some(true)).then(|| {
        PlatformError::blocked(
            NAME,
            format!(
                "SOOP serves no broadcast to this region (GDPR stub, geo {}): use a [platforms.soop] \
                 proxy in Korea",
                j::string(live, "/geo_cc").unwrap_or_else(|| "?".to_owned())
            ),
        )
    })
}

/// One quality preset: its `aid` token, then its `view_url`.
async fn preset_variant(
    ctx: &PlatformContext,
    channel: &str,
    bno: &str,
    rmd: &str,
    cdn: &str,
    preset: &Value,
    name: &str,
) -> Result<StreamVariant> {
    let aid = player(ctx, channel, "aid", bno, name).await?;
    match j::int(&aid, "/RESULT") {
        Some(RESULT_LIVE) => {}
        Some(RESULT_LOGIN | RESULT_AGE_GATE) => return Err(adult_error()),
        other => {
            return Err(PlatformError::unexpected(
                NAME,
                PLAYER_API,
                format!("type=aid CHANNEL.RESULT 1 for preset {name}"),
                format!("RESULT {other:?}"),
            ));
        }
    }
    let Some(aid_token) = nonempty(&aid, "/AID") else {
        return Err(PlatformError::unexpected(
            NAME,
            PLAYER_API,
            format!("type=aid CHANNEL.AID for preset {name}"),
            "none",
        ));
    };
    let assign_url = format!("{}/broad_stream_assign.html", rmd.trim_end_matches('/'));
    let key = format!("{bno}-common-{name}-hls");
    let return_type = assign_return_type(cdn);
    let response = ctx
        .http
        .get(NAME, &assign_url)
        .query(&[("return_type", return_type.as_str()), ("broad_key", key.as_str())])
        .header("Referer", &format!("{ORIGIN}/{channel}"))
        .header("Origin", ORIGIN)
        .send()
        .await?
        .check_common()?;
    let expected = format!("broad_stream_assign JSON {{view_url}} for preset {name}");
    if response.status != 200 {
        return Err(response.unexpected(&format!("{expected} (return_type={return_type})")));
    }
    let body: Value = response.json(&expected)?;
    let Some(view_url) = nonempty(&body, "/view_url") else {
        return Err(response.unexpected(&expected));
    };
    let label = j::string(preset, "/label").unwrap_or_else(|| name.to_owned());
    let separator = if view_url.contains('?') { '&' } else { '?' };
    let mut v =
        StreamVariant::new(format!("{view_url}{separator}aid={aid_token}"), StreamKind::Hls, label);
    v.source = name == "original";
    v.height = j::int(preset, "/label_resolution").and_then(|h| u32::try_from(h).ok());
    v.bitrate_kbps = j::int(preset, "/bps").and_then(|b| u32::try_from(b).ok());
    v.cdn = Some(cdn.to_owned());
    v.headers = stream_headers(ctx, NAME, &format!("{ORIGIN}/{channel}"));
    Ok(v)
}

fn adult_error() -> PlatformError {
    PlatformError::login_required(
        NAME,
        "adult (19+) broadcast: set [platforms.soop] cookies from a logged-in, age-verified browser \
         session",
    )
}

#[async_trait]
impl PlatformAdapter for Soop {
    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec![
            "https://play.sooplive.com/<bj id>".into(),
            "https://play.sooplive.com/<bj id>/<broadcast number>".into(),
            "https://play.sooplive.co.kr/<bj id> and https://play.afreecatv.com/<bj id>".into(),
        ]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !matches!(
            host(&url).as_str(),
            "play.sooplive.co.kr" | "play.sooplive.com" | "play.afreecatv.com"
        ) {
            return None;
        }
        let segs = segments(&url);
        let bj = match segs.as_slice() {
            [bj] => bj,
            [bj, bno] if is_digits(bno) => bj,
            _ => return None,
        };
        (bj.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .then(|| bj.to_ascii_lowercase())
    }

    fn channel_url(&self, channel: &str) -> String {
        format!("{ORIGIN}/{channel}")
    }

    fn not_a_live_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !on_domain(&url, &["sooplive.co.kr", "sooplive.com", "afreecatv.com"])
            || self.parse_url(url.as_str()).is_some()
        {
            return None;
        }
        let host = host(&url);
        let segs = segments(&url);
        let bj = match segs.as_slice() {
            [station, bj, ..] if station == "station" => Some(bj.to_ascii_lowercase()),
            [bj, ..] if host.starts_with("ch.") || host.starts_with("m.") => {
                Some(bj.to_ascii_lowercase())
            }
            _ => None,
        };
        let what = if host.starts_with("vod.") {
            "a SOOP VOD"
        } else if bj.is_some() {
            "a SOOP station page"
        } else {
            "a SOOP page"
        };
        let form = match bj {
            Some(bj) => format!("{ORIGIN}/{bj}"),
            None => format!("{ORIGIN}/<bj id>"),
        };
        Some(refusal(what, &form))
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let live = player(ctx, channel, "live", "", "master").await?;
        if let Some(error) = region_blocked(&live) {
            return Err(error);
        }
        let result = j::int(&live, "/RESULT").unwrap_or(RESULT_OFFLINE);
        let is_live = matches!(result, RESULT_LIVE | RESULT_LOGIN | RESULT_AGE_GATE);
        if !is_live && result != RESULT_OFFLINE {
            return Err(PlatformError::unexpected(
                NAME,
                PLAYER_API,
                "CHANNEL.RESULT 1, 0, -6 or -8",
                format!("RESULT {result}"),
            ));
        }
        // Offline only: the station API tells an unknown id from an
        // offline one and gives the name. Best effort otherwise.
        let station = if is_live {
            None
        } else {
            match station(ctx, channel).await {
                Ok(station) => Some(station),
                Err(e) if e.kind() == crate::ErrorKind::NotFound => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "soop: station API failed; offline info without it");
                    None
                }
            }
        };
        let station = station.unwrap_or(Value::Null);
        let mut avatar = j::string_or_empty(&station, "/profile_image");
        if avatar.starts_with("//") {
            avatar = format!("https:{avatar}");
        }
        if avatar.is_empty() {
            avatar = profile_image(channel);
        }
        let bno = nonempty(&live, "/BNO");
        let mut categories: Vec<String> = j::array(&live, "/CATEGORY_TAGS")
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        if categories.is_empty()
            && let Some(cate) = j::string(&live, "/CATE")
        {
            categories.push(cate);
        }
        let start_time = j::int(&live, "/BTIME")
            .filter(|_| is_live)
            .filter(|secs| *secs >= 0)
            .and_then(|secs| ctx.clock.now().checked_sub(time::Duration::seconds(secs)));
        Ok({
            let mut built = LiveInfo::default();
            built.uid = nonempty(&live, "/BJID").unwrap_or_else(|| channel.to_owned());
            built.uname = nonempty(&live, "/BJNICK")
                .or_else(|| nonempty(&station, "/station/user_nick"))
                .unwrap_or_default();
            built.avatar = avatar;
            built.title = nonempty(&live, "/TITLE").unwrap_or_default();
            built.cover = match (&bno, is_live) {
                (Some(bno), true) => format!("https://liveimg.sooplive.co.kr/m/{bno}"),
                _ => String::new(),
            };
            built.categories = if is_live { categories } else { Vec::new() };
            built.status = if is_live { LiveStatus::Live } else { LiveStatus::Offline };
            built.live_id = bno.filter(|_| is_live);
            built.start_time = start_time;
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let live = player(ctx, channel, "live", "", "master").await?;
        if let Some(error) = region_blocked(&live) {
            return Err(error);
        }
        match j::int(&live, "/RESULT") {
            Some(RESULT_LIVE) => {}
            Some(RESULT_LOGIN | RESULT_AGE_GATE) => return Err(adult_error()),
            Some(RESULT_OFFLINE) => return Err(PlatformError::offline(NAME, channel)),
            other => {
                return Err(PlatformError::unexpected(
                    NAME,
                    PLAYER_API,
                    "CHANNEL.RESULT 1, 0, -6 or -8",
                    format!("RESULT {other:?}"),
                ));
            }
        }
        if j::string(&live, "/BPWD").as_deref() == Some("Y") {
            return Err(PlatformError::login_required(
                NAME,
                "password-protected broadcast (not supported)",
            ));
        }
        let (Some(bno), Some(rmd)) = (nonempty(&live, "/BNO"), nonempty(&live, "/RMD")) else {
            return Err(PlatformError::unexpected(
                NAME,
                PLAYER_API,
                "CHANNEL.BNO and CHANNEL.RMD",
                "missing",
            ));
        };
        let cdn = nonempty(&live, "/CDN").unwrap_or_else(|| "gcp_cdn".to_owned());
        let mut variants = Vec::new();
        let mut first_error = None;
        for preset in j::array(&live, "/VIEWPRESET") {
            let Some(name) = j::string(preset, "/name").filter(|n| n != "auto") else { continue };
            match preset_variant(ctx, channel, &bno, &rmd, &cdn, preset, &name).await {
                Ok(v) => variants.push(v),
                // Login walls and rate limits hold for every preset.
                Err(e)
                    if matches!(
                        e.kind(),
                        crate::ErrorKind::LoginRequired | crate::ErrorKind::RateLimited
                    ) =>
                {
                    return Err(e);
                }
                Err(e) => {
                    tracing::debug!(preset = %name, error = %e, "soop: preset skipped");
                    first_error.get_or_insert(e);
                }
            }
        }
        if variants.is_empty() {
            return Err(first_error.unwrap_or_else(|| {
                PlatformError::unexpected(
                    NAME,
                    PLAYER_API,
                    "at least one CHANNEL.VIEWPRESET other than auto",
                    "none",
                )
            }));
        }
        variants.sort_by_key(|v| {
            (std::cmp::Reverse(v.source), std::cmp::Reverse(v.bitrate_kbps.unwrap_or(0)))
        });
        Ok(variants)
    }
}
