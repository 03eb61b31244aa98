//! Douyu against fixture responses.

use onelive_platform::adapters::douyu::{Douyu, auth};
use onelive_platform::{ErrorKind, LiveStatus, PlatformAdapter, StreamKind};
use time::macros::datetime;

use crate::common::{Mock, NOW, Reply};

const HOSTS: &[&str] = &["www.douyu.com", "m.douyu.com"];
const BETARD: &str = "/www.douyu.com/betard/288016";
const ENC: &str = "/www.douyu.com/wgapi/livenc/liveweb/websec/getEncryption";
const PLAY: &str = "/www.douyu.com/lapi/live/getH5PlayV1/288016";

async fn serve(betard: Reply, play: Reply) -> Mock {
    let mock = Mock::start().await;
    mock.on(BETARD, betard)
        .on(ENC, Reply::fixture(200, "douyu/encryption.json"))
        .on_body(PLAY, "rate=4", Reply::fixture(200, "douyu/play_rate4.json"))
        .on_body(PLAY, "rate=2", Reply::fixture(200, "douyu/play_rate2.json"))
        .on(PLAY, play)
        .on("/m.douyu.com/xxbaobao", Reply::fixture(200, "douyu/mobile_page.html"))
        .on("/m.douyu.com/ghost", Reply::text(200, "<html>房间不存在</html>"));
    mock
}

#[tokio::test]
async fn live_room_by_alias() {
    let mock = serve(
        Reply::fixture(200, "douyu/betard_live.json"),
        Reply::fixture(200, "douyu/play_source.json"),
    )
    .await;
    let info = Douyu::new().live_info(&mock.context(HOSTS), "xxbaobao").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uid, "19344409");
    assert_eq!(info.uname, "旭旭宝宝");
    assert_eq!(info.title, "斗鱼一哥 今晚通宵");
    assert_eq!(info.categories, ["网游竞技", "DNF"]);
    assert_eq!(info.live_id.as_deref(), Some("98765432"));
    assert_eq!(info.start_time, Some(datetime!(2024-05-01 07:53:20 UTC)));
    assert_eq!(info.avatar, "https://apic.douyucdn.example/upload/avatar_v3/a_big.jpg");
    assert_eq!(info.cover, "https://rpic.douyucdn.example/asrpic/r.jpg");
}

#[tokio::test]
async fn offline_and_video_loop() {
    for fixture in ["douyu/betard_offline.json", "douyu/betard_loop.json"] {
        let mock =
            serve(Reply::fixture(200, fixture), Reply::fixture(200, "douyu/play_offline.json"))
                .await;
        let ctx = mock.context(HOSTS);
        let info = Douyu::new().live_info(&ctx, "288016").await.unwrap();
        assert_eq!(info.status, LiveStatus::Offline, "{fixture}");
        assert_eq!(info.live_id, None);
        let error = Douyu::new().stream_variants(&ctx, "288016").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Offline, "{fixture}");
    }
}

#[tokio::test]
async fn not_found() {
    let mock =
        serve(Reply::text(404, "Not Found"), Reply::fixture(200, "douyu/play_offline.json")).await;
    let ctx = mock.context(HOSTS);
    assert_eq!(
        Douyu::new().live_info(&ctx, "288016").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        Douyu::new().live_info(&ctx, "ghost").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn rate_limit_region_block_auth_failure_and_malformed() {
    let mock = serve(
        Reply::text(429, "").header("Retry-After", "5"),
        Reply::fixture(200, "douyu/play_region.json"),
    )
    .await;
    let ctx = mock.context(HOSTS);
    let error = Douyu::new().live_info(&ctx, "288016").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(std::time::Duration::from_secs(5)));
    assert_eq!(
        Douyu::new().stream_variants(&ctx, "288016").await.unwrap_err().kind(),
        ErrorKind::Blocked
    );

    let mock = serve(Reply::text(200, "{\"room\": [1, 2"), Reply::text(403, "鉴权失败")).await;
    let ctx = mock.context(HOSTS);
    let error = Douyu::new().live_info(&ctx, "288016").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse);
    assert!(error.to_string().contains("betard JSON"), "{error}");
    let error = Douyu::new().stream_variants(&ctx, "288016").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    let plays = mock.seen().iter().filter(|s| s.path == PLAY).count();
    assert_eq!(plays, 2, "one retry with a fresh key after 鉴权失败");
    let keys = mock.seen().iter().filter(|s| s.path == ENC).count();
    assert_eq!(keys, 2, "the refused key is dropped and a fresh one fetched");
    assert!(error.to_string().contains("鉴权失败"), "{error}");
}

