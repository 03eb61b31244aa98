//! The engine's small JSON state files (`transmux-queue.json`,
//! `open-files.json`, `open-sessions.json`, `recordings.json`), written so
//! that a crash or power loss leaves either the old or the new content:
//! write a temporary file, fsync it, rename it over the old one, fsync the
//! folder. An unreadable file is kept aside (`NAME.corrupt`) and reported,
//! never silently dropped.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Writes `value` as `dir/file`; logs (and keeps running) when it cannot.
pub(crate) fn save<T: Serialize + ?Sized>(dir: &Path, file: &str, value: &T, what: &str) {
    if let Err(e) = write(dir, file, value) {
        tracing::error!(error = %e, path = %dir.join(file).display(), "cannot persist the {what}");
    }
}

fn write<T: Serialize + ?Sized>(dir: &Path, file: &str, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{file}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(file))?;
    // Make the rename itself durable; not every platform can open a folder.
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// Reads `dir/file`; a missing file is the default value. A file that cannot
/// be parsed is renamed to `file.corrupt` (so nothing is lost), reported, and
/// the default value is used.
pub(crate) fn load<T: DeserializeOwned + Default>(dir: &Path, file: &str, what: &str) -> T {
    let path = dir.join(file);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return T::default(),
        Err(e) => {
            tracing::error!(error = %e, path = %path.display(), "cannot read the {what}; starting without it");
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
                "unreadable {what}; starting without it"
            );
            T::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing: Vec<u32> = load(dir.path(), "x.json", "test list");
        assert!(missing.is_empty());
        save(dir.path(), "x.json", &vec![1u32, 2, 3], "test list");
        let back: Vec<u32> = load(dir.path(), "x.json", "test list");
        assert_eq!(back, [1, 2, 3]);
        assert!(!dir.path().join("x.json.tmp").exists());
    }

    #[test]
    fn a_corrupt_file_is_kept_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.json"), b"{not json").unwrap();
        let value: Vec<u32> = load(dir.path(), "x.json", "test list");
        assert!(value.is_empty());
        assert_eq!(std::fs::read(dir.path().join("x.json.corrupt")).unwrap(), b"{not json");
        assert!(!dir.path().join("x.json").exists());
    }
}
