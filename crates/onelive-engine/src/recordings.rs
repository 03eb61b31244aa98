//! The list of recent recording files (`GET /api/recordings`), kept in
//! `recordings.json` in the state folder (written to a temporary file and
//! renamed) so that it survives restarts. At most [`MAX_RECORDINGS`] files
//! are kept; the oldest are forgotten first (the files themselves stay).

use std::path::Path;

use onelive_events::Uuid;
use serde::{Deserialize, Serialize};

use crate::engine::{Shared, lock};

/// How many recordings the list keeps.
pub const MAX_RECORDINGS: usize = 1000;

const FILE: &str = "recordings.json";

/// Where a recording file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// Being written now.
    Recording,
    /// Finished and announced (`video_file_finish`).
    Finished,
    /// Was being written when the engine stopped without finishing it (a
    /// crash); the next start announces it if it is readable.
    Interrupted,
}

/// Where the transmux of a recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransmuxState {
    /// Not transmuxed (disabled, empty file, or not finished yet).
    None,
    /// Queued or running.
    Pending,
    /// Done: see `transmux_output`.
    Done,
    /// Failed: see `transmux_error` (the recording is kept).
    Failed,
}

/// One recording file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// The file.
    pub path: String,
    /// Platform.
    pub platform: String,
    /// Channel.
    pub channel: String,
    /// Session.
    pub session_id: Option<Uuid>,
    /// Live title when the file was opened.
    pub title: Option<String>,
    /// When the file was opened (RFC 3339).
    pub started_at: String,
    /// When it was finished (RFC 3339).
    pub finished_at: Option<String>,
    /// Recording, finished or interrupted.
    pub state: RecordingState,
    /// Size in bytes, once finished.
    pub size: Option<u64>,
    /// Duration in seconds, once finished.
    pub duration: Option<f64>,
    /// Transmux state.
    pub transmux: TransmuxState,
    /// The transmuxed file.
    pub transmux_output: Option<String>,
    /// Why the transmux failed.
    pub transmux_error: Option<String>,
}

/// Loads the list; entries still `recording` were left by a crash.
pub(crate) fn load(state_dir: &Path) -> Vec<Recording> {
    let mut list: Vec<Recording> = crate::state_file::load(state_dir, FILE, "list of recordings");
    for r in &mut list {
        if r.state == RecordingState::Recording {
            r.state = RecordingState::Interrupted;
        }
    }
    list
}

fn save(shared: &Shared) {
    let list = lock(&shared.recordings).clone();
    crate::state_file::save(&shared.state_dir, FILE, &list, "list of recordings");
}

/// Adds `r` (replacing an entry of the same path) and forgets the oldest
/// beyond [`MAX_RECORDINGS`]. The list is oldest first.
fn push_bounded(list: &mut Vec<Recording>, r: Recording) {
    list.retain(|x| x.path != r.path);
    list.push(r);
    if list.len() > MAX_RECORDINGS {
        let extra = list.len() - MAX_RECORDINGS;
        list.drain(..extra);
    }
}

fn update(shared: &Shared, path: &Path, f: impl FnOnce(&mut Recording)) -> bool {
    let path = path.display().to_string();
    let found = {
        let mut list = lock(&shared.recordings);
        match list.iter_mut().rev().find(|r| r.path == path) {
            Some(r) => {
                f(r);
                true
            }
            None => false,
        }
    };
    if found {
        save(shared);
    }
    found
}

/// A recording opened `path`.
pub(crate) fn created(
    shared: &Shared,
    path: &Path,
    platform: &str,
    channel: &str,
    session_id: Option<Uuid>,
    title: Option<String>,
) {
    let r = Recording {
        path: path.display().to_string(),
        platform: platform.to_owned(),
        channel: channel.to_owned(),
        session_id,
        title,
        started_at: now_rfc3339(),
        finished_at: None,
        state: RecordingState::Recording,
        size: None,
        duration: None,
        transmux: TransmuxState::None,
        transmux_output: None,
        transmux_error: None,
    };
    push_bounded(&mut lock(&shared.recordings), r);
    save(shared);
}

/// `path` was finished (by its recording, or announced after a crash).
#[allow(clippy::too_many_arguments)]
pub(crate) fn finished(
    shared: &Shared,
    path: &Path,
    platform: &str,
    channel: &str,
    session_id: Option<Uuid>,
    title: Option<String>,
    size: u64,
    duration: f64,
) {
    let now = now_rfc3339();
    let done = |r: &mut Recording| {
        r.state = RecordingState::Finished;
        r.finished_at = Some(now.clone());
        r.size = Some(size);
        r.duration = Some(duration);
    };
    if !update(shared, path, done) {
        // Opened before this list existed: add it as finished.
        created(shared, path, platform, channel, session_id, title);
        update(shared, path, done);
    }
}

/// The transmux of `input` was queued, finished or failed.
pub(crate) fn transmux(
    shared: &Shared,
    input: &Path,
    state: TransmuxState,
    output: Option<String>,
    error: Option<String>,
) {
    update(shared, input, |r| {
        r.transmux = state;
        r.transmux_output = output;
        r.transmux_error = error;
    });
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(path: &str) -> Recording {
        Recording {
            path: path.into(),
            platform: "p".into(),
            channel: "c".into(),
            session_id: None,
            title: None,
            started_at: String::new(),
            finished_at: None,
            state: RecordingState::Recording,
            size: None,
            duration: None,
            transmux: TransmuxState::None,
            transmux_output: None,
            transmux_error: None,
        }
    }

    #[test]
    fn the_list_is_bounded_and_forgets_the_oldest_first() {
        let mut list = Vec::new();
        for i in 0..MAX_RECORDINGS + 5 {
            push_bounded(&mut list, rec(&format!("/r/{i}.ts")));
        }
        assert_eq!(list.len(), MAX_RECORDINGS);
        assert_eq!(list[0].path, "/r/5.ts");
        assert_eq!(list.last().unwrap().path, format!("/r/{}.ts", MAX_RECORDINGS + 4));
        // The same path again replaces its entry (and moves it to the newest end).
        push_bounded(&mut list, rec("/r/5.ts"));
        assert_eq!(list.len(), MAX_RECORDINGS);
        assert_eq!(list.last().unwrap().path, "/r/5.ts");
        assert_eq!(list.iter().filter(|r| r.path == "/r/5.ts").count(), 1);
    }

    #[test]
    fn a_file_left_recording_loads_as_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let list = vec![rec("/r/a.ts")];
        std::fs::write(dir.path().join(FILE), serde_json::to_vec(&list).unwrap()).unwrap();
        let loaded = load(dir.path());
        assert_eq!(loaded[0].state, RecordingState::Interrupted);
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert!(load(dir.path()).is_empty());
    }
}
