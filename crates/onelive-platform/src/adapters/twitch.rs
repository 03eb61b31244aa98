//! Twitch (`twitch.tv`).
//!
//! Live info: one GQL query (`gql.twitch.tv/gql`) with the public web
//! client id. Streams: a `streamPlaybackAccessToken` GQL query, then the
//! master playlist from `usher.ttvnw.net`. An `auth-token=...` in the
//! platform cookies is sent as `Authorization: OAuth ...`.

use async_trait::async_trait;
use onelive_events::{LiveInfo, LiveStatus};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::adapter::{PlatformAdapter, PlatformContext, StreamVariant};
use crate::error::{PlatformError, Result};
use crate::hls;
use crate::http::{HttpRequest, HttpResponse};
use crate::json as j;
use crate::url_match::{host, http_url, on_domain, query, refusal, segments};

const NAME: &str = "twitch";
const GQL: &str = "https://gql.twitch.tv/gql";
const USHER: &str = "https://usher.ttvnw.net/api/v2/channel/hls";
/// The public client id of Twitch's web player.
const CLIENT_ID: &str = "kimne78kx3ncx6brgo4mv6wki5h1ko";

const INFO_QUERY: &str = "query($login:String!){user(login:$login){id login displayName \
     profileImageURL(width:300) stream{id title type createdAt viewersCount \
     previewImageURL(width:1280,height:720) game{id name displayName}} lastBroadcast{title}}}";
const TOKEN_QUERY: &str = "query($login:String!,$playerType:String!){streamPlaybackAccessToken(\
     channelName:$login,params:{platform:\"web\",playerBackend:\"mediaplayer\",\
     playerType:$playerType}){value signature}}";

/// First path segments that are Twitch pages, not channels.
const RESERVED: &[&str] = &[
    "directory",
    "videos",
    "video",
    "settings",
    "search",
    "p",
    "downloads",
    "jobs",
    "turbo",
    "subscriptions",
    "inventory",
    "wallet",
    "drops",
    "friends",
    "login",
    "signup",
    "messages",
    "u",
    "popout",
    "moderator",
    "following",
    "prime",
    "store",
    "team",
    "clip",
    "broadcast",
];

/// The JSON fields this adapter reads, per endpoint, as JSON pointers
/// (checked against the real fixtures by a test).
pub const FIELDS: &[(&str, &[&str])] = &[
    (
        "GQL user (live)",
        &[
            "/data/user/id",
            "/data/user/profileImageURL",
            "/data/user/stream/id",
            "/data/user/stream/type",
            "/data/user/stream/createdAt",
            "/data/user/stream/game/name",
            "/data/user/lastBroadcast/title",
        ],
    ),
    // Only in onelive's own query; no public capture of it exists.
    (
        "GQL user (own query only)",
        &["/data/user/displayName", "/data/user/stream/title", "/data/user/stream/previewImageURL"],
    ),
    (
        "GQL streamPlaybackAccessToken",
        &["/data/streamPlaybackAccessToken/value", "/data/streamPlaybackAccessToken/signature"],
    ),
    ("GQL error", &["/errors/0/message"]),
    ("GQL 401 invalid token", &["/message"]),
    ("usher error", &["/0/error"]),
];

/// The Twitch adapter.
#[derive(Debug, Default, Clone, Copy)]
pub struct Twitch;

