//! The shared HTTP client and its configuration: host overrides, proxy,
//! timeouts, user agent, cookies, and config errors.

use std::time::{Duration, Instant};

use onelive_platform::{ErrorKind, HttpClient, PlatformsConfig, SiteConfig};

use crate::common::{Mock, Reply};

#[tokio::test]
async fn host_override_rewrites_and_keeps_the_query() {
    let mock = Mock::start().await;
    mock.on("/api.example.tv/v1/x", Reply::text(200, "ok"));
    let client = HttpClient::new(&mock.config(&["api.example.tv"])).unwrap();
    let response = client.get("t", "https://api.example.tv/v1/x?a=1&b=two").send().await.unwrap();
    assert_eq!((response.status, response.text().as_str()), (200, "ok"));
    assert_eq!(mock.seen()[0].query, "a=1&b=two");
}

#[tokio::test]
async fn user_agent_global_and_per_platform() {
    let mock = Mock::start().await;
    mock.on("/h/x", Reply::text(200, "ok"));
    let mut config = mock.config(&["h"]);
    config.user_agent = Some("global-agent/1".into());
    config.sites.insert(
        "special".into(),
        SiteConfig { user_agent: Some("special-agent/2".into()), ..SiteConfig::default() },
    );
    let client = HttpClient::new(&config).unwrap();
    client.get("plain", "https://h/x").send().await.unwrap();
    client.get("special", "https://h/x").send().await.unwrap();
    client
        .get("plain", "https://h/x")
        .header("User-Agent", "adapter-chosen/3")
        .send()
        .await
        .unwrap();
    let agents: Vec<String> = mock.seen().iter().map(|s| s.headers["user-agent"].clone()).collect();
    assert_eq!(agents, ["global-agent/1", "special-agent/2", "adapter-chosen/3"]);
}

#[tokio::test]
async fn cookies_only_when_the_adapter_asks() {
    let mock = Mock::start().await;
    mock.on("/h/x", Reply::text(200, "ok"));
    let mut config = mock.config(&["h"]);
    config.sites.insert(
        "p".into(),
        SiteConfig { cookies: Some("a=1; b=2".into()), ..SiteConfig::default() },
    );
    let client = HttpClient::new(&config).unwrap();
    client.get("p", "https://h/x").send().await.unwrap();
    client.get("p", "https://h/x").with_platform_cookies().send().await.unwrap();
    client.get("other", "https://h/x").with_platform_cookies().send().await.unwrap();
    let cookies: Vec<Option<String>> =
        mock.seen().iter().map(|s| s.headers.get("cookie").cloned()).collect();
    assert_eq!(cookies, [None, Some("a=1; b=2".into()), None]);
}

#[tokio::test]
async fn global_and_per_platform_proxy() {
    // The mock acts as an HTTP proxy: it receives absolute-form requests for
    // a host that does not resolve.
    let proxy = Mock::start().await;
    proxy.on("/via-proxy", Reply::text(200, "proxied"));
    let mut config =
        PlatformsConfig { proxy: Some(proxy.base.clone()), ..PlatformsConfig::default() };
    let client = HttpClient::new(&config).unwrap();
    let response = client.get("t", "http://stream.invalid/via-proxy").send().await.unwrap();
    assert_eq!(response.text(), "proxied");
    assert_eq!(proxy.seen()[0].headers.get("host").map(String::as_str), Some("stream.invalid"));

    let direct = Mock::start().await;
    config.proxy = None;
    config.sites.insert(
        "proxied".into(),
        SiteConfig { proxy: Some(proxy.base.clone()), ..SiteConfig::default() },
    );
    config.host_overrides.insert("direct.invalid".into(), direct.base.clone());
    direct.on("/via-proxy", Reply::text(200, "direct"));
    let client = HttpClient::new(&config).unwrap();
    assert_eq!(
        client.get("proxied", "http://stream.invalid/via-proxy").send().await.unwrap().text(),
        "proxied"
    );
    assert_eq!(
        client.get("plain", "http://direct.invalid/via-proxy").send().await.unwrap().text(),
        "direct"
    );
}

