//! Douyin against real web-API answers replayed from a loopback server
//! (sources in tests/fixtures/douyin/README.md).

#[allow(dead_code)]
mod common;

use std::sync::Arc;

use onelive_platform::adapters::douyin::Douyin;
use onelive_platform::{
    ErrorKind, LiveStatus, PlatformAdapter, PlatformRegistry, PlatformsConfig, StreamKind,
};

use common::{Mock, Reply, Seen};

const HOSTS: &[&str] =
    &["live.douyin.com", "ttwid.bytedance.com", "webcast.amemv.com", "v.douyin.com"];
const ENTER: &str = "/live.douyin.com/webcast/room/web/enter/";
const TTWID: &str = "/ttwid.bytedance.com/ttwid/union/register/";
const REFLOW: &str = "/webcast.amemv.com/webcast/room/reflow/info/";
const ROOM: &str = "335354047186";

fn ttwid_reply() -> Reply {
    Reply::text(200, r#"{"status_code":0}"#).header(
        "Set-Cookie",
        "ttwid=1%7Cvisitor-cookie%7C1714564800; Path=/; Domain=bytedance.com; HttpOnly",
    )
}

async fn serve(enter: Reply) -> Mock {
    let mock = Mock::start().await;
    mock.on(TTWID, ttwid_reply()).on(ENTER, enter);
    mock
}

fn requests_to<'a>(seen: &'a [Seen], path: &str) -> Vec<&'a Seen> {
    seen.iter().filter(|s| s.path == path).collect()
}

#[tokio::test]
async fn live_room_info() {
    let mock = serve(Reply::fixture(200, "douyin/web_enter_live.json")).await;
    let info = Douyin::new().live_info(&mock.context(HOSTS), ROOM).await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uid, "574389687158554");
    assert_eq!(info.uname, "aasyy");
    assert_eq!(info.title, "男的 别问了");
    assert_eq!(info.live_id.as_deref(), Some("7522819524010625833"));
    assert!(
        info.avatar.starts_with("https://p11.douyinpic.com/aweme/100x100/aweme-avatar/"),
        "{}",
        info.avatar
    );
    assert!(
        info.cover.starts_with("https://p3-webcast-sign.douyinpic.com/image-cut-tos-priv/"),
        "{}",
        info.cover
    );
    assert!(info.categories.is_empty(), "the real answer has an empty partition_road_map");
    assert_eq!(info.start_time, None, "the web API gives no start time");
}

#[tokio::test]
async fn stream_ladder_source_first() {
    let mock = serve(Reply::fixture(200, "douyin/web_enter_live.json")).await;
    let variants = Douyin::new().stream_variants(&mock.context(HOSTS), ROOM).await.unwrap();
    let summary: Vec<(&str, StreamKind, Option<u32>)> =
        variants.iter().map(|v| (v.quality.as_str(), v.kind, v.height)).collect();
    assert_eq!(
        summary,
        [
            ("蓝光", StreamKind::Flv, Some(1088)),
            ("蓝光", StreamKind::Hls, Some(1088)),
            ("超清", StreamKind::Flv, Some(720)),
            ("超清", StreamKind::Hls, Some(720)),
            ("高清", StreamKind::Flv, Some(540)),
            ("高清", StreamKind::Hls, Some(540)),
            ("标清", StreamKind::Flv, Some(480)),
            ("标清", StreamKind::Hls, Some(480)),
            ("md", StreamKind::Flv, Some(240)),
            ("md", StreamKind::Hls, Some(240)),
        ],
        "origin first, audio-only left out"
    );
    let source = &variants[0];
    assert!(source.source);
    assert!(variants[1..].iter().skip(1).all(|v| !v.source));
    assert!(
        source.url.starts_with(
            "http://pull-flv-l96.douyincdn.com/stage/stream-405774431831196265_or4.flv?"
        )
    );
    assert_eq!(
        (source.width, source.bitrate_kbps, source.codec.as_deref()),
        (Some(1440), Some(1249), Some("avc"))
    );
    assert_eq!(source.headers.get("Referer").map(String::as_str), Some("https://live.douyin.com/"));
    assert!(source.headers.contains_key("User-Agent"));
    assert!(!source.headers.contains_key("Cookie"), "no cookie goes to the CDN");
}

