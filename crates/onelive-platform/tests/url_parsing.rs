//! Offline URL parsing: the forms users paste, and look-alikes that must
//! not match.

use onelive_platform::PlatformAdapter;
use onelive_platform::adapters::{
    bilibili::Bilibili, douyu::Douyu, generic::Generic, huya::Huya, kick::Kick, soop::Soop,
    twitch::Twitch,
};

fn check(adapter: &dyn PlatformAdapter, accepted: &[(&str, &str)], rejected: &[&str]) {
    for (url, channel) in accepted {
        assert_eq!(
            adapter.parse_url(url).as_deref(),
            Some(*channel),
            "{} should claim {url}",
            adapter.name()
        );
    }
    for url in rejected {
        assert_eq!(adapter.parse_url(url), None, "{} must not claim {url}", adapter.name());
    }
}

#[test]
fn bilibili_urls() {
    check(
        &Bilibili::new(),
        &[
            ("https://live.bilibili.com/21452505", "21452505"),
            ("https://live.bilibili.com/196", "196"),
            ("http://live.bilibili.com/21452505/", "21452505"),
            (
                "https://live.bilibili.com/21452505?broadcast_type=0&is_room_feed=1&spm_id_from=333.999",
                "21452505",
            ),
            ("https://live.bilibili.com/blanc/21452505", "21452505"),
            ("https://live.bilibili.com/h5/21452505", "21452505"),
            ("live.bilibili.com/196", "196"),
            ("https://LIVE.BILIBILI.COM/196#top", "196"),
        ],
        &[
            "https://live.bilibili.com/",
            "https://live.bilibili.com",
            "https://live.bilibili.com/p/eden/area-tags",
            "https://live.bilibili.com/blanc",
            "https://live.bilibili.com/abc",
            "https://www.bilibili.com/video/BV1GJ411x7h7",
            "https://space.bilibili.com/672328094",
            "https://live.bilibili.com.evil.example/196",
            "https://b23.tv/abc123",
            "ftp://live.bilibili.com/196",
        ],
    );
}

#[test]
fn twitch_urls() {
    check(
        &Twitch,
        &[
            ("https://www.twitch.tv/gamerbee", "gamerbee"),
            ("https://twitch.tv/GamerBee/", "gamerbee"),
            ("https://m.twitch.tv/gamerbee?sr=a", "gamerbee"),
            ("https://go.twitch.tv/gamerbee", "gamerbee"),
            ("https://player.twitch.tv/?channel=gamerbee&parent=example.com", "gamerbee"),
            ("twitch.tv/some_user_42", "some_user_42"),
        ],
        &[
            "https://www.twitch.tv/",
            "https://www.twitch.tv/videos/1963401646",
            "https://www.twitch.tv/gamerbee/videos",
            "https://www.twitch.tv/gamerbee/clip/SomeClipSlug-abc",
            "https://clips.twitch.tv/SomeClipSlug",
            "https://www.twitch.tv/directory/category/just-chatting",
            "https://www.twitch.tv/directory",
            "https://www.twitch.tv/settings",
            "https://player.twitch.tv/?video=1963401646",
            "https://www.twitch.tv/bad-name!",
            "https://nottwitch.tv/gamerbee",
        ],
    );
}

#[test]
fn huya_urls() {
    check(
        &Huya,
        &[
            ("https://www.huya.com/52333", "52333"),
            ("https://huya.com/xiaoyugame", "xiaoyugame"),
            ("https://m.huya.com/52333?shareid=1", "52333"),
            ("https://www.huya.com/52333/", "52333"),
        ],
        &[
            "https://www.huya.com/",
            "https://www.huya.com/g/lol",
            "https://www.huya.com/video/play/123456.html",
            "https://www.huya.com/g",
            "https://www.huya.com/cache.php?m=Live",
            "https://v.huya.com/play/123.html",
        ],
    );
}

