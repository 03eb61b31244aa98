//! Files left open by a crash: the [file ledger](crate::store) holds every
//! file a recording opens as `recording` until it is finished; at the next
//! start those are `left_open`. Each is checked once it has stopped growing:
//! a readable one is announced (`video_file_finish`, with its session) and
//! transmuxed; an unreadable one is reported with an `error` event and left
//! alone.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use onelive_events::{ErrorData, EventData, VideoFileFinishData};
use tokio::sync::watch;

use crate::publisher::Publisher;
use crate::store::{LedgerFile, Store, logged};
use crate::transmux_queue::TransmuxQueue;

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

/// What the recovery works with.
pub(crate) struct Recovery {
    pub(crate) store: Arc<Store>,
    pub(crate) publisher: Arc<Publisher>,
    pub(crate) transmux: TransmuxQueue,
    pub(crate) stopping: watch::Receiver<bool>,
    /// A file untouched for this long is no longer being written.
    pub(crate) quiet_for: Duration,
}

impl Recovery {
    /// Announces (or reports) the files a crashed run left open.
    pub(crate) async fn run(self, leftovers: Vec<LedgerFile>) {
        for file in leftovers {
            if !self.check(file).await {
                // Shutting down: the rest stay `left_open` for the next start.
                return;
            }
        }
    }

    /// Checks one file; false when the engine is stopping (the file is
    /// left for the next start).
    async fn check(&self, file: LedgerFile) -> bool {
        let Ok(meta) = std::fs::metadata(&file.path) else {
            logged(self.store.file_interrupted(&file.path));
            return true;
        };
        // Wait until nothing has written to it for `quiet_for` (a recorder
        // process of the crashed run may still be finishing it).
        let mut size = meta.len();
        let deadline = tokio::time::Instant::now() + self.quiet_for * 6;
        let quiet = loop {
            let modified = std::fs::metadata(&file.path).and_then(|m| m.modified()).ok();
            let age =
                modified.and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or_default();
            if age >= self.quiet_for {
                break true;
            }
            if *self.stopping.borrow() {
                return false;
            }
            if tokio::time::Instant::now() >= deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let error = |message: String| {
            EventData::Error(
                ErrorData::new(file.platform.clone(), file.channel.clone(), message)
                    .with_session_id(file.session_id),
            )
        };
        if !quiet {
            let message = format!(
                "{} was left open by an earlier run and is still being written; it is not announced",
                file.path.display()
            );
            logged(self.store.file_interrupted(&file.path));
            self.publisher.publish(error(message)).await;
            return true;
        }
        if let Ok(m) = std::fs::metadata(&file.path) {
            size = m.len();
        }
        match probe_duration(&file.path).await {
            Ok(duration) if size > 0 => {
                tracing::info!(path = %file.path.display(), "announcing a file left open by an earlier run");
                let transmux = self.transmux.enabled();
                let danmaku_path = repair_chat_file(&file.path);
                logged(self.store.file_finished(&file, size, duration, transmux));
                self.publisher
                    .publish(EventData::VideoFileFinish(
                        VideoFileFinishData::new(
                            file.platform.clone(),
                            file.channel.clone(),
                            file.path.display().to_string(),
                            size,
                            duration,
                        )
                        .with_session_id(file.session_id)
                        .with_live_info(file.live_info.clone())
                        .with_danmaku_path(danmaku_path),
                    ))
                    .await;
                if transmux {
                    self.transmux.run(file);
                }
            }
            Ok(_) | Err(_) => {
                logged(self.store.file_interrupted(&file.path));
                let message = format!(
                    "{} was left open by an earlier run and is not readable; it is kept but not announced",
                    file.path.display()
                );
                self.publisher.publish(error(message)).await;
            }
        }
        true
    }
}

/// The chat file beside a video left open by a crash, cut back to its last
/// whole record and closed (see `onelive_danmaku::repair`); its path when
/// there is one.
fn repair_chat_file(video: &std::path::Path) -> Option<String> {
    let path = onelive_danmaku::xml_path_for(video);
    if !path.exists() {
        return None;
    }
    match onelive_danmaku::repair(&path) {
        Ok(onelive_danmaku::RepairOutcome::Intact) => {}
        Ok(onelive_danmaku::RepairOutcome::Repaired { removed }) => {
            tracing::info!(path = %path.display(), removed, "chat file left by a crash repaired");
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "chat file not repaired; not announced");
            return None;
        }
    }
    Some(path.display().to_string())
}
