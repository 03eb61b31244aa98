//! The custom adapter, registered in the registry, resolved and probed
//! against a local server; and the example binary run as a process.

mod recorder;

use std::sync::Arc;

use custom_adapter::StreamHut;
use onelive_platform::{
    ErrorKind, LiveStatus, PlatformAdapter, PlatformContext, PlatformRegistry, Platforms,
    PlatformsConfig, StreamKind,
};

const CHANNEL_LIVE: &str = r#"{"id":42,"name":"Ada","avatar":"https://img.streamhut.example/ada.png",
 "live":true,"title":"Writing adapters","category":"Software","session_id":"s-9001",
 "hls":"https://cdn.streamhut.example/ada/master.m3u8"}"#;
const CHANNEL_OFFLINE: &str = r#"{"id":43,"name":"Bob","live":false,"title":"","hls":""}"#;

async fn server() -> String {
    let app = axum::Router::new()
        .route(
            "/api.streamhut.example/v1/channels/ada",
            axum::routing::get(|| async { CHANNEL_LIVE }),
        )
        .route(
            "/api.streamhut.example/v1/channels/bob",
            axum::routing::get(|| async { CHANNEL_OFFLINE }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

fn config(base: &str) -> PlatformsConfig {
    let mut config = PlatformsConfig { streamlink: false, ..PlatformsConfig::default() };
    config
        .host_overrides
        .insert("api.streamhut.example".into(), format!("{base}/api.streamhut.example"));
    config
}

#[test]
fn registry_resolves_the_custom_platform_before_fallbacks() {
    let config = PlatformsConfig { streamlink: false, ..PlatformsConfig::default() };
    let mut registry = PlatformRegistry::builtin(&config);
    assert!(registry.resolve("https://streamhut.example/live/Ada/").is_err());
    registry.register(Arc::new(StreamHut));
    let channel = registry.resolve("https://streamhut.example/live/Ada/?ref=home").unwrap();
    assert_eq!((channel.platform.as_str(), channel.channel.as_str()), ("streamhut", "ada"));
    assert!(registry.resolve("https://streamhut.example/videos/1").is_err());
    // Built-ins still resolve.
    assert_eq!(registry.resolve("https://www.twitch.tv/ada").unwrap().platform, "twitch");
    assert_eq!(registry.adapters()[0].name(), "streamhut");
}

#[tokio::test]
async fn custom_adapter_live_offline_and_not_found() {
    let base = server().await;
    let mut platforms = Platforms::from_config(&config(&base)).unwrap();
    platforms.register(Arc::new(StreamHut));
    let live = platforms.resolve("https://streamhut.example/live/ada").unwrap();
    let info = platforms.live_info(&live).await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uname, "Ada");
    assert_eq!(info.uid, "42");
    assert_eq!(info.categories, ["Software"]);
    assert_eq!(info.live_id.as_deref(), Some("s-9001"));
    let variants = platforms.stream_variants(&live).await.unwrap();
    assert_eq!(variants.len(), 1);
    assert_eq!(variants[0].kind, StreamKind::Hls);
    assert_eq!(variants[0].url, "https://cdn.streamhut.example/ada/master.m3u8");

    let offline = platforms.resolve("https://streamhut.example/live/bob").unwrap();
    assert_eq!(platforms.live_info(&offline).await.unwrap().status, LiveStatus::Offline);
    let error = platforms.stream_variants(&offline).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Offline);

    let ctx = PlatformContext::new(&config(&base)).unwrap();
    let error = StreamHut.live_info(&ctx, "nobody").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn example_binary_runs() {
    let base = server().await;
    let dir = std::env::temp_dir().join(format!("custom-adapter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config_path = dir.join("platforms.json");
    std::fs::write(&config_path, serde_json::to_string(&config(&base)).unwrap()).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_custom-adapter"))
        .arg("https://streamhut.example/live/ada")
        .arg(&config_path)
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["channel"]["platform"], "streamhut");
    assert_eq!(json["live_info"]["status"], "live");
    assert_eq!(json["live_info"]["title"], "Writing adapters");
    assert_eq!(json["variants"][0]["kind"], "hls");
}
