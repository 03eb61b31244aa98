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
async fn stream_variants_are_signed_deterministically() {
    let mock = serve(Reply::fixture(200, "huya/profile_live.json")).await;
    let variants = Huya.stream_variants(&mock.context(HOSTS), "52333").await.unwrap();
    // 3 qualities x 2 usable CDNs (HY skipped, negative priority skipped) x FLV+HLS.
    assert_eq!(variants.len(), 12, "{variants:?}");
    let first = &variants[0];
    assert_eq!(first.kind, StreamKind::Flv);
    assert_eq!(first.quality, "蓝光10M");
    assert!(first.source);
    assert_eq!(first.cdn.as_deref(), Some("TX"));
    let name = "1346609715-1346609715-5783571086287405056-2693342886-10057-A-0-1";
    let prefix = format!("https://tx.flv.huya.example/src/{name}.flv?");
    assert!(first.url.starts_with(&prefix), "{}", first.url);
    assert_eq!(variants[1].cdn.as_deref(), Some("AL"));
    assert_eq!(variants[2].quality, "超清");
    assert!(variants[2].url.contains("&ratio=2000"), "{}", variants[2].url);
    assert!(variants[6].url.starts_with(&format!("https://tx.hls.huya.example/src/{name}.m3u8?")));
    assert_eq!(first.headers.get("Referer").map(String::as_str), Some("https://www.huya.com/"));

    // The query is the documented anticode for the viewer uid in it.
    let query = &first.url[prefix.len()..];
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let now_ms = NOW.unix_timestamp() * 1000;
    let uid = (get("seqid").parse::<i64>().unwrap() - now_ms) as u64;
    let code = "wsSecret=ab12&wsTime=6632f000&fm=RFdxOEJjSjNoNkRKdDZUWV8kMF8kMV8kMl8kMw%3D%3D&ctype=tars_mp&fs=bgct&t=102";
    let expected = anticode(code, name, uid, now_ms).unwrap();
    assert_eq!(format!("{expected}&codec=264"), query);
    assert_eq!(get("wsTime"), "6632f000", "an unexpired wsTime is kept");
    assert_eq!(get("sdk_sid"), now_ms.to_string());

    // Same clock and seed give the same URLs.
    let again = Huya.stream_variants(&mock.context(HOSTS), "52333").await.unwrap();
    assert_eq!(again, variants);
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