fn valid_login(s: &str) -> bool {
    (1..=25).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Twitch {
    fn gql(ctx: &PlatformContext, body: Value) -> HttpRequest {
        let mut request = ctx
            .http
            .post(NAME, GQL)
            .header("Client-ID", CLIENT_ID)
            .header("Referer", "https://www.twitch.tv/")
            .json(body);
        if let Some(cookies) = ctx.config().site(NAME).cookies
            && let Some(token) = cookies
                .split(';')
                .find_map(|c| c.trim().strip_prefix("auth-token="))
                .filter(|t| !t.is_empty())
        {
            request = request.header("Authorization", &format!("OAuth {token}"));
        }
        request
    }

    /// Maps GQL failures; returns the `data` object.
    fn gql_data(response: HttpResponse, expected: &str) -> Result<Value> {
        let response = response.check_common()?;
        let body: Option<Value> = serde_json::from_slice(&response.body).ok();
        let first_error = body
            .as_ref()
            .and_then(|b| j::array(b, "/errors").first().map(|e| j::string_or_empty(e, "/message")))
            .filter(|m| !m.is_empty());
        if let Some(message) = &first_error
            && message.contains("integrity")
        {
            return Err(integrity_error(response.status, message));
        }
        match response.status {
            401 => {
                let message = first_error
                    .or_else(|| body.as_ref().and_then(|b| j::string(b, "/message")))
                    .unwrap_or_else(|| "no reason given".to_owned());
                return Err(PlatformError::login_required(
                    NAME,
                    format!(
                        "GQL answered HTTP 401 ({message}): the auth-token in [platforms.twitch] \
                         cookies was refused; log in again in a browser and copy a fresh one"
                    ),
                ));
            }
            403 => {
                return Err(PlatformError::blocked(
                    NAME,
                    format!(
                        "GQL answered HTTP 403 ({})",
                        first_error.unwrap_or_else(|| "no reason given".to_owned())
                    ),
                ));
            }
            200 => {}
            _ => return Err(response.unexpected(expected)),
        }
        let Some(body) = body else { return Err(response.unexpected(expected)) };
        if let Some(message) = first_error {
            if message.contains("rate") {
                return Err(PlatformError::rate_limited(NAME, None));
            }
            return Err(PlatformError::unexpected(NAME, GQL, expected, format!("error {message}")));
        }
        match body.get("data") {
            Some(data @ Value::Object(_)) => Ok(data.clone()),
            _ => Err(response.unexpected(expected)),
        }
    }
}

/// Twitch's anti-bot check refused the request.
fn integrity_error(status: u16, message: &str) -> PlatformError {
    PlatformError::blocked(
        NAME,
        format!(
            "GQL answered HTTP {status} \"{message}\": Twitch wants a client-integrity token, which \
             only a browser can make; it usually asks when an auth-token cookie is sent, so remove \
             it from [platforms.twitch] cookies, or record this channel through streamlink"
        ),
    )
}

/// The usher v2 master lists the source variant last: put it first, then
/// the transcodes by height and bitrate, audio-only last.
fn best_first(mut variants: Vec<StreamVariant>) -> Vec<StreamVariant> {
    variants.sort_by_key(|v| {
        (
            std::cmp::Reverse(v.source),
            v.height.is_none(),
            std::cmp::Reverse(v.height.unwrap_or(0)),
            std::cmp::Reverse(v.bitrate_kbps.unwrap_or(0)),
        )
    });
    variants
}

#[async_trait]
impl PlatformAdapter for Twitch {
    fn name(&self) -> &str {
        NAME
    }

    fn url_forms(&self) -> Vec<String> {
        vec![
            "https://www.twitch.tv/<login>".into(),
            "https://m.twitch.tv/<login>".into(),
            "https://player.twitch.tv/?channel=<login>".into(),
        ]
    }

    fn parse_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        let host = host(&url);
        let segs = segments(&url);
        let login = match host.as_str() {
            "player.twitch.tv" if segs.is_empty() => query(&url, "channel")?,
            "twitch.tv" | "www.twitch.tv" | "m.twitch.tv" | "go.twitch.tv" => match segs.as_slice()
            {
                [login] if !RESERVED.contains(&login.to_ascii_lowercase().as_str()) => {
                    login.clone()
                }
                _ => return None,
            },
            _ => return None,
        };
        valid_login(&login).then(|| login.to_ascii_lowercase())
    }

    fn channel_url(&self, channel: &str) -> String {
        format!("https://www.twitch.tv/{channel}")
    }

    fn not_a_live_url(&self, url: &str) -> Option<String> {
        let url = http_url(url)?;
        if !on_domain(&url, &["twitch.tv"]) || self.parse_url(url.as_str()).is_some() {
            return None;
        }
        let form = "https://www.twitch.tv/<login>";
        let segs: Vec<String> = segments(&url).iter().map(|s| s.to_ascii_lowercase()).collect();
        let host = host(&url);
        let what = if host == "clips.twitch.tv" || segs.iter().any(|s| s == "clip" || s == "clips")
        {
            "a Twitch clip"
        } else if segs.first().is_some_and(|s| s == "videos" || s == "video")
            || segs.get(1).is_some_and(|s| s == "videos" || s == "video" || s == "v")
            || query(&url, "video").is_some()
        {
            "a Twitch VOD"
        } else if segs.first().is_some_and(|s| s == "directory") {
            "a Twitch directory page"
        } else if segs.is_empty() {
            "Twitch's home page"
        } else {
            "a Twitch page"
        };
        Some(match segs.as_slice() {
            [login, ..] if valid_login(login) && !RESERVED.contains(&login.as_str()) => {
                refusal(what, &format!("https://www.twitch.tv/{login}"))
            }
            _ => refusal(what, form),
        })
    }

    async fn live_info(&self, ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        let body = json!({"query": INFO_QUERY, "variables": {"login": channel}});
        let response = Twitch::gql(ctx, body).send().await?;
        let data = Twitch::gql_data(response, "GQL JSON {data: {user}}")?;
        j::require(&data, "/user", NAME, GQL, "GQL data")?;
        let Some(user) = j::at(&data, "/user") else {
            return Err(PlatformError::not_found(NAME, channel));
        };
        let stream = j::at(user, "/stream");
        let live = stream.is_some_and(|s| j::string(s, "/type").is_none_or(|t| t == "live"));
        let stream = stream.filter(|_| live);
        let title = stream
            .and_then(|s| j::string(s, "/title"))
            .or_else(|| j::string(user, "/lastBroadcast/title"))
            .unwrap_or_default();
        Ok({
            let mut built = LiveInfo::default();
            built.uid = j::string_or_empty(user, "/id");
            built.uname = j::string(user, "/displayName").unwrap_or_else(|| channel.to_owned());
            built.avatar = j::string_or_empty(user, "/profileImageURL");
            built.title = title;
            built.cover = stream.and_then(|s| j::string(s, "/previewImageURL")).unwrap_or_default();
            built.categories =
                stream.and_then(|s| j::string(s, "/game/name")).into_iter().collect();
            built.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
            built.live_id = stream.and_then(|s| j::string(s, "/id"));
            built.start_time = stream
                .and_then(|s| j::string(s, "/createdAt"))
                .and_then(|t| time::OffsetDateTime::parse(&t, &Rfc3339).ok());
            built
        })
    }

    async fn stream_variants(
        &self,
        ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        let body = json!({"query": TOKEN_QUERY,
            "variables": {"login": channel, "playerType": "site"}});
        let response = Twitch::gql(ctx, body).send().await?;
        let data = Twitch::gql_data(response, "GQL JSON {data: {streamPlaybackAccessToken}}")?;
        j::require(&data, "/streamPlaybackAccessToken", NAME, GQL, "GQL data")?;
        if j::at(&data, "/streamPlaybackAccessToken").is_some() {
            for field in
                ["/streamPlaybackAccessToken/value", "/streamPlaybackAccessToken/signature"]
            {
                j::require(&data, field, NAME, GQL, "GQL data")?;
            }
        }
        let (Some(value), Some(signature)) = (
            j::string(&data, "/streamPlaybackAccessToken/value"),
            j::string(&data, "/streamPlaybackAccessToken/signature"),
        ) else {
            return Err(PlatformError::offline(NAME, channel));
        };
        let p = (ctx.random.next_u64() % 9_000_000 + 1_000_000).to_string();
        let url = format!("{USHER}/{channel}.m3u8");
        let response = ctx
            .http
            .get(NAME, &url)
            .query(&[
                ("platform", "web"),
                ("p", p.as_str()),
                ("allow_source", "true"),
                ("allow_audio_only", "true"),
                ("playlist_include_framerate", "true"),
                ("supported_codecs", "h264"),
                ("fast_bread", "true"),
                ("sig", signature.as_str()),
                ("token", value.as_str()),
            ])
            .header("Referer", "https://player.twitch.tv")
            .header("Origin", "https://player.twitch.tv")
            .send()
            .await?
            .check_common()?;
        match response.status {
            200 => {}
            404 => return Err(PlatformError::offline(NAME, channel)),
            403 => {
                let reason = serde_json::from_slice::<Value>(&response.body)
                    .ok()
                    .and_then(|v| j::string(&v, "/0/error"))
                    .unwrap_or_else(|| "HTTP 403 from usher".to_owned());
                return Err(PlatformError::blocked(NAME, reason));
            }
            _ => return Err(response.unexpected("an HLS master playlist")),
        }
        let text = response.text();
        if !hls::is_playlist(&text) {
            return Err(response.unexpected("an HLS master playlist"));
        }
        let headers = super::stream_headers(ctx, NAME, "https://player.twitch.tv");
        let variants = best_first(
            hls::parse_master(&text, &ctx.http.rewrite_url(&url))
                .into_iter()
                .map(|e| e.into_variant(&headers))
                .collect(),
        );
        if variants.is_empty() {
            return Err(response.unexpected("at least one variant in the master playlist"));
        }
        Ok(variants)
    }
}