#[tokio::test]
async fn timeout_is_a_retryable_network_error() {
    // A listener that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let config = PlatformsConfig { timeout_secs: 1, ..PlatformsConfig::default() };
    let client = HttpClient::new(&config).unwrap();
    let started = Instant::now();
    let error = client.get("t", &format!("http://{addr}/slow?key=abc")).send().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(error.kind(), ErrorKind::Network);
    assert!(
        matches!(error, onelive_platform::PlatformError::Network { timeout: true, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(!error.to_string().contains("key=abc"));
}

#[tokio::test]
async fn body_limit_cuts_endless_bodies() {
    let mock = Mock::start().await;
    mock.on("/h/big", Reply { status: 200, body: vec![b'x'; 100_000], headers: vec![] });
    let client = HttpClient::new(&mock.config(&["h"])).unwrap();
    let response = client.get("t", "https://h/big").max_body_bytes(10).send().await.unwrap();
    assert_eq!(response.body.len(), 10);
    assert!(response.truncated);
}

#[test]
fn invalid_config_is_a_clear_error() {
    let bad_proxy =
        PlatformsConfig { proxy: Some("http://user:pw@[::1".into()), ..PlatformsConfig::default() };
    let error = HttpClient::new(&bad_proxy).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(!error.to_string().contains("pw"), "{error}");

    let mut bad_override = PlatformsConfig::default();
    bad_override.host_overrides.insert("api.example".into(), "not a url".into());
    let error = HttpClient::new(&bad_override).unwrap_err();
    assert!(error.to_string().contains("host override for api.example"), "{error}");
    bad_override.host_overrides.insert("api.example".into(), "ftp://127.0.0.1/x".into());
    assert!(HttpClient::new(&bad_override).unwrap_err().to_string().contains("http or https"));
}

#[test]
fn config_from_toml_with_per_platform_sections() {
    let config: PlatformsConfig = toml::from_str(
        r#"
        proxy = "http://alice:s3cret@127.0.0.1:3128"
        timeout_secs = 7
        quality = ["1080p", "best"]
        [host_overrides]
        "api.live.bilibili.com" = "http://127.0.0.1:9000/api.live.bilibili.com"
        [bilibili]
        cookies = "SESSDATA=abcdef; bili_jct=123"
        [twitch]
        quality = ["720p60"]
        proxy = "http://bob:hunter2@127.0.0.1:3129"
        "#,
    )
    .unwrap();
    assert_eq!(config.timeout_secs, 7);
    assert_eq!(config.connect_timeout_secs, 10, "defaults fill the rest");
    assert!(config.streamlink);
    assert_eq!(config.quality_for("twitch"), ["720p60"]);
    assert_eq!(config.quality_for("kick"), ["1080p", "best"]);
    assert_eq!(config.site("bilibili").cookies.as_deref(), Some("SESSDATA=abcdef; bili_jct=123"));
    let debug = format!("{config:?}");
    for secret in ["SESSDATA", "abcdef", "s3cret", "hunter2", "alice", "bob"] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
    assert!(debug.contains("api.live.bilibili.com"));

    let error = toml::from_str::<PlatformsConfig>("[bilibili]\ncookie = \"typo\"\n").unwrap_err();
    assert!(error.to_string().contains("cookie"), "{error}");
    let error = toml::from_str::<PlatformsConfig>("user_agnet = \"x\"\n").unwrap_err();
    assert!(error.to_string().contains("misspelled global setting"), "{error}");
    let error = toml::from_str::<PlatformsConfig>("timeout_secs = \"ten\"\n").unwrap_err();
    assert!(
        error.to_string().contains("timeout_secs") || error.to_string().contains("invalid type"),
        "{error}"
    );
}
