//! Huya against fixture responses.

use onelive_platform::adapters::huya::{Huya, anticode};
use onelive_platform::{ErrorKind, LiveStatus, PlatformAdapter, StreamKind};
use time::macros::datetime;

use crate::common::{Mock, NOW, Reply};

const HOSTS: &[&str] = &["mp.huya.com", "www.huya.com"];
const API: &str = "/mp.huya.com/cache.php";

async fn serve(profile: Reply) -> Mock {
    let mock = Mock::start().await;
    mock.on_query(API, "roomid=52333", profile)
        .on("/www.huya.com/zhangsanfeng", Reply::fixture(200, "huya/room_page.html"))
        .on("/www.huya.com/nobodyhere", Reply::fixture(200, "huya/room_page_missing.html"));
    mock
}

#[tokio::test]
async fn live_room_by_alias() {
    let mock = serve(Reply::fixture(200, "huya/profile_live.json")).await;
    let info = Huya.live_info(&mock.context(HOSTS), "zhangsanfeng").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uid, "1346609715");
    assert_eq!(info.uname, "虎牙张三丰");
    assert_eq!(info.title, "国服第一打野 在线教学");
    assert_eq!(info.categories, ["英雄联盟"]);
    assert_eq!(info.live_id.as_deref(), Some("7364512345678901234"));
    assert_eq!(info.start_time, Some(datetime!(2024-05-01 07:53:20 UTC)));
    assert!(info.cover.ends_with("/s.jpg"));
    let seen = mock.seen();
    assert_eq!(seen[0].path, "/www.huya.com/zhangsanfeng");
    assert!(seen[1].query.contains("do=profileRoom") && seen[1].query.contains("roomid=52333"));
}

#[tokio::test]
async fn offline_and_replay() {
    for fixture in ["huya/profile_offline.json", "huya/profile_replay.json"] {
        let mock = serve(Reply::fixture(200, fixture)).await;
        let ctx = mock.context(HOSTS);
        let info = Huya.live_info(&ctx, "52333").await.unwrap();
        assert_eq!(info.status, LiveStatus::Offline, "{fixture}");
        assert_eq!(info.live_id, None);
        assert_eq!(info.start_time, None);
        assert_eq!(info.uname, "虎牙张三丰");
        let error = Huya.stream_variants(&ctx, "52333").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Offline, "{fixture}");
    }
}

