//! Invalid configs are refused with the file, the key and the reason.

use std::path::Path;

use onelive_engine::{EngineConfig, EngineError};

fn err(text: &str) -> (String, String) {
    match EngineConfig::parse(text, Path::new("/etc/oneliverec.toml")) {
        Err(EngineError::Config { path, key, reason }) => {
            assert_eq!(path, Path::new("/etc/oneliverec.toml"));
            (key, reason)
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn unknown_keys_are_named_with_their_path() {
    let (key, reason) = err("[watch]\npoll_intervall = \"5s\"\n");
    assert_eq!(key, "watch.poll_intervall");
    assert!(reason.contains("unknown key"), "{reason}");
    assert!(reason.contains("poll_interval"), "lists the expected keys: {reason}");
    let (key, _) = err("[[channels]]\nurl = \"https://live.bilibili.com/1\"\nnmae = \"x\"\n");
    assert_eq!(key, "channels[0].nmae");
    let (key, _) = err("colour = 1\n");
    assert_eq!(key, "colour");
    // Inside a platform's table (a flattened map, where serde loses the place).
    let (key, reason) = err("[output]\nfolder = \"rec\"\n\n[platforms.bilibili]\ncookie = \"x\"\n");
    assert_eq!(key, "platforms.bilibili.cookie");
    assert!(reason.contains("line 5"), "{reason}");
}

#[test]
fn wrong_types_and_values_are_explained() {
    let (key, reason) = err("[watch]\npoll_interval = \"soon\"\n");
    assert_eq!(key, "watch.poll_interval");
    assert!(reason.contains("soon"), "{reason}");
    let (key, reason) = err("[watch]\nmax_concurrent_polls = \"many\"\n");
    assert_eq!(key, "watch.max_concurrent_polls");
    assert!(reason.contains("line 2"), "{reason}");
    let (key, reason) = err("[watch]\npoll_interval = \"10ms\"\n");
    assert_eq!(key, "watch.poll_interval");
    assert!(reason.contains("too short"), "{reason}");
    let (key, reason) = err("[transmux]\nformat = \"avi\"\n");
    assert_eq!(key, "transmux.format");
    assert!(reason.contains("avi"), "{reason}");
    let (key, reason) =
        err("[[webhooks]]\nurl = \"http://127.0.0.1:1/\"\nevents = [\"live_begin\"]\n");
    assert_eq!(key, "webhooks[0].events[0]");
    assert!(reason.contains("live_begin"), "{reason}");
}

#[test]
fn missing_required_keys_and_bad_urls() {
    let (key, reason) = err("[[channels]]\nname = \"x\"\n");
    assert_eq!(key, "channels[0].url");
    assert!(reason.contains("missing"), "{reason}");
    let (key, reason) = err("[[channels]]\nurl = \"not a url\"\n");
    assert_eq!(key, "channels[0].url");
    assert!(reason.contains("not a valid URL"), "{reason}");
    let (key, reason) = err("[[webhooks]]\nurl = \"ftp://example.com/x\"\n");
    assert_eq!(key, "webhooks[0].url");
    assert!(reason.contains("ftp"), "{reason}");
    let (key, reason) = err(
        "[[channels]]\nurl = \"https://live.bilibili.com/1\"\n[[channels]]\nurl = \"https://live.bilibili.com/1/\"\n",
    );
    assert_eq!(key, "channels[1].url");
    assert!(reason.contains("duplicate"), "{reason}");
}

#[test]
fn a_public_api_needs_a_token() {
    let (key, reason) = err("[api]\nlisten = \"0.0.0.0:8686\"\n");
    assert_eq!(key, "api.token");
    assert!(reason.contains("0.0.0.0"), "{reason}");
    EngineConfig::parse("[api]\nlisten = \"0.0.0.0:8686\"\ntoken = \"abc\"\n", Path::new("x"))
        .unwrap();
    // A token of spaces would be accepted by nobody's client and protects nothing.
    let (key, reason) = err("[api]\nlisten = \"0.0.0.0:8686\"\ntoken = \" \"\n");
    assert_eq!(key, "api.token");
    assert!(reason.contains("whitespace"), "{reason}");
    let (key, _) = err("[api]\ntoken = \"\t \"\n");
    assert_eq!(key, "api.token");
}

#[test]
fn syntax_errors_give_the_line() {
    let (key, reason) = err("[output]\nfolder = \"rec\"\n[watch\n");
    assert_eq!(key, "(syntax)");
    assert!(reason.contains("line 3"), "{reason}");
}

#[test]
fn templates_are_checked() {
    let (key, reason) = err("[output]\nfilename_template = \"{channel}/{nope}\"\n");
    assert_eq!(key, "output.filename_template");
    assert!(reason.contains("{nope}"), "{reason}");
    let (_, reason) = err("[output]\nfilename_template = \"../{channel}\"\n");
    assert!(reason.contains(".."), "{reason}");
    // The recorder's parser decides: a bad strftime directive, an unclosed brace.
    let (key, reason) = err("[output]\nfilename_template = \"{start_time:%Q}_{part}\"\n");
    assert_eq!(key, "output.filename_template");
    assert!(reason.contains("%Q"), "{reason}");
    let (key, reason) = err("[output]\nfilename_template = \"{channel\"\n");
    assert_eq!(key, "output.filename_template");
    assert!(reason.contains("unclosed"), "{reason}");
    let (key, _) = err(
        "[[channels]]\nurl = \"https://live.bilibili.com/1\"\nfilename_template = \"{part:x}\"\n",
    );
    assert_eq!(key, "channels[0].filename_template");
    // strftime dates, the engine's variables and the old aliases are accepted.
    let ok = "[output]\nfilename_template = \"{platform}/{name}/{start_time:%Y%m%d}_{date}_{time}_{session}_{uname}_{title}_{part:03}.{ext}\"\n";
    assert!(EngineConfig::parse(ok, Path::new("/etc/oneliverec.toml")).is_ok());
}

#[test]
fn a_full_config_round_trips_and_secrets_stay_out_of_debug() {
    let text = r#"
[output]
folder = "/app/rec"
filename_template = "{platform}/{name}/{date}_{time}_{title}_part{part}"

[split]
max_duration = "1h"
max_size_mb = 2048

[transmux]
format = "mkv"
delete_source = true

[watch]
poll_interval = "30s"
debounce = "2m"
min_interval = { bilibili = "10s" }

[platforms]
quality = ["source"]
[platforms.host_overrides]
"api.live.bilibili.com" = "http://127.0.0.1:9000/api.live.bilibili.com"
[platforms.bilibili]
cookies = "SESSDATA=topsecretcookie"

[[channels]]
url = "https://live.bilibili.com/21452505"
name = "someone"
quality = ["1080p"]

[[webhooks]]
url = "http://127.0.0.1:5000/webhook?key=querysecret"
events = ["video_transmux_finish"]
secret = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"
headers = { Authorization = "Bearer headersecret" }
"#;
    let c = EngineConfig::parse(text, Path::new("x.toml")).unwrap();
    assert_eq!(c.split.max_duration.unwrap().0.as_secs(), 3600);
    assert_eq!(c.watch.min_interval["bilibili"].0.as_secs(), 10);
    let debug = format!("{c:?}");
    for secret in ["topsecretcookie", "whsec_c2Vj", "headersecret", "querysecret"] {
        assert!(!debug.contains(secret), "{secret} leaked in Debug");
    }
    let back = EngineConfig::parse(&c.to_toml().unwrap(), Path::new("x.toml")).unwrap();
    assert_eq!(back, c);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oneliverec.toml");
    c.write_atomic(&path).unwrap();
    assert_eq!(EngineConfig::load(&path).unwrap(), c);
}

#[test]
fn an_unreadable_file_names_the_file() {
    let e = EngineConfig::load(Path::new("/nonexistent/oneliverec.toml")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/oneliverec.toml"), "{e}");
}

#[test]
fn the_recording_engine_is_native_by_default_and_checked() {
    let default = EngineConfig::parse("", Path::new("a.toml")).unwrap();
    assert_eq!(default.recording.engine, onelive_recorder::Engine::Native);
    let ffmpeg =
        EngineConfig::parse("[recording]\nengine = \"ffmpeg\"\n", Path::new("a.toml")).unwrap();
    assert_eq!(ffmpeg.recording.engine, onelive_recorder::Engine::Ffmpeg);
    let (key, reason) = err("[recording]\nengine = \"gstreamer\"\n");
    assert_eq!(key, "recording.engine");
    assert!(reason.contains("native") && reason.contains("ffmpeg"), "{reason}");
}