#[tokio::test]
async fn visitor_cookie_registered_once_and_sent() {
    let mock = serve(Reply::fixture(200, "douyin/web_enter_live.json")).await;
    let ctx = mock.context(HOSTS);
    let adapter = Douyin::new();
    adapter.live_info(&ctx, ROOM).await.unwrap();
    adapter.stream_variants(&ctx, ROOM).await.unwrap();
    assert!(!format!("{adapter:?}").contains("visitor-cookie"), "Debug never shows the cookie");
    let seen = mock.seen();
    let registrations = requests_to(&seen, TTWID);
    assert_eq!(registrations.len(), 1, "ttwid is registered once and kept");
    assert_eq!(registrations[0].method, "POST");
    let body: serde_json::Value = serde_json::from_str(&registrations[0].body).unwrap();
    assert_eq!(
        (body["aid"].as_i64(), body["service"].as_str()),
        (Some(6383), Some("https://www.douyin.com"))
    );
    let enters = requests_to(&seen, ENTER);
    assert_eq!(enters.len(), 2);
    for enter in enters {
        let cookie = &enter.headers["cookie"];
        assert!(
            cookie.starts_with("ttwid=1%7Cvisitor-cookie%7C1714564800; __ac_nonce="),
            "{cookie}"
        );
        let nonce = cookie.split("__ac_nonce=").nth(1).unwrap().split(';').next().unwrap();
        assert_eq!(nonce.len(), 21);
        assert!(cookie.contains("; odin_ttid="));
        assert_eq!(enter.headers["referer"], "https://live.douyin.com/");
        assert!(enter.query.contains(&format!("&web_rid={ROOM}&msToken=")));
    }
}

#[tokio::test]
async fn configured_cookie_with_ttwid_skips_registration() {
    let mock = serve(Reply::fixture(200, "douyin/web_enter_live.json")).await;
    let mut config = mock.config(HOSTS);
    config.sites.insert(
        "douyin".into(),
        onelive_platform::SiteConfig {
            cookies: Some("ttwid=mine; sessionid=secret".into()),
            ..Default::default()
        },
    );
    let ctx = common::context_for(&config);
    Douyin::new().live_info(&ctx, ROOM).await.unwrap();
    let seen = mock.seen();
    assert!(requests_to(&seen, TTWID).is_empty());
    let cookie = &requests_to(&seen, ENTER)[0].headers["cookie"];
    assert!(cookie.ends_with("; ttwid=mine; sessionid=secret"), "{cookie}");
}

/// With the clock at 2024-05-01T12:00:00Z and seed 7, the request is
/// exactly this. The `a_bogus` value was computed independently by
/// DouyinLiveRecorder's src/ab_sign.py (commit add187f8) with the same
/// query, the default User-Agent, that time (ms 1714564800000) and the
/// random numbers the seed gives (4682, 5025, 5777).
#[tokio::test]
async fn signed_query_is_deterministic() {
    let mock = serve(Reply::fixture(200, "douyin/web_enter_live.json")).await;
    Douyin::new().live_info(&mock.context(HOSTS), ROOM).await.unwrap();
    let seen = mock.seen();
    let query = &requests_to(&seen, ENTER)[0].query;
    assert_eq!(query, EXPECTED_QUERY);
}

const EXPECTED_QUERY: &str = concat!(
    "aid=6383",
    "&app_name=douyin_web",
    "&live_id=1",
    "&device_platform=web",
    "&enter_from=web_live",
    "&language=zh-CN",
    "&browser_language=zh-CN",
    "&browser_platform=Win32",
    "&browser_name=Chrome",
    "&browser_version=124.0.0.0",
    "&web_rid=335354047186",
    "&msToken=IWbvmkcip7UBGx5fviKpL04bMuotBA0fmmw9Y2JUdMHfg0GXTv4QLtl6c7EB5qXz8eNtvuczTFgvpV7g0QRh7koc2NRygYFYov89b8RZGrJTPjhnnVGhKDWLAYA55gpmxHXdXBZeyaGNlb6SMUxElU5KVM80yFNQciRtnHaL9wfYWCcSOkMSBdDT",
    "&a_bogus=dymZ/QgkDi2kgfW65-dLfY3q66a3YUt70HViMD2f-nVH5g39HMYD9exoY77vY/WjLG/lIeYjy4hbO3xprQAjM36UHWwEUdQ2mgWkKl5Q5I0j53iruyRDntmF4vj3SFlm5XNAEOk0y75rKb70Woqe-vIlO62-zo0/95b=",
);