#[test]
fn douyu_urls() {
    check(
        &Douyu::new(),
        &[
            ("https://www.douyu.com/288016", "288016"),
            ("https://www.douyu.com/3637778?dyshid=", "3637778"),
            ("https://www.douyu.com/topic/wzDBLS6?rid=4921614&dyshid=", "4921614"),
            ("https://www.douyu.com/topic/ydxc?rid=6560603", "6560603"),
            ("http://www.douyutv.com/85982", "85982"),
            ("https://www.douyu.com/pigff", "pigff"),
            ("https://m.douyu.com/288016/", "288016"),
        ],
        &[
            "https://www.douyu.com/",
            "https://www.douyu.com/directory/all",
            "https://www.douyu.com/g_LOL",
            "https://www.douyu.com/topic/ydxc",
            "https://v.douyu.com/show/abc",
            "https://www.douyu.com/abc_def",
            "https://www.douyu.com/member/cp",
        ],
    );
}

#[test]
fn soop_urls() {
    check(
        &Soop,
        &[
            ("https://play.sooplive.co.kr/pyh3646", "pyh3646"),
            ("https://play.sooplive.co.kr/pyh3646/281257200", "pyh3646"),
            ("https://play.sooplive.com/pyh3646/237852185/", "pyh3646"),
            ("http://play.afreecatv.com/sw7love", "sw7love"),
            ("https://play.sooplive.co.kr/SW7LOVE?lang=en", "sw7love"),
        ],
        &[
            "https://play.sooplive.co.kr/",
            "https://www.sooplive.co.kr/station/pyh3646",
            "https://vod.sooplive.co.kr/player/123456",
            "https://play.sooplive.co.kr/pyh3646/notanumber",
            "https://ch.sooplive.co.kr/pyh3646",
        ],
    );
}

#[test]
fn kick_urls() {
    check(
        &Kick,
        &[
            ("https://kick.com/xqc", "xqc"),
            ("https://www.kick.com/Buddha/", "buddha"),
            ("https://kick.com/some-streamer_1?ref=x", "some-streamer_1"),
        ],
        &[
            "https://kick.com/",
            "https://kick.com/video/5c697a87-afce-4256-b01f-3c8fe71ef5cb",
            "https://kick.com/xqc/videos/5c697a87-afce-4256-b01f-3c8fe71ef5cb",
            "https://kick.com/spreen/clips/clip_01J8RGZRKHXHXXKJEHGRM932A5",
            "https://kick.com/xqc?clip=clip_01J8RGZRKHXHXXKJEHGRM932A5",
            "https://kick.com/categories/irl",
            "https://kick.com/search",
            "https://notkick.com/xqc",
        ],
    );
}

#[test]
fn generic_urls() {
    check(
        &Generic,
        &[
            ("https://cdn.example.com/live/index.m3u8", "https://cdn.example.com/live/index.m3u8"),
            ("http://127.0.0.1:8080/a/b.flv?token=1", "http://127.0.0.1:8080/a/b.flv?token=1"),
            ("https://cdn.example.com/LIVE.M3U8", "https://cdn.example.com/LIVE.M3U8"),
        ],
        &[
            "https://cdn.example.com/live/index.mp4",
            "https://cdn.example.com/",
            "cdn.example.com/live.m3u8",
            "rtmp://cdn.example.com/live.flv",
            "https://cdn.example.com/page?file=live.m3u8",
        ],
    );
}

#[test]
fn adapters_build_canonical_urls() {
    assert_eq!(Bilibili::new().channel_url("196"), "https://live.bilibili.com/196");
    assert_eq!(Twitch.channel_url("gamerbee"), "https://www.twitch.tv/gamerbee");
    assert_eq!(Soop.channel_url("pyh3646"), "https://play.sooplive.com/pyh3646");
    for adapter in
        [&Bilibili::new() as &dyn PlatformAdapter, &Twitch, &Huya, &Douyu::new(), &Soop, &Kick]
    {
        let forms = adapter.url_forms();
        assert!(!forms.is_empty(), "{}", adapter.name());
        // The canonical URL parses back to the channel.
        let url = adapter.channel_url("12345");
        assert_eq!(adapter.parse_url(&url).as_deref(), Some("12345"), "{url}");
    }
}
