//! Bad config files are refused at start with the file, the key and the
//! reason, and a non-zero exit code.

use std::process::Command;

use crate::e2e_support::BIN;

fn run(args: &[&str], config: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oneliverec.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(&path)
        .current_dir(dir.path())
        .env_remove("ONELIVEREC_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "FILE");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[test]
fn bad_configs_are_refused_with_file_key_and_reason() {
    let cases = [
        (
            "[watch]\npoll_intervall = \"5s\"\n",
            "invalid config FILE: key `watch.poll_intervall`: unknown key",
        ),
        ("[watch]\ndebounce = \"two minutes\"\n", "key `watch.debounce`: invalid duration"),
        ("[[channels]]\nname = \"x\"\n", "key `channels[0].url`: required key is missing"),
        ("[[channels]]\nurl = \"https://example.com/not-a-live-room\"\n", "key `channels[0].url`:"),
        (
            "[[webhooks]]\nurl = \"http://127.0.0.1:9/\"\nevents = [\"live_begin\"]\n",
            "key `webhooks[0].events[0]`",
        ),
        ("[api]\nlisten = \"0.0.0.0:8686\"\n", "key `api.token`: a bearer token is required"),
        ("[output\n", "key `(syntax)`: TOML syntax error"),
        // What the webhook dispatcher refuses at start, check-config refuses too:
        // a link-local address spelled in hex, and a secret that is no `whsec_` key.
        ("[[webhooks]]\nurl = \"http://0xa9fea9fe/\"\n", "key `webhooks[0]`:"),
        (
            "[[webhooks]]\nurl = \"http://127.0.0.1:9/\"\nsecret = \"whsec_!!not-base64!!\"\n",
            "key `webhooks[0]`:",
        ),
        // A misspelled platform section would silently lose its cookies.
        (
            "[platforms.bilbili]\ncookies = \"SESSDATA=x\"\n",
            "key `platforms.bilbili`: no platform is named `bilbili` (did you mean `bilibili`?)",
        ),
        // A wrong key inside a platform section is found on its own line.
        (
            "[output]\nfolder = \"rec\"\n\n[platforms.bilibili]\ncookie = \"SESSDATA=x\"\n",
            "key `platforms.bilibili.cookie`: unknown key",
        ),
        ("[platforms.bilibili]\ncookie = \"SESSDATA=x\"\n", "line 2"),
    ];
    for (config, expected) in cases {
        for command in ["check-config", "run"] {
            let (code, _, stderr) = run(&[command], config);
            assert_ne!(code, 0, "{command} accepted {config:?}");
            assert!(
                stderr.contains(expected),
                "{command} {config:?}: expected {expected:?} in\n{stderr}"
            );
        }
    }
}

#[test]
fn a_missing_file_is_named() {
    let out = Command::new(BIN)
        .args(["run", "--config", "/nonexistent/dir/oneliverec.toml"])
        .env_remove("ONELIVEREC_CONFIG")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read config file /nonexistent/dir/oneliverec.toml"),
        "{stderr}"
    );
}

#[test]
fn a_good_config_passes_check_config_without_leaking_secrets() {
    let (code, stdout, stderr) = run(
        &["check-config"],
        "[platforms.bilibili]\ncookies = \"SESSDATA=topsecret\"\n[[channels]]\nurl = \"https://live.bilibili.com/1\"\n[[webhooks]]\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"whsec_c2VjcmV0c2VjcmV0c2VjcmV0\"\n",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("OK (1 channels, 1 webhooks"), "{stdout}");
    assert!(!stdout.contains("topsecret") && !stderr.contains("topsecret"));
}

#[test]
fn the_example_config_in_docs_passes_check_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/examples/oneliverec.toml");
    let text = std::fs::read_to_string(example).unwrap();
    let (code, stdout, stderr) = run(&["check-config"], &text);
    assert_eq!(code, 0, "docs/examples/oneliverec.toml is refused: {stderr}");
    assert!(stdout.contains("OK (1 channels, 0 webhooks, recordings in rec"), "{stdout}");
}
