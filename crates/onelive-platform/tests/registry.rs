//! The registry: resolution order, custom adapters, dispatch.

use std::sync::Arc;

use onelive_platform::{
    ErrorKind, LiveInfo, LiveStatus, PlatformAdapter, PlatformContext, PlatformRegistry, Platforms,
    PlatformsConfig, Result, StreamKind, StreamVariant, async_trait,
};

fn config() -> PlatformsConfig {
    PlatformsConfig { streamlink: false, ytdlp: false, ..PlatformsConfig::default() }
}

/// A made-up adapter that also claims Twitch URLs (to test precedence).
struct Shadow;

#[async_trait]
impl PlatformAdapter for Shadow {
    fn name(&self) -> &str {
        "shadow"
    }
    fn url_forms(&self) -> Vec<String> {
        vec!["https://www.twitch.tv/shadow_<x>".into()]
    }
    fn parse_url(&self, url: &str) -> Option<String> {
        url.strip_prefix("https://www.twitch.tv/shadow_").map(str::to_owned)
    }
    fn channel_url(&self, channel: &str) -> String {
        format!("https://www.twitch.tv/shadow_{channel}")
    }
    async fn live_info(&self, _ctx: &PlatformContext, channel: &str) -> Result<LiveInfo> {
        Ok({
            let mut built = LiveInfo::default();
            built.uname = channel.to_owned();
            built.status = LiveStatus::Live;
            built
        })
    }
    async fn stream_variants(
        &self,
        _ctx: &PlatformContext,
        channel: &str,
    ) -> Result<Vec<StreamVariant>> {
        Ok(vec![StreamVariant::new(
            format!("http://127.0.0.1/{channel}.flv"),
            StreamKind::Flv,
            "source",
        )])
    }
}

#[test]
fn builtins_in_order_with_generic_last() {
    let names: Vec<String> = PlatformRegistry::builtin(&config())
        .adapters()
        .iter()
        .map(|a| a.name().to_owned())
        .collect();
    assert_eq!(
        names,
        ["bilibili", "twitch", "huya", "douyu", "soop", "kick", "douyin", "tiktok", "generic"]
    );
    let with_streamlink = PlatformRegistry::builtin(&PlatformsConfig::default());
    let names: Vec<String> =
        with_streamlink.adapters().iter().map(|a| a.name().to_owned()).collect();
    assert_eq!(names[names.len() - 2..], ["streamlink", "ytdlp"]);
}

#[test]
fn resolves_each_platform() {
    let registry = PlatformRegistry::builtin(&config());
    let cases = [
        ("https://live.bilibili.com/196", "bilibili", "196"),
        ("https://www.twitch.tv/gamerbee", "twitch", "gamerbee"),
        ("https://www.huya.com/52333", "huya", "52333"),
        ("https://www.douyu.com/topic/x?rid=1", "douyu", "1"),
        ("https://play.sooplive.co.kr/pyh3646/1", "soop", "pyh3646"),
        ("https://kick.com/xqc", "kick", "xqc"),
        ("  https://cdn.example/x.m3u8 ", "generic", "https://cdn.example/x.m3u8"),
    ];
    for (url, platform, channel) in cases {
        let resolved = registry.resolve(url).unwrap();
        assert_eq!(
            (resolved.platform.as_str(), resolved.channel.as_str()),
            (platform, channel),
            "{url}"
        );
    }
}

#[test]
fn unclaimed_urls_explain_why() {
    let registry = PlatformRegistry::builtin(&config());
    for url in ["https://example.com/", "not a url"] {
        let error = registry.resolve(url).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UnsupportedUrl);
        let text = error.to_string();
        assert!(text.contains("no adapter claims"), "{text}");
        assert!(text.contains("bilibili, twitch"), "{text}");
        assert!(text.contains("streamlink is disabled"), "{text}");
    }
    let error = registry.resolve("https://example.com/page?session=secret").unwrap_err();
    assert!(!error.to_string().contains("secret"));
    assert!(PlatformRegistry::empty().resolve("https://kick.com/xqc").is_err());
}

#[tokio::test]
async fn custom_adapters_come_first_and_dispatch() {
    let mut platforms = Platforms::from_parts(
        PlatformRegistry::builtin(&config()),
        PlatformContext::new(&config()).unwrap(),
    );
    assert_eq!(platforms.resolve("https://www.twitch.tv/shadow_x").unwrap().platform, "twitch");
    platforms.register(Arc::new(Shadow));
    let channel = platforms.resolve("https://www.twitch.tv/shadow_x").unwrap();
    assert_eq!((channel.platform.as_str(), channel.channel.as_str()), ("shadow", "x"));
    assert_eq!(platforms.resolve("https://www.twitch.tv/other").unwrap().platform, "twitch");
    let info = platforms.live_info(&channel).await.unwrap();
    assert_eq!((info.uname.as_str(), info.status), ("x", LiveStatus::Live));
    let variants = platforms.stream_variants(&channel).await.unwrap();
    assert_eq!(variants[0].url, "http://127.0.0.1/x.flv");
    assert_eq!(platforms.channel_url(&channel).as_deref(), Some("https://www.twitch.tv/shadow_x"));
    // Registering the same name twice keeps one.
    platforms.register(Arc::new(Shadow));
    assert_eq!(platforms.registry().adapters().iter().filter(|a| a.name() == "shadow").count(), 1);

    let unknown = onelive_platform::ChannelRef { platform: "nope".into(), channel: "x".into() };
    assert_eq!(platforms.live_info(&unknown).await.unwrap_err().kind(), ErrorKind::UnsupportedUrl);
}

