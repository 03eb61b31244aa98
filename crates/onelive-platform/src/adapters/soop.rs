//! SOOP, formerly AfreecaTV (`play.sooplive.co.kr`).
//!
//! Live info: the station API (`chapi.sooplive.co.kr/api/<bj>/station`:
//! name, avatar; unknown ids) and the player API
//! (`live.sooplive.co.kr/afreeca/player_live_api.php`: status, title,
//! broadcast number). Streams: per quality, an `aid` token from the player
//! API and a `view_url` from `broad_stream_assign.html` on the broadcast's
//! stream manager host. Adult (19+) broadcasts need a login cookie.

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};
use serde_json::Value;

use super::stream_headers;
use crate::adapter::{PlatformAdapter, PlatformContext, StreamKind, StreamVariant};
use crate::error::{PlatformError, Result};
use crate::json as j;
use crate::url_match::{host, http_url, is_digits, segments};

const NAME: &str = "soop";
const PLAYER_API: &str = "https://live.sooplive.co.kr/afreeca/player_live_api.php";
const STATION_API: &str = "https://chapi.sooplive.co.kr/api";
const ORIGIN: &str = "https://play.sooplive.co.kr";

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

#[async_trait]
impl PlatformAdapter for Soop {
    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec![
            "https://play.sooplive.co.kr/<bj id>".into(),
            "https://play.sooplive.co.kr/<bj id>/<broadcast number>".into(),
            "https://play.sooplive.com/<bj id> and https://play.afreecatv.com/<bj id>".into(),
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

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let station = station(ctx, channel).await?;
        let live = player(ctx, channel, "live", "", "HD").await?;
        let result = j::int(&live, "/RESULT").unwrap_or(0);
        let is_live = result == 1 || result == -6;
        let mut avatar = j::string_or_empty(&station, "/profile_image");
        if avatar.starts_with("//") {
            avatar = format!("https:{avatar}");
        }
        let bno = nonempty(&live, "/BNO").or_else(|| nonempty(&station, "/broad/broad_no"));
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
        Ok(LiveInfo {
            uid: nonempty(&live, "/BJID").unwrap_or_else(|| channel.to_owned()),
            uname: nonempty(&live, "/BJNICK")
                .or_else(|| nonempty(&station, "/station/user_nick"))
                .unwrap_or_default(),
            avatar,
            title: nonempty(&live, "/TITLE")
                .or_else(|| nonempty(&station, "/broad/broad_title"))
                .unwrap_or_default(),
            cover: match (&bno, is_live) {
                (Some(bno), true) => format!("https://liveimg.sooplive.co.kr/m/{bno}"),
                _ => String::new(),
            },
            categories: if is_live { categories } else { Vec::new() },
            status: if is_live { LiveStatus::Live } else { LiveStatus::Offline },
            live_id: bno.filter(|_| is_live),
            start_time,
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let live = player(ctx, channel, "live", "", "HD").await?;
        match j::int(&live, "/RESULT") {
            Some(1) => {}
            Some(-6) => {
                return Err(PlatformError::login_required(
                    NAME,
                    "adult (19+) broadcast: set [platforms.soop] cookies from a logged-in browser",
                ));
            }
            Some(0) => return Err(PlatformError::offline(NAME, channel)),
            other => {
                return Err(PlatformError::unexpected(
                    NAME,
                    PLAYER_API,
                    "CHANNEL.RESULT 1, 0 or -6",
                    format!("RESULT {other:?}"),
                ));
            }
        }
        if j::string(&live, "/BPWD").as_deref() == Some("Y") {
            return Err(PlatformError::login_required(NAME, "password-protected broadcast"));
        }
        let (Some(bno), Some(rmd)) = (j::string(&live, "/BNO"), j::string(&live, "/RMD")) else {
            return Err(PlatformError::unexpected(NAME, PLAYER_API, "BNO and RMD", "missing"));
        };
        let cdn = j::string(&live, "/CDN").unwrap_or_else(|| "gcp_cdn".to_owned());
        let headers = stream_headers(ctx, NAME, &format!("{ORIGIN}/{channel}"));
        let mut variants = Vec::new();
        for preset in j::array(&live, "/VIEWPRESET") {
            let Some(name) = j::string(preset, "/name").filter(|n| n != "auto") else { continue };
            let aid = player(ctx, channel, "aid", &bno, &name).await?;
            let Some(aid_token) =
                j::string(&aid, "/AID").filter(|_| j::int(&aid, "/RESULT") == Some(1))
            else {
                continue;
            };
            let assign_url = format!("{}/broad_stream_assign.html", rmd.trim_end_matches('/'));
            let key = format!("{bno}-common-{name}-hls");
            let response = ctx
                .http
                .get(NAME, &assign_url)
                .query(&[("return_type", cdn.as_str()), ("broad_key", key.as_str())])
                .header("Referer", &format!("{ORIGIN}/{channel}"))
                .send()
                .await?
                .check_common()?;
            let body: Value = response.json("broad_stream_assign JSON {view_url}")?;
            let Some(view_url) = j::string(&body, "/view_url") else {
                return Err(response.unexpected("broad_stream_assign JSON {view_url}"));
            };
            let label = j::string(preset, "/label").unwrap_or_else(|| name.clone());
            let mut v =
                StreamVariant::new(format!("{view_url}?aid={aid_token}"), StreamKind::Hls, label);
            v.source = name == "original";
            v.height = j::int(preset, "/label_resolution").and_then(|h| u32::try_from(h).ok());
            v.bitrate_kbps = j::int(preset, "/bps").and_then(|b| u32::try_from(b).ok());
            v.cdn = Some(cdn.clone());
            v.headers = headers.clone();
            variants.push(v);
        }
        if variants.is_empty() {
            return Err(PlatformError::unexpected(
                NAME,
                PLAYER_API,
                "at least one VIEWPRESET with an AID",
                "none",
            ));
        }
        variants.sort_by_key(|v| std::cmp::Reverse(v.bitrate_kbps.unwrap_or(0)));
        Ok(variants)
    }
}
