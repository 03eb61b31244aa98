//! `oneliverec demo` (what `make demo` runs) as a process: exits 0 and shows
//! every event, verified, in order.

use std::process::Command;

use crate::e2e_support::BIN;

#[test]
fn demo_runs_the_whole_pipeline_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--live-for", "6s"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "event sequence: app_launch -> live_start -> video_file_create -> video_file_finish -> video_transmux_finish -> live_end -> app_exit"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("0 rejected, 1 session(s)"), "{stdout}");
    assert!(stdout.contains("demo OK"), "{stdout}");
    let rec = dir.path().join("demo-output/rec/generic/synthetic");
    let files: Vec<_> = std::fs::read_dir(&rec).unwrap().flatten().map(|e| e.path()).collect();
    assert!(files.iter().any(|p| p.extension().is_some_and(|e| e == "mp4")), "{files:?}");
    assert!(files.iter().any(|p| p.extension().is_some_and(|e| e == "ts")), "{files:?}");
    // The chat file beside the part, same name, with the synthetic comments.
    let xml = files.iter().find(|p| p.extension().is_some_and(|e| e == "xml")).expect("chat file");
    assert!(files.contains(&xml.with_extension("mp4")), "{files:?}");
    let chat = std::fs::read_to_string(xml).unwrap();
    assert!(chat.contains("synthetic danmaku #") && chat.trim_end().ends_with("</i>"), "{chat}");
    assert!(stdout.contains("comments)"), "{stdout}");
}