#[tokio::test]
async fn stream_variants_per_quality() {
    let mock = serve(
        Reply::fixture(200, "douyu/betard_live.json"),
        Reply::fixture(200, "douyu/play_source.json"),
    )
    .await;
    let variants = Douyu::new().stream_variants(&mock.context(HOSTS), "288016").await.unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v.quality.as_str()).collect();
    assert_eq!(names, ["原画", "蓝光4M", "高清"]);
    assert!(variants[0].source && !variants[1].source);
    assert_eq!(variants[0].kind, StreamKind::Flv);
    assert!(
        variants[0]
            .url
            .starts_with("https://hw-tct.douyucdn.example/live/288016rEIowrSA.flv?wsAuth=abc")
    );
    assert!(variants[1].url.contains("288016rEIowrSA_4000.flv"));
    assert_eq!(variants[1].bitrate_kbps, Some(4000));
    assert_eq!(
        variants[0].headers.get("Referer").map(String::as_str),
        Some("https://www.douyu.com/")
    );

    // The auth is the key-stretched md5 for the fixed clock.
    let seen = mock.seen();
    let play = seen.iter().find(|s| s.path == PLAY).unwrap();
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(play.body.as_bytes()).into_owned().collect();
    let get = |k: &str| form.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let tt = NOW.unix_timestamp();
    assert_eq!(get("tt"), tt.to_string());
    assert_eq!(get("enc_data"), "ZW5jX2RhdGFfZm9yX3Rlc3Rz");
    assert_eq!(get("auth"), auth("a1b2c3d4", "b2c3d4e5f6", 2, false, "288016", tt));
}

#[test]
fn auth_follows_the_key_stretching() {
    // 0 rounds, special: md5(rand_str + key).
    assert_eq!(auth("r", "k", 0, true, "1", 2), md5_hex("rk"));
    assert_eq!(auth("r", "k", 1, false, "9", 7), md5_hex(&format!("{}k97", md5_hex("rk"))));
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn the_encryption_key_is_cached_until_expire_at() {
    let mock = serve(
        Reply::fixture(200, "douyu/betard_live.json"),
        Reply::fixture(200, "douyu/play_source.json"),
    )
    .await;
    let douyu = Douyu::new();
    let ctx = mock.context(HOSTS);
    douyu.stream_variants(&ctx, "288016").await.unwrap();
    douyu.stream_variants(&ctx, "288016").await.unwrap();
    let count = |path: &str| mock.seen().iter().filter(|s| s.path == path).count();
    assert_eq!(count(PLAY), 6, "3 qualities, twice");
    assert_eq!(count(ENC), 1, "one key for all of them");
    // expire_at in the fixture is 1714600000: one second later, a new key.
    let later = ctx.clone().with_clock(std::sync::Arc::new(onelive_platform::FixedClock(
        time::OffsetDateTime::from_unix_timestamp(1_714_600_001).unwrap(),
    )));
    douyu.stream_variants(&later, "288016").await.unwrap();
    assert_eq!(count(ENC), 2);
}

#[tokio::test]
async fn error_codes_minus_3_to_minus_5_are_offline() {
    for code in [-3, -4, -5] {
        let mock = serve(
            Reply::fixture(200, "douyu/betard_live.json"),
            Reply::text(200, &format!("{{\"error\":{code},\"msg\":\"房间未开播\",\"data\":\"\"}}")),
        )
        .await;
        let error = Douyu::new().stream_variants(&mock.context(HOSTS), "288016").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Offline, "error {code}: {error}");
    }
}