#[tokio::test]
async fn not_found_by_number_and_by_alias() {
    let mock = serve(Reply::fixture(200, "huya/profile_not_found.json")).await;
    let ctx = mock.context(HOSTS);
    assert_eq!(Huya.live_info(&ctx, "52333").await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(Huya.live_info(&ctx, "nobodyhere").await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn rate_limited_and_malformed() {
    let mock = serve(Reply::text(429, "slow down")).await;
    let error = Huya.live_info(&mock.context(HOSTS), "52333").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.retry_after(), None);

    let mock = serve(Reply::text(200, "{\"status\":200,\"data\":{\"liveStatus\":")).await;
    let error = Huya.live_info(&mock.context(HOSTS), "52333").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse);
    assert!(error.to_string().contains("profileRoom JSON"), "{error}");
}

#[tokio::test]
async fn stream_variants_carry_the_api_anticode() {
    let mock = serve(Reply::fixture(200, "huya/profile_live.json")).await;
    let variants = Huya.stream_variants(&mock.context(HOSTS), "52333").await.unwrap();
    // 3 qualities x 2 usable CDNs (HY skipped, negative priority skipped) x FLV+HLS.
    assert_eq!(variants.len(), 12, "{variants:?}");
    let first = &variants[0];
    assert_eq!(first.kind, StreamKind::Flv);
    assert_eq!(first.quality, "蓝光10M");
    assert!(first.source);
    assert_eq!(first.cdn.as_deref(), Some("TX"));
    assert_eq!(first.codec.as_deref(), Some("avc"));
    let name = "1346609715-1346609715-5783571086287405056-2693342886-10057-A-0-1";
    // The scheme the API gave (an https Huya URL may open only once).
    let prefix = format!("http://tx.flv.huya.example/src/{name}.flv?");
    assert!(first.url.starts_with(&prefix), "{}", first.url);
    assert_eq!(variants[1].cdn.as_deref(), Some("AL"));
    assert_eq!(variants[2].quality, "超清");
    assert!(variants[2].url.ends_with("&ratio=2000"), "{}", variants[2].url);
    assert!(variants[6].url.starts_with(&format!("http://tx.hls.huya.example/src/{name}.m3u8?")));
    assert_eq!(first.headers.get("Referer").map(String::as_str), Some("https://www.huya.com/"));
    // The API's anticode as it came, not re-signed, and no codec=264.
    let query = &first.url[prefix.len()..];
    assert_eq!(
        query,
        "wsSecret=ab12&wsTime=6632f000&fm=RFdxOEJjSjNoNkRKdDZUWV8kMF8kMV8kMl8kMw%3D%3D&ctype=tars_mp&fs=bgct&t=102"
    );
    assert!(!variants.iter().any(|v| v.url.contains("codec=264")));
}

#[tokio::test]
async fn an_anticode_without_secret_is_signed() {
    let text = crate::common::fixture("huya/profile_live.json").replace("wsSecret=ab12&amp;", "");
    let mock = serve(Reply::text(200, &text)).await;
    let variants = Huya.stream_variants(&mock.context(HOSTS), "52333").await.unwrap();
    let name = "1346609715-1346609715-5783571086287405056-2693342886-10057-A-0-1";
    let prefix = format!("http://tx.flv.huya.example/src/{name}.flv?");
    let query = &variants[0].url[prefix.len()..];
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let now_ms = NOW.unix_timestamp() * 1000;
    let uid = (get("seqid").parse::<i64>().unwrap() - now_ms) as u64;
    let code = "wsTime=6632f000&fm=RFdxOEJjSjNoNkRKdDZUWV8kMF8kMV8kMl8kMw%3D%3D&ctype=tars_mp&fs=bgct&t=102";
    assert_eq!(anticode(code, name, uid, now_ms).unwrap(), query);
    // Same clock and seed give the same URLs.
    let again = Huya.stream_variants(&mock.context(HOSTS), "52333").await.unwrap();
    assert_eq!(again, variants);
}

#[tokio::test]
async fn rebroadcasts_are_not_lives() {
    let live = crate::common::fixture("huya/profile_live.json");
    // liveStatus REPLAY while realLiveStatus says ON.
    let half = live.replacen("\"liveStatus\":\"ON\"", "\"liveStatus\":\"REPLAY\"", 1);
    assert_ne!(half, live, "the fixture has liveStatus ON");
    // Both ON, but the title says 重播 / 【回放】.
    let title = "国服第一打野 在线教学";
    let rerun = live.replace(title, "【重播】昨晚的比赛");
    let replay = live.replace(title, "【回放】昨晚的比赛");
    for text in [half, rerun, replay] {
        let mock = serve(Reply::text(200, &text)).await;
        let ctx = mock.context(HOSTS);
        assert_eq!(Huya.live_info(&ctx, "52333").await.unwrap().status, LiveStatus::Offline);
        assert_eq!(
            Huya.stream_variants(&ctx, "52333").await.unwrap_err().kind(),
            ErrorKind::Offline
        );
    }
}

#[tokio::test]
async fn hdr_and_hevc_tiers() {
    let live = crate::common::fixture("huya/profile_live.json");
    let tiers = r#"[{\"sDisplayName\":\"蓝光10M\",\"iBitRate\":0,\"iCodecType\":0},{\"sDisplayName\":\"超清\",\"iBitRate\":2000,\"iCodecType\":0},{\"sDisplayName\":\"流畅\",\"iBitRate\":500,\"iCodecType\":0}]"#;
    assert!(live.contains(tiers), "fixture layout");
    let with_hdr = live.replace(
        tiers,
        r#"[{\"sDisplayName\":\"HDR蓝光\",\"iBitRate\":0,\"iCodecType\":1},{\"sDisplayName\":\"蓝光8M\",\"iBitRate\":8000,\"iCodecType\":1},{\"sDisplayName\":\"流畅\",\"iBitRate\":500,\"iCodecType\":0}]"#,
    );
    let mock = serve(Reply::text(200, &with_hdr)).await;
    let variants = Huya.stream_variants(&mock.context(HOSTS), "52333").await.unwrap();
    assert!(variants.iter().all(|v| !v.quality.contains("HDR")), "HDR skipped");
    let hevc: Vec<_> = variants.iter().filter(|v| v.quality == "蓝光8M").collect();
    assert!(!hevc.is_empty());
    assert!(
        hevc.iter().all(|v| v.codec.as_deref() == Some("hevc") && !v.url.contains("codec=264"))
    );
}

#[tokio::test]
async fn real_profile_room_answer() {
    let mock = Mock::start().await;
    mock.on_query(API, "roomid=660000", Reply::fixture(200, "huya/real/profile_room_live.json"));
    let ctx = mock.context(HOSTS);
    let info = Huya.live_info(&ctx, "660000").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live, "【预告】 is a live's title, not a rebroadcast");
    assert_eq!(info.title, "【预告】03点MKOI vs BLG MSI淘汰赛阶段");
    assert_eq!(info.categories, ["英雄联盟"]);
    assert_eq!(info.live_id.as_deref(), Some("7458922221619556559"));
    let variants = Huya.stream_variants(&ctx, "660000").await.unwrap();
    // 4 tiers x 5 CDNs (HYZJ at priority -1 skipped) x FLV + HLS.
    assert_eq!(variants.len(), 40, "{variants:?}");
    let first = &variants[0];
    assert_eq!((first.quality.as_str(), first.cdn.as_deref()), ("蓝光10M", Some("HS")));
    assert!(first.source);
    assert!(
        first.url.starts_with(
            "http://hs.flv.huya.com/src/78941969-2559461593-10992803837303062528-2693342886-10057-A-0-1-imgplus.flv?wsSecret=ea1ab14153786e06041401c7e078270c&wsTime=68679650&"
        ),
        "{}",
        first.url
    );
    assert!(!variants.iter().any(|v| v.cdn.as_deref() == Some("HYZJ")));
    let ratio: Vec<_> = variants.iter().filter(|v| v.quality == "蓝光4M").collect();
    assert!(ratio.iter().all(|v| v.url.ends_with("&ratio=4000") && !v.source));
}

#[test]
fn anticode_refreshes_an_expiring_ws_time() {
    let now_ms = NOW.unix_timestamp() * 1000;
    let soon = format!("{:x}", NOW.unix_timestamp() + 60);
    let code = format!(
        "wsTime={soon}&fm=RFdxOEJjSjNoNkRKdDZUWV8kMF8kMV8kMl8kMw%3D%3D&ctype=huya_live&t=100"
    );
    let out = anticode(&code, "s", 1_234_567, now_ms).unwrap();
    let expected = format!("wsTime={:x}", NOW.unix_timestamp() + 24 * 3600);
    assert!(out.contains(&expected), "{out}");
    assert!(anticode("wsTime=1", "s", 1, now_ms).is_none(), "no fm, no anticode");
}
