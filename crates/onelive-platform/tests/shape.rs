//! A changed response shape (a renamed field) is a precise error naming the
//! platform, the endpoint and the JSON path: never a panic, never a silent
//! "offline" or "not found".

use onelive_platform::adapters::{
    bilibili::Bilibili, douyu::Douyu, huya::Huya, kick::Kick, twitch::Twitch,
};
use onelive_platform::{ErrorKind, PlatformAdapter, PlatformError};

use crate::common::{Mock, Reply, fixture};

fn assert_names(error: &PlatformError, platform: &str, pointer: &str) {
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse, "{error}");
    let text = error.to_string();
    assert!(text.starts_with(&format!("{platform}: ")), "{text}");
    assert!(text.contains(pointer), "{pointer} in {text}");
}

#[tokio::test]
async fn twitch_renamed_fields() {
    let mock = Mock::start().await;
    mock.on_body(
        "/gql.twitch.tv/gql",
        "streamPlaybackAccessToken",
        Reply::text(200, "{\"data\":{\"playbackAccessToken\":null}}"),
    )
    .on("/gql.twitch.tv/gql", Reply::text(200, "{\"data\":{\"userByLogin\":null}}"));
    let ctx = mock.context(&["gql.twitch.tv"]);
    assert_names(&Twitch.live_info(&ctx, "x").await.unwrap_err(), "twitch", "/user");
    let error = Twitch.stream_variants(&ctx, "x").await.unwrap_err();
    assert_names(&error, "twitch", "/streamPlaybackAccessToken");
}

#[tokio::test]
async fn bilibili_renamed_fields() {
    let mock = Mock::start().await;
    let room = fixture("bilibili/room_init_live.json");
    mock.on(
        "/api.live.bilibili.com/room/v1/Room/room_init",
        Reply::text(200, &room.replace("\"live_status\"", "\"liveStatus\"")),
    );
    let ctx = mock.context(&["api.live.bilibili.com"]);
    let error = Bilibili::new().live_info(&ctx, "196").await.unwrap_err();
    assert_names(&error, "bilibili", "/live_status");

    let mock = Mock::start().await;
    let play =
        fixture("bilibili/play_info_live.json").replace("\"playurl_info\"", "\"playurlInfo\"");
    mock.on("/api.live.bilibili.com/room/v1/Room/room_init", Reply::text(200, &room))
        .on("/api.bilibili.com/x/web-interface/nav", Reply::fixture(200, "bilibili/nav.json"))
        .on(
            "/api.live.bilibili.com/xlive/web-room/v2/index/getRoomPlayInfo",
            Reply::text(200, &play),
        );
    let ctx = mock.context(&["api.live.bilibili.com", "api.bilibili.com"]);
    let error = Bilibili::new().stream_variants(&ctx, "196").await.unwrap_err();
    assert_names(&error, "bilibili", "/playurl_info");
}

#[tokio::test]
async fn huya_douyu_kick_renamed_fields() {
    let mock = Mock::start().await;
    let huya = fixture("huya/profile_live.json").replace("\"liveStatus\"", "\"live_status\"");
    mock.on("/mp.huya.com/cache.php", Reply::text(200, &huya));
    let error = Huya.live_info(&mock.context(&["mp.huya.com"]), "52333").await.unwrap_err();
    assert_names(&error, "huya", "/liveStatus");

    let mock = Mock::start().await;
    let betard = fixture("douyu/betard_live.json").replace("\"show_status\"", "\"showStatus\"");
    mock.on("/www.douyu.com/betard/288016", Reply::text(200, &betard));
    let error =
        Douyu::new().live_info(&mock.context(&["www.douyu.com"]), "288016").await.unwrap_err();
    assert_names(&error, "douyu", "/room/show_status");

    let mock = Mock::start().await;
    let kick = fixture("kick/channel_offline.json").replace("\"livestream\"", "\"live_stream\"");
    mock.on("/kick.com/api/v2/channels/xqc", Reply::text(200, &kick));
    let error = Kick.live_info(&mock.context(&["kick.com"]), "xqc").await.unwrap_err();
    assert_names(&error, "kick", "/livestream");
}