#[tokio::test]
async fn ended_room_is_offline() {
    let mock = serve(Reply::fixture(200, "douyin/web_enter_ended.json")).await;
    let ctx = mock.context(HOSTS);
    let adapter = Douyin::new();
    let info = adapter.live_info(&ctx, ROOM).await.unwrap();
    assert_eq!(info.status, LiveStatus::Offline);
    assert_eq!(info.uname, "抖音演出");
    assert_eq!(info.title, "人生不设限·美好现场开放麦");
    assert_eq!(info.live_id, None);
    assert_eq!(adapter.stream_variants(&ctx, ROOM).await.unwrap_err().kind(), ErrorKind::Offline);
}

#[tokio::test]
async fn unknown_and_unsupported_rooms() {
    let mock = serve(Reply::fixture(200, "douyin/web_enter_not_found.json")).await;
    let error = Douyin::new().live_info(&mock.context(HOSTS), ROOM).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");

    let mock = serve(Reply::fixture(200, "douyin/web_enter_unsupported.json")).await;
    let error = Douyin::new().live_info(&mock.context(HOSTS), ROOM).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse, "{error}");
    assert!(error.to_string().contains("VR"), "{error}");
}

#[tokio::test]
async fn risk_control_empty_body_is_blocked_not_offline() {
    let mock = serve(Reply::text(200, "")).await;
    let ctx = mock.context(HOSTS);
    let adapter = Douyin::new();
    let error = adapter.live_info(&ctx, ROOM).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked, "{error}");
    let text = error.to_string();
    assert!(text.contains("risk control") && text.contains("empty body"), "{text}");
    assert!(text.contains("sec_uid"), "says why no fallback was tried: {text}");
    assert!(!text.contains("msToken="), "no query string in errors: {text}");
    assert_eq!(adapter.stream_variants(&ctx, ROOM).await.unwrap_err().kind(), ErrorKind::Blocked);
    // The visitor cookie may be what was refused: it is registered again.
    assert_eq!(requests_to(&mock.seen(), TTWID).len(), 2);
}

#[tokio::test]
async fn risk_control_falls_back_to_the_reflow_api() {
    let adapter = Douyin::new();
    // A first answer teaches the adapter the streamer's sec_uid...
    let first = serve(Reply::fixture(200, "douyin/web_enter_live.json")).await;
    adapter.live_info(&first.context(HOSTS), ROOM).await.unwrap();
    // ...then the web API refuses, and the reflow API answers.
    let second = serve(Reply::text(200, "")).await;
    second.on(REFLOW, Reply::fixture(200, "douyin/reflow_live.json"));
    let ctx = second.context(HOSTS);
    let info = adapter.live_info(&ctx, ROOM).await.unwrap();
    assert_eq!(
        (info.status, info.uname.as_str(), info.uid.as_str()),
        (LiveStatus::Live, "aasyy", "574389687158554")
    );
    assert_eq!(info.title, "男的 别问了");
    assert!(info.avatar.contains("aweme-avatar"), "owner avatar from data.room.owner");
    assert_eq!(info.start_time.map(|t| t.unix_timestamp()), Some(1_751_541_600));
    let variants = adapter.stream_variants(&ctx, ROOM).await.unwrap();
    assert!(variants[0].source && variants[0].kind == StreamKind::Flv);
    let seen = second.seen();
    let reflow = requests_to(&seen, REFLOW);
    assert_eq!(reflow.len(), 2);
    assert!(reflow[0].query.starts_with(
        "type_id=0&live_id=1&room_id=2&sec_user_id=MS4wLjABAAAANKz3Mg5mhVQBMI06r4mnX90ThJEAmggwITyw9LSHv60&"
    ), "{}", reflow[0].query);
    assert!(reflow[0].query.contains("&a_bogus="));

    // Both refusing: one precise error naming both.
    let third = serve(Reply::text(200, "")).await;
    third.on(REFLOW, Reply::text(200, ""));
    let error = adapter.live_info(&third.context(HOSTS), ROOM).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    assert!(error.to_string().contains("reflow fallback failed too"), "{error}");
}

