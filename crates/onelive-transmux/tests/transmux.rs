use std::path::{Path, PathBuf};
use std::time::Duration;

use onelive_transmux::{
    OutputFormat, RecordingMetadata, TransmuxError, TransmuxJob, TransmuxOptions, transmux,
};

/// Encodes a short test recording (H.264 + AAC) in the given container.
async fn recording(dir: &Path, name: &str, format: &str, seconds: u32) -> PathBuf {
    let path = dir.join(name);
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "lavfi", "-i", &format!("testsrc=size=160x90:rate=15:duration={seconds}")])
        .args(["-f", "lavfi", "-i", &format!("sine=frequency=440:duration={seconds}")])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-c:a", "aac", "-f", format])
        .arg(&path)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    path
}

/// ffprobe JSON of a file (format + streams).
async fn probe(path: &Path) -> serde_json::Value {
    let out = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_format", "-show_streams", "-of", "json"])
        .arg(path)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn duration(v: &serde_json::Value) -> f64 {
    v["format"]["duration"].as_str().unwrap().parse().unwrap()
}

fn metadata() -> RecordingMetadata {
    RecordingMetadata {
        title: "Late night: 100% {fun}".into(),
        uname: "名字".into(),
        channel: "21452505".into(),
        platform: "bilibili".into(),
        start_time: Some(time::macros::datetime!(2026-11-27 20:00:00 +08:00)),
    }
}

#[tokio::test]
async fn ts_to_mp4_is_valid_with_matching_duration_and_comment_lines() {
    let dir = tempfile::tempdir().unwrap();
    let input = recording(dir.path(), "rec.ts", "mpegts", 6).await;
    let mut job = TransmuxJob::new(&input, OutputFormat::Mp4);
    job.metadata = metadata();
    let report = transmux(&job, &TransmuxOptions::default()).await.unwrap();
    assert_eq!(report.output, dir.path().join("rec.mp4"));
    assert!(input.exists(), "source kept without delete_source");
    assert!(!report.source_deleted);
    let out = probe(&report.output).await;
    let inp = probe(&input).await;
    assert!(
        (duration(&out) - duration(&inp)).abs() < 0.5,
        "{} vs {}",
        duration(&out),
        duration(&inp)
    );
    assert!((report.output_duration - duration(&out)).abs() < 0.01);
    let types: Vec<&str> = out["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"video") && types.contains(&"audio"), "{types:?}");
    let tags = &out["format"]["tags"];
    assert_eq!(tags["title"], "Late night: 100% {fun}");
    assert_eq!(tags["artist"], "名字");
    let comment = tags["comment"].as_str().unwrap();
    let lines: Vec<&str> = comment.lines().collect();
    assert_eq!(
        lines,
        [
            "title: Late night: 100% {fun}",
            "user_name: 名字",
            "channel: 21452505",
            "platform: bilibili",
            "start_time: 2026-11-27T20:00:00+08:00",
        ]
    );
    // +faststart: the index comes before the media data.
    let bytes = std::fs::read(&report.output).unwrap();
    let find = |needle: &[u8]| bytes.windows(4).position(|w| w == needle).unwrap();
    assert!(find(b"moov") < find(b"mdat"), "moov must precede mdat");
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[tokio::test]
async fn flv_to_mkv_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let input = recording(dir.path(), "rec.flv", "flv", 4).await;
    let mut job = TransmuxJob::new(&input, OutputFormat::Mkv);
    job.metadata = metadata();
    let report = transmux(&job, &TransmuxOptions::default()).await.unwrap();
    assert_eq!(report.output.extension().unwrap(), "mkv");
    let out = probe(&report.output).await;
    assert!((duration(&out) - 4.0).abs() < 0.5, "{}", duration(&out));
    assert_eq!(out["streams"].as_array().unwrap().len(), 2);
    let tags = out["format"]["tags"].as_object().unwrap();
    let comment = tags
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("comment"))
        .map(|(_, v)| v.as_str().unwrap().to_owned())
        .unwrap();
    assert!(comment.contains("user_name: 名字\nchannel: 21452505"), "{comment}");
}

#[tokio::test]
async fn corrupt_input_is_an_error_and_the_source_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("broken.ts");
    let garbage: Vec<u8> =
        (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&input, &garbage).unwrap();
    let mut job = TransmuxJob::new(&input, OutputFormat::Mp4);
    job.delete_source = true;
    let err = transmux(&job, &TransmuxOptions::default()).await.unwrap_err();
    assert!(matches!(err, TransmuxError::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("broken.ts"), "{err}");
    assert_eq!(std::fs::read(&input).unwrap(), garbage, "source kept unchanged");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no output left behind");

    let missing = TransmuxJob::new(dir.path().join("nope.ts"), OutputFormat::Mp4);
    let err = transmux(&missing, &TransmuxOptions::default()).await.unwrap_err();
    assert!(matches!(err, TransmuxError::InvalidInput { .. }), "{err}");
}

#[tokio::test]
async fn an_existing_output_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let input = recording(dir.path(), "rec.ts", "mpegts", 3).await;
    std::fs::write(dir.path().join("rec.mp4"), b"keep me").unwrap();
    let job = TransmuxJob::new(&input, OutputFormat::Mp4);
    let err = transmux(&job, &TransmuxOptions::default()).await.unwrap_err();
    assert!(matches!(err, TransmuxError::OutputExists { .. }), "{err}");
    assert_eq!(std::fs::read(dir.path().join("rec.mp4")).unwrap(), b"keep me");
    assert!(input.exists());
}

