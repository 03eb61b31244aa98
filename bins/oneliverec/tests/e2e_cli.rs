//! `oneliverec transmux FILE…` and `oneliverec webhook test URL` as processes.

use std::process::Command;

use crate::e2e_support::{BIN, Receiver, ffprobe_duration};

#[test]
fn transmux_remuxes_files_and_refuses_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let ts = dir.path().join("clip.ts");
    let made = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x90:rate=10",
            "-f",
            "lavfi",
        ])
        .args([
            "-i",
            "sine=frequency=440",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
        ])
        .arg(&ts)
        .status()
        .unwrap();
    assert!(made.success());
    let garbage = dir.path().join("garbage.ts");
    std::fs::write(&garbage, b"this is not a video").unwrap();

    let out = Command::new(BIN).arg("transmux").arg(&ts).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("clip.mp4") && stdout.contains("verified"), "{stdout}");
    let d = ffprobe_duration(dir.path().join("clip.mp4").to_str().unwrap());
    assert!((d - 2.0).abs() < 0.5, "{d}");
    assert!(ts.exists(), "the source is kept without --delete-source");

    let out = Command::new(BIN)
        .args(["transmux", "--format", "mkv", "--delete-source"])
        .arg(&ts)
        .arg(&garbage)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("garbage.ts"), "{stderr}");
    assert!(dir.path().join("clip.mkv").exists());
    assert!(!ts.exists(), "--delete-source removes a verified source");
    assert!(garbage.exists(), "a failed source is kept");
    assert!(!dir.path().join("garbage.mkv").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_test_reports_the_receivers_answer() {
    let receiver = Receiver::start().await;
    let url = receiver.url.clone();
    let secret = receiver.secret.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN).args(["webhook", "test", &url, "--secret", &secret]).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("delivered") && stdout.contains("HTTP 204"), "{stdout}");
    assert_eq!(receiver.types(), ["test"]);

    // A wrong secret: the receiver refuses the signature and the command fails.
    let url = receiver.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["webhook", "test", &url, "--secret", "whsec_d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA=="])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HTTP 401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(*receiver.rejected.lock().unwrap(), 1);
}

#[tokio::test]
async fn repair_fixes_a_raw_dump_of_a_broken_flv_stream() {
    use onelive_synthetic::{BrokenFlvOptions, BrokenFlvOrigin};
    let origin =
        BrokenFlvOrigin::start(BrokenFlvOptions { speed: 50.0, ..BrokenFlvOptions::default() })
            .await
            .unwrap();
    // What a recorder writing the bytes as received leaves: both connections back to back.
    let mut raw = Vec::new();
    for _ in 0..2 {
        let mut resp = reqwest::get(origin.url()).await.unwrap();
        while let Ok(Some(chunk)) = resp.chunk().await {
            raw.extend_from_slice(&chunk);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("raw.flv");
    std::fs::write(&input, &raw).unwrap();
    let output = dir.path().join("fixed.flv");
    let out = Command::new(BIN).arg("repair").arg(&input).arg(&output).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("duplicated tags dropped") && stdout.contains("1 reconnects"),
        "{stdout}"
    );
    assert!(ffprobe_duration(output.to_str().unwrap()) > 0.5, "{stdout}");
    // The resolution change continues in a second file.
    assert!(dir.path().join("fixed-2.flv").exists(), "{stdout}");

    std::fs::write(dir.path().join("x.txt"), b"#EXTM3U\n").unwrap();
    let out = Command::new(BIN).arg("repair").arg(dir.path().join("x.txt")).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a readable FLV"), "{stderr}");
}