#[tokio::test]
async fn short_link_resolved_by_one_redirect() {
    let mock = Mock::start().await;
    mock.on(
        "/v.douyin.com/iRNBho6u/",
        Reply::text(302, "").header(
            "Location",
            "https://webcast.amemv.com/douyin/webcast/reflow/7522819524010625833?u_code=abc&sec_user_id=MS4wLjABAAAANKz3Mg5mhVQBMI06r4mnX90ThJEAmggwITyw9LSHv60&did=1",
        ),
    )
    .on("/v.douyin.com/AbCd123/", Reply::text(302, "").header("Location", "https://live.douyin.com/335354047186?from=share"))
    .on("/v.douyin.com/gone/", Reply::text(404, ""))
    .on(REFLOW, Reply::fixture(200, "douyin/reflow_live.json"))
    .on(TTWID, ttwid_reply())
    .on(ENTER, Reply::fixture(200, "douyin/web_enter_ended.json"));
    let ctx = mock.context(HOSTS);
    let registry =
        PlatformRegistry::builtin(&PlatformsConfig { streamlink: false, ..Default::default() });
    let channel = registry.resolve("https://v.douyin.com/iRNBho6u/").unwrap();
    assert_eq!(
        (channel.platform.as_str(), channel.channel.as_str()),
        ("douyin", "v.douyin.com/iRNBho6u")
    );
    let adapter = Douyin::new();
    let info = adapter.live_info(&ctx, &channel.channel).await.unwrap();
    assert_eq!((info.status, info.uname.as_str()), (LiveStatus::Live, "aasyy"));
    adapter.stream_variants(&ctx, &channel.channel).await.unwrap();
    let seen = mock.seen();
    assert_eq!(
        requests_to(&seen, "/v.douyin.com/iRNBho6u/").len(),
        1,
        "resolved once, then cached"
    );
    let reflow = requests_to(&seen, REFLOW);
    assert!(
        reflow[0].query.contains("&room_id=7522819524010625833&sec_user_id=MS4wLjAB"),
        "{}",
        reflow[0].query
    );

    let info = adapter.live_info(&ctx, "v.douyin.com/AbCd123").await.unwrap();
    assert_eq!((info.status, info.uname.as_str()), (LiveStatus::Offline, "抖音演出"));
    assert!(
        mock.seen().iter().any(|s| s.path == ENTER && s.query.contains("web_rid=335354047186&"))
    );

    let error = adapter.live_info(&ctx, "v.douyin.com/gone").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
}

#[tokio::test]
async fn refusals_and_malformed_answers() {
    let mock = serve(Reply::text(403, "")).await;
    let error = Douyin::new().live_info(&mock.context(HOSTS), ROOM).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked, "{error}");

    let mock = serve(Reply::text(200, "<html>验证码</html>")).await;
    let error = Douyin::new().live_info(&mock.context(HOSTS), ROOM).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse, "{error}");

    let mock =
        serve(Reply::text(200, r#"{"status_code":10011,"data":{"prompts":"参数错误"}}"#)).await;
    let error = Douyin::new().live_info(&mock.context(HOSTS), ROOM).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse);
    assert!(error.to_string().contains("status_code 10011"), "{error}");

    let mock = serve(Reply::text(429, "").header("Retry-After", "9")).await;
    let error = Douyin::new().live_info(&mock.context(HOSTS), ROOM).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(std::time::Duration::from_secs(9)));
}

#[test]
fn urls() {
    let d = Douyin::new();
    assert_eq!(
        d.parse_url("https://live.douyin.com/335354047186").as_deref(),
        Some("335354047186")
    );
    assert_eq!(d.parse_url("live.douyin.com/+yy123?enter_from=x").as_deref(), Some("yy123"));
    assert_eq!(
        d.parse_url("https://www.douyin.com/follow/live/335354047186").as_deref(),
        Some("335354047186")
    );
    assert_eq!(
        d.parse_url("https://www.douyin.com/root/live/335354047186").as_deref(),
        Some("335354047186")
    );
    assert_eq!(
        d.parse_url("https://v.douyin.com/iRNBho6u/").as_deref(),
        Some("v.douyin.com/iRNBho6u")
    );
    for bad in [
        "https://live.douyin.com/",
        "https://live.douyin.com/category/1_2",
        "https://live.douyin.com/webcast/room/web/enter/",
        "https://www.douyin.com/video/7360000000000000000",
        "https://www.douyin.com/user/MS4wLjABAAAA",
        "https://live.douyin.com.evil.example/1",
        "ftp://live.douyin.com/1",
    ] {
        assert_eq!(d.parse_url(bad), None, "{bad}");
    }
    assert_eq!(d.channel_url("335354047186"), "https://live.douyin.com/335354047186");
    assert_eq!(d.channel_url("v.douyin.com/iRNBho6u"), "https://v.douyin.com/iRNBho6u/");
    let registry =
        PlatformRegistry::builtin(&PlatformsConfig { streamlink: false, ..Default::default() });
    assert_eq!(
        registry.resolve("https://live.douyin.com/335354047186").unwrap().platform,
        "douyin"
    );
    let _ = Arc::new(d);
}