#[test]
fn unknown_site_sections_are_reported() {
    let config: PlatformsConfig =
        toml::from_str("[bilibil]\ncookies = \"a\"\n[twitch]\nquality = [\"720p60\"]\n[shadow]\n")
            .unwrap();
    let mut registry = PlatformRegistry::builtin(&config);
    assert_eq!(registry.unknown_sites(&config), ["bilibil", "shadow"]);
    registry.register(Arc::new(Shadow));
    assert_eq!(registry.unknown_sites(&config), ["bilibil"]);
}

/// A registry whose streamlink fallback claims every URL (`true` exits 0 on
/// `--can-handle-url`), so only the native refusal stands between a VOD URL
/// and a channel that can never go live.
fn greedy_streamlink() -> PlatformRegistry {
    let program = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("a `true` program");
    let config = PlatformsConfig {
        streamlink: true,
        streamlink_path: Some(program.to_owned()),
        ..PlatformsConfig::default()
    };
    PlatformRegistry::builtin(&config)
}

#[test]
fn non_live_urls_of_known_platforms_are_refused_precisely() {
    let registry = greedy_streamlink();
    assert_eq!(registry.resolve("https://example.com/live").unwrap().platform, "streamlink");
    let cases = [
        (
            "https://www.twitch.tv/videos/2233445566",
            "twitch: https://www.twitch.tv/videos/2233445566 is a Twitch VOD, not a live channel: \
             use https://www.twitch.tv/<login>",
        ),
        (
            "https://www.twitch.tv/gamerbee/videos?filter=archives",
            "a Twitch VOD, not a live channel: use https://www.twitch.tv/gamerbee",
        ),
        (
            "https://www.twitch.tv/gamerbee/clip/FunnyClipSlug-abc",
            "a Twitch clip, not a live channel: use https://www.twitch.tv/gamerbee",
        ),
        ("https://clips.twitch.tv/FunnyClipSlug-abc", "a Twitch clip"),
        ("https://www.twitch.tv/directory/category/just-chatting", "a Twitch directory page"),
        (
            "https://www.huya.com/video/play/123456.html",
            "a Huya video page, not a live channel: use https://www.huya.com/<room number or alias>",
        ),
        ("https://v.huya.com/play/123.html", "a Huya video page"),
        (
            "https://kick.com/categories/irl",
            "a Kick category page, not a live channel: use https://kick.com/<slug>",
        ),
        ("https://kick.com/search?query=x", "Kick's search page"),
        (
            "https://kick.com/xqc/videos/5c697a87-afce-4256-b01f-3c8fe71ef5cb",
            "a Kick VOD, not a live channel: use https://kick.com/xqc",
        ),
        (
            "https://kick.com/xqc?clip=clip_01J8",
            "a Kick clip, not a live channel: use https://kick.com/xqc",
        ),
        (
            "https://www.bilibili.com/video/BV1xx411c7mD",
            "a Bilibili video, not a live channel: use https://live.bilibili.com/<room id>",
        ),
        ("https://space.bilibili.com/672328094", "a Bilibili user page"),
        ("https://v.douyu.com/show/abc", "a Douyu video page"),
        ("https://www.douyu.com/topic/ydxc", "a Douyu topic page without ?rid=<room id>"),
        ("https://vod.sooplive.co.kr/player/123456", "a SOOP VOD"),
        (
            "https://www.sooplive.co.kr/station/pyh3646",
            "a SOOP station page, not a live channel: use https://play.sooplive.com/pyh3646",
        ),
    ];
    for (url, expected) in cases {
        let error = registry.resolve(url).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UnsupportedUrl, "{url}");
        let text = error.to_string();
        assert!(text.contains(expected), "{url}: {text}");
        assert!(!text.contains("filter=archives") && !text.contains("query=x"), "{text}");
    }
    // A direct stream on a platform's CDN host is still a direct stream.
    let direct = "http://tx.flv.huya.com/src/1-2-3.flv?wsSecret=s";
    assert_eq!(registry.resolve(direct).unwrap().platform, "generic");
    // Live channels still resolve to their native adapter.
    assert_eq!(registry.resolve("https://www.twitch.tv/gamerbee").unwrap().platform, "twitch");
    assert_eq!(registry.resolve("https://kick.com/xqc").unwrap().platform, "kick");
}