#[tokio::test]
async fn delete_source_happens_only_after_verification() {
    let dir = tempfile::tempdir().unwrap();
    let input = recording(dir.path(), "rec.ts", "mpegts", 3).await;
    let mut job = TransmuxJob::new(&input, OutputFormat::Mp4);
    job.delete_source = true;
    // An ffprobe that cannot read the fresh output: verification fails.
    let script = dir.path().join("ffprobe-rejecting-output.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nfor a; do case \"$a\" in *.part) echo 'moov atom not found' >&2; exit 1;; esac; done\nexec ffprobe \"$@\"\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    let rejecting = TransmuxOptions { ffprobe: script.clone(), ..Default::default() };
    let err = transmux(&job, &rejecting).await.unwrap_err();
    assert!(matches!(err, TransmuxError::Verification { .. }), "{err}");
    assert!(err.to_string().contains("moov atom not found"), "{err}");
    assert!(input.exists(), "not verified, so not deleted");
    assert!(!dir.path().join("rec.mp4").exists(), "broken output removed");
    assert!(!dir.path().join(".rec.mp4.part").exists(), "no temporary left");
    let report = transmux(&job, &TransmuxOptions::default()).await.unwrap();
    assert!(report.source_deleted);
    assert!(!input.exists());
    probe(&report.output).await;
}

#[tokio::test]
async fn jobs_are_plain_serde_data() {
    let mut job = TransmuxJob::new("/rec/a.ts", OutputFormat::Mkv);
    job.metadata = metadata();
    let json = serde_json::to_string(&job).unwrap();
    assert!(json.contains("\"format\":\"mkv\""), "{json}");
    assert!(json.contains("2026-11-27T20:00:00+08:00"), "{json}");
    let back: TransmuxJob = serde_json::from_str(&json).unwrap();
    assert_eq!(back, job);
    assert_eq!(back.output_path(), Path::new("/rec/a.mkv"));
}

/// The helper's role for `ffmpeg_dies_with_the_program`: transmux the file
/// named by `TRANSMUX_HELPER_INPUT` (its output is a FIFO nobody reads, so
/// ffmpeg blocks) and print this process's pid.
#[tokio::test]
#[ignore = "run by ffmpeg_dies_with_the_program as a helper process"]
async fn helper_transmuxing_process() {
    let input = PathBuf::from(std::env::var("TRANSMUX_HELPER_INPUT").unwrap());
    println!("PID {}", std::process::id());
    let _ =
        transmux(&TransmuxJob::new(input, OutputFormat::Mkv), &TransmuxOptions::default()).await;
}

/// The pids of live `ffmpeg` processes whose parent is `parent`.
fn ffmpeg_children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some((name, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if name.ends_with("(ffmpeg")
            && fields.first() != Some(&"Z")
            && fields.get(1) == Some(&parent.to_string().as_str())
        {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

#[tokio::test]
async fn ffmpeg_dies_with_the_program() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let input = recording(dir.path(), "rec.flv", "flv", 2).await;
    // ffmpeg writes `.rec.mkv.part`; as a FIFO without a reader, its open blocks.
    let fifo = dir.path().join(".rec.mkv.part");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "transmux::helper_transmuxing_process", "--ignored", "--nocapture"])
        .env("TRANSMUX_HELPER_INPUT", &input)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(helper.stdout.take().unwrap()).lines();
    let helper_pid: u32 = loop {
        let line = lines.next().expect("the helper printed no PID line").unwrap();
        if let Some(pid) = line.strip_prefix("PID ") {
            break pid.trim().parse().unwrap();
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let ffmpeg = loop {
        if let Some(pid) = ffmpeg_children(helper_pid).first() {
            break *pid;
        }
        assert!(std::time::Instant::now() < deadline, "the helper started no ffmpeg");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    helper.kill().unwrap(); // SIGKILL: kill_on_drop never runs.
    helper.wait().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while alive(ffmpeg) {
        if std::time::Instant::now() > deadline {
            // Do not leave it blocked on the FIFO.
            let _ = std::process::Command::new("kill").arg(ffmpeg.to_string()).status();
            panic!("ffmpeg {ffmpeg} outlived the SIGKILLed program");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