#[tokio::test]
async fn an_scdn_line_is_avoided() {
    let source = crate::common::fixture("douyu/play_source.json");
    let scdn = source
        .replace("\"rtmp_cdn\":\"hw-h5\"", "\"rtmp_cdn\":\"scdn-h5\"")
        .replace("https://hw-tct.douyucdn.example/live", "https://scdn.douyucdn.example/live");
    assert!(scdn.contains("\"rtmp_cdn\":\"scdn-h5\""), "fixture layout");
    let mock = Mock::start().await;
    mock.on(ENC, Reply::fixture(200, "douyu/encryption.json"))
        .on_body(PLAY, "cdn=tct-h5&rate=0", Reply::fixture(200, "douyu/play_source.json"))
        .on_body(PLAY, "rate=0", Reply::text(200, &scdn))
        .on_body(PLAY, "rate=4", Reply::fixture(200, "douyu/play_rate4.json"))
        .on_body(PLAY, "rate=2", Reply::fixture(200, "douyu/play_rate2.json"));
    let variants = Douyu::new().stream_variants(&mock.context(HOSTS), "288016").await.unwrap();
    assert!(variants[0].url.starts_with("https://hw-tct.douyucdn.example/"), "{}", variants[0].url);
    let asked: Vec<String> = mock
        .seen()
        .into_iter()
        .filter(|s| s.path == PLAY && s.body.contains("rate=0"))
        .map(|s| s.body)
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[1].contains("cdn=tct-h5"), "the last non-scdn line of cdnsWithName");
}

#[tokio::test]
async fn play_form_contract() {
    let mock = serve(
        Reply::fixture(200, "douyu/betard_live.json"),
        Reply::fixture(200, "douyu/play_source.json"),
    )
    .await;
    Douyu::new().stream_variants(&mock.context(HOSTS), "288016").await.unwrap();
    let play = mock.seen().into_iter().find(|s| s.path == PLAY).unwrap();
    assert_eq!(play.method, "POST");
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(play.body.as_bytes()).into_owned().collect();
    let mut keys: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "auth", "cdn", "did", "enc_data", "fa", "hevc", "iar", "ive", "rate", "rid", "sov",
            "tt", "ver"
        ]
    );
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("ver"), Some("Douyu_new"));
    assert_eq!(get("rid"), Some("288016"));
    assert_eq!(get("did"), Some("10000000000000000000000000001501"));
}

#[tokio::test]
async fn real_betard_and_play_answers() {
    let mock = Mock::start().await;
    mock.on("/www.douyu.com/betard/4767111", Reply::fixture(200, "douyu/real/betard_live.json"))
        .on(ENC, Reply::fixture(200, "douyu/encryption.json"))
        .on(
            "/www.douyu.com/lapi/live/getH5PlayV1/9715241",
            Reply::fixture(200, "douyu/real/get_h5_play_v1.json"),
        );
    let ctx = mock.context(HOSTS);
    let info = Douyu::new().live_info(&ctx, "4767111").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uid, "199105908");
    assert_eq!(info.uname, "神棍老师麦迪文");
    assert_eq!(info.title, "神棍老师：偶尔迟到的直播间");
    assert_eq!(info.categories, ["网游竞技", "炉石传说"]);
    assert_eq!(info.live_id.as_deref(), Some("425108206"));
    let variants = Douyu::new().stream_variants(&ctx, "9715241").await.unwrap();
    assert_eq!(variants.len(), 1);
    assert_eq!(variants[0].quality, "原画1080P60");
    assert!(variants[0].source);
    assert_eq!(variants[0].cdn.as_deref(), Some("ws-h5"));
    assert!(
        variants[0].url.starts_with("https://ws3.douyucdn.cn/live/9715241rdkExgDdB.flv?wsAuth=")
    );
}
