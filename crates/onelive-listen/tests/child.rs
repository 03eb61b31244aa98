//! `die_with_parent`: a real child (`sleep`) of a real parent (this test
//! binary, re-executed) dies when the parent is SIGKILLed.

use std::time::{Duration, Instant};

/// The helper's role: spawn `sleep 600` with `die_with_parent`, print its
/// pid, and wait. Run only by `the_child_dies_when_its_parent_is_killed`.
#[tokio::test]
#[ignore = "run by the_child_dies_when_its_parent_is_killed as a helper process"]
async fn helper_parent_process() {
    let mut command = tokio::process::Command::new("sleep");
    command.arg("600");
    onelive_listen::die_with_parent(&mut command);
    let mut child = command.spawn().unwrap();
    println!("CHILD {}", child.id().unwrap());
    let _ = child.wait().await;
}

/// Whether `pid` is a live process (not gone, not a zombie).
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => {
            stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        }
        Err(_) => false,
    }
}

#[test]
fn the_child_dies_when_its_parent_is_killed() {
    use std::io::BufRead;
    let mut parent = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child::helper_parent_process", "--ignored", "--nocapture"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(parent.stdout.take().unwrap()).lines();
    let pid: u32 = loop {
        let line = lines.next().expect("the helper printed no CHILD line").unwrap();
        if let Some(pid) = line.strip_prefix("CHILD ") {
            break pid.trim().parse().unwrap();
        }
    };
    assert!(alive(pid), "sleep should run while its parent does");
    parent.kill().unwrap(); // SIGKILL: no handler of the parent runs.
    parent.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while alive(pid) {
        assert!(Instant::now() < deadline, "sleep {pid} outlived its SIGKILLed parent");
        std::thread::sleep(Duration::from_millis(50));
    }
}
