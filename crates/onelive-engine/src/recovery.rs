//! Files left open by a crash: every file a recording opens is listed in
//! `open-files.json` until it is finished. At the next start, each file
//! still listed is checked once it has stopped growing: a readable one is
//! announced (`video_file_finish`, with its session) and transmuxed; an
//! unreadable one is reported with an `error` event and left alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use onelive_events::{ErrorData, EventData, LiveInfo, Uuid, VideoFileFinishData};
use serde::{Deserialize, Serialize};

use crate::TransmuxJob;
use crate::engine::{Shared, lock, publish, submit_transmux};

/// A recording file that was opened and not yet finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OpenFile {
    pub(crate) path: PathBuf,
    pub(crate) platform: String,
    pub(crate) channel: String,
    pub(crate) session_id: Option<Uuid>,
    pub(crate) live_info: Option<LiveInfo>,
}

const FILE: &str = "open-files.json";

pub(crate) fn load(state_dir: &Path) -> Vec<OpenFile> {
    crate::state_file::load(state_dir, FILE, "list of open files")
}

pub(crate) fn save(shared: &Shared) {
    let files = lock(&shared.open_files).clone();
    crate::state_file::save(&shared.state_dir, FILE, &files, "list of open files");
}

pub(crate) fn opened(shared: &Shared, file: OpenFile) {
    lock(&shared.open_files).push(file);
    save(shared);
}

pub(crate) fn closed(shared: &Shared, path: &Path) {
    let removed = {
        let mut files = lock(&shared.open_files);
        let before = files.len();
        files.retain(|f| f.path != path);
        before != files.len()
    };
    if removed {
        save(shared);
    }
}

async fn probe_duration(path: &Path) -> Result<f64, String> {
    let out = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1"])
        .arg(path)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run ffprobe: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<f64>()
        .map_err(|_| "ffprobe found no duration".to_owned())
}

/// Announces (or reports) the files a crashed run left open.
pub(crate) async fn recover(shared: Arc<Shared>, leftovers: Vec<OpenFile>, quiet_for: Duration) {
    for file in leftovers {
        let Ok(meta) = std::fs::metadata(&file.path) else {
            closed(&shared, &file.path);
            continue;
        };
        // Wait until nothing has written to it for `quiet_for` (a recorder
        // process of the crashed run may still be finishing it).
        let mut size = meta.len();
        let deadline = tokio::time::Instant::now() + quiet_for * 6;
        let quiet = loop {
            let modified = std::fs::metadata(&file.path).and_then(|m| m.modified()).ok();
            let age =
                modified.and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or_default();
            if age >= quiet_for {
                break true;
            }
            if *shared.stopping_flag() {
                // Shutting down: the file stays listed for the next start.
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let error = |message: String| {
            EventData::Error(ErrorData {
                platform: file.platform.clone(),
                channel: file.channel.clone(),
                error: message,
                session_id: file.session_id,
            })
        };
        if !quiet {
            let message = format!(
                "{} was left open by an earlier run and is still being written; it is not announced",
                file.path.display()
            );
            closed(&shared, &file.path);
            publish(&shared, error(message)).await;
            continue;
        }
        closed(&shared, &file.path);
        if let Ok(m) = std::fs::metadata(&file.path) {
            size = m.len();
        }
        match probe_duration(&file.path).await {
            Ok(duration) if size > 0 => {
                tracing::info!(path = %file.path.display(), "announcing a file left open by an earlier run");
                crate::recordings::finished(
                    &shared,
                    &file.path,
                    &file.platform,
                    &file.channel,
                    file.session_id,
                    file.live_info.as_ref().map(|i| i.title.clone()).filter(|t| !t.is_empty()),
                    size,
                    duration,
                );
                publish(
                    &shared,
                    EventData::VideoFileFinish(VideoFileFinishData {
                        platform: file.platform.clone(),
                        channel: file.channel.clone(),
                        path: file.path.display().to_string(),
                        filesize: size,
                        duration,
                        session_id: file.session_id,
                        live_info: file.live_info.clone(),
                    }),
                )
                .await;
                if lock(&shared.config).transmux.enabled {
                    submit_transmux(
                        &shared,
                        TransmuxJob {
                            input: file.path.clone(),
                            platform: file.platform.clone(),
                            channel: file.channel.clone(),
                            session_id: file.session_id,
                            live_info: file.live_info.clone(),
                        },
                    );
                }
            }
            Ok(_) | Err(_) => {
                let message = format!(
                    "{} was left open by an earlier run and is not readable; it is kept but not announced",
                    file.path.display()
                );
                publish(&shared, error(message)).await;
            }
        }
    }
}
