//! `oneliverec platforms`, `parse` and `probe`, run as real processes.
//! `probe` talks to a local server through host overrides from a config file.

use std::process::Output;

use axum::http::StatusCode;
use axum::routing::get;

const BIN: &str = env!("CARGO_BIN_EXE_oneliverec");

fn fixture(path: &str) -> String {
    let full = format!(
        "{}/../../crates/onelive-platform/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

async fn run(args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("ONELIVEREC_CONFIG")
        .output()
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn platforms_lists_every_adapter_and_url_form() {
    let output = run(&["platforms"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for name in ["bilibili", "twitch", "huya", "douyu", "soop", "kick", "generic", "streamlink"] {
        assert!(text.lines().any(|l| l == name), "{name} missing from\n{text}");
    }
    assert!(text.contains("https://live.bilibili.com/<room id or short id>"), "{text}");

    let output = run(&["platforms", "--json"]).await;
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list[1]["platform"], "twitch");
    assert!(list[1]["url_forms"].as_array().is_some_and(|f| !f.is_empty()));
}

#[tokio::test]
async fn parse_prints_platform_and_channel() {
    let output = run(&["parse", "https://live.bilibili.com/196?spm_id_from=x"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json, serde_json::json!({"platform": "bilibili", "channel": "196"}));

    let output = run(&["parse", "https://www.twitch.tv/GamerBee/"]).await;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["channel"], "gamerbee");
}

#[tokio::test]
async fn parse_explains_an_unclaimed_url() {
    let output = run(&["parse", "https://example.com/some/page"]).await;
    assert!(!output.status.success());
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let err = stderr(&output);
    assert!(err.contains("no adapter claims https://example.com/some/page"), "{err}");
    assert!(err.contains("not a direct .m3u8/.flv URL"), "{err}");
}

#[tokio::test]
async fn parse_reads_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oneliverec.toml");
    // A page only the fallbacks take; both are switched off in the file.
    std::fs::write(&path, "[platforms]\nstreamlink = false\nytdlp = false\n").unwrap();
    let output = run(&[
        "parse",
        "https://www.youtube.com/@someone/live",
        "--config",
        path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("streamlink is disabled"), "{err}");
    assert!(err.contains("VOD, clip and user pages are not live rooms"), "{err}");
}

/// A Kick stand-in: `xqc` is live, `offline` is offline, others 404.
async fn kick_server() -> String {
    let live = fixture("kick/channel_live.json");
    let offline = fixture("kick/channel_offline.json");
    let master = fixture("kick/master.m3u8");
    let app = axum::Router::new()
        .route("/kick.com/api/v2/channels/xqc", get(move || async move { live }))
        .route("/kick.com/api/v2/channels/offline", get(move || async move { offline }))
        .route(
            "/kick.com/api/v2/channels/{other}",
            get(|| async { (StatusCode::NOT_FOUND, "{\"message\":\"Channel not found\"}") }),
        )
        .route(
            "/playback/api/video/v1/us-west-2.196233775518.channel.xAo7ICkvU9sB.m3u8",
            get(move || async move { master }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

fn write_config(dir: &tempfile::TempDir, base: &str) -> String {
    let path = dir.path().join("oneliverec.toml");
    let text = format!(
        "[platforms]\nstreamlink = false\ntimeout_secs = 5\n\n[platforms.host_overrides]\n\
         \"kick.com\" = \"{base}/kick.com\"\n\
         \"fa723fc1b171.us-west-2.playback.live-video.net\" = \"{base}/playback\"\n\n\
         [platforms.kick]\ncookies = \"cf_clearance=verysecretvalue\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn probe_a_live_channel() {
    let base = kick_server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, &base);
    let output = run(&["probe", "https://kick.com/xqc", "--config", &config]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["platform"], "kick");
    assert_eq!(json["channel"], "xqc");
    assert_eq!(json["url"], "https://kick.com/xqc");
    assert_eq!(json["live_info"]["status"], "live");
    assert_eq!(json["live_info"]["title"], "JUICED REACT | !socials");
    assert_eq!(json["live_info"]["start_time"], "2024-05-01T09:15:02Z");
    let variants = json["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 3);
    assert_eq!(variants[0]["quality"], "1080p60");
    assert_eq!(variants[0]["kind"], "hls");
    assert_eq!(variants[0]["height"], 1080);
    assert!(!stdout(&output).contains("verysecretvalue"));
}

#[tokio::test]
async fn probe_offline_and_not_found() {
    let base = kick_server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, &base);
    let output = run(&["probe", "https://kick.com/offline", "--config", &config]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["live_info"]["status"], "offline");
    assert_eq!(json["variants"], serde_json::json!([]));

    let output = run(&["probe", "https://kick.com/nobody", "--config", &config]).await;
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(err.contains("kick: channel nobody not found"), "{err}");
    assert!(!err.contains("verysecretvalue"), "{err}");
}

#[tokio::test]
async fn probe_with_a_bad_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[platforms]\ntimeout_secs = \"soon\"\n").unwrap();
    let output = run(&["probe", "https://kick.com/xqc", "--config", path.to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("invalid config file") && err.contains("bad.toml"), "{err}");
    assert!(err.contains("timeout_secs") || err.contains("invalid type"), "{err}");

    let missing = dir.path().join("missing.toml");
    let output =
        run(&["probe", "https://kick.com/xqc", "--config", missing.to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("cannot read config file"), "{}", stderr(&output));

    std::fs::write(&path, "[platforms]\nproxy = \"http://[::1\"\n").unwrap();
    let output = run(&["probe", "https://kick.com/xqc", "--config", path.to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("invalid proxy URL"), "{}", stderr(&output));
}
