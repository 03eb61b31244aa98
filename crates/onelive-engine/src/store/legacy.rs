//! The JSON state files of versions before the store (`open-files.json`,
//! `recordings.json`, `transmux-queue.json`, `open-sessions.json`), read
//! once so that an upgrade in place keeps them. Their shapes are frozen
//! here as they were written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use onelive_events::{LiveInfo, Uuid};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::recordings::Recording;

/// A file listed in `open-files.json`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct OldFile {
    pub(super) path: PathBuf,
    pub(super) platform: String,
    pub(super) channel: String,
    pub(super) session_id: Option<Uuid>,
    pub(super) live_info: Option<LiveInfo>,
}

/// A job of `transmux-queue.json`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct OldJob {
    pub(super) input: PathBuf,
    pub(super) platform: String,
    pub(super) channel: String,
    pub(super) session_id: Option<Uuid>,
    pub(super) live_info: Option<LiveInfo>,
}

/// What the old files held.
#[derive(Debug, Default)]
pub(super) struct OldState {
    /// `recordings.json`, oldest first.
    pub(super) recordings: Vec<Recording>,
    /// `open-files.json`.
    pub(super) open_files: Vec<OldFile>,
    /// `transmux-queue.json`.
    pub(super) transmux_queue: Vec<OldJob>,
    /// `open-sessions.json` (its values have the shape of the store's
    /// session, kept as JSON).
    pub(super) sessions: Vec<serde_json::Value>,
    /// The files that were read (renamed once imported).
    pub(super) read: Vec<PathBuf>,
}

pub(super) const FILES: [&str; 4] =
    ["recordings.json", "open-files.json", "transmux-queue.json", "open-sessions.json"];

/// Reads the old files of `dir`. A missing file is empty; an unreadable one
/// is renamed to `NAME.corrupt` (so nothing is lost), reported, and empty.
pub(super) fn read(dir: &Path) -> OldState {
    let mut state = OldState {
        recordings: load(dir, FILES[0]),
        open_files: load(dir, FILES[1]),
        transmux_queue: load(dir, FILES[2]),
        ..OldState::default()
    };
    let sessions: BTreeMap<String, serde_json::Value> = load(dir, FILES[3]);
    state.sessions = sessions.into_values().collect();
    state.read = FILES.iter().map(|f| dir.join(f)).filter(|p| p.exists()).collect();
    state
}

/// Renames each imported file to `NAME.migrated` (kept for a downgrade or a
/// look by hand; never read again).
pub(super) fn set_aside(read: &[PathBuf]) {
    for path in read {
        let mut aside = path.clone().into_os_string();
        aside.push(".migrated");
        if let Err(e) = std::fs::rename(path, &aside) {
            tracing::error!(error = %e, path = %path.display(), "cannot set aside an imported state file");
        }
    }
}

fn load<T: DeserializeOwned + Default>(dir: &Path, file: &str) -> T {
    let path = dir.join(file);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return T::default(),
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "cannot read an old state file; starting without it");
            return T::default();
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(e) => {
            let aside = dir.join(format!("{file}.corrupt"));
            let kept = std::fs::rename(&path, &aside).is_ok();
            tracing::error!(
                error = %e,
                path = %path.display(),
                kept_as = %if kept { aside.display().to_string() } else { "-".into() },
                "unreadable old state file; starting without it"
            );
            T::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_file_is_kept_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("open-files.json"), b"{not json").unwrap();
        let state = read(dir.path());
        assert!(state.open_files.is_empty());
        assert_eq!(
            std::fs::read(dir.path().join("open-files.json.corrupt")).unwrap(),
            b"{not json"
        );
        assert!(!dir.path().join("open-files.json").exists());
        assert!(state.read.is_empty());
    }
}
