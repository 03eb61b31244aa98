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
        Ok(LiveInfo { uname: channel.to_owned(), status: LiveStatus::Live, ..LiveInfo::default() })
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
    for url in ["https://www.twitch.tv/videos/1", "https://example.com/", "not a url"] {
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
