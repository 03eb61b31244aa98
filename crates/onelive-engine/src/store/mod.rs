//! The engine's one durable store: `state.db` in the state folder.
//!
//! Two things outlive a run, and both live here:
//!
//! - **The file ledger**: every recording file, from the moment it is opened
//!   (`recording`) through `finished` (announced) to its transmux (`pending`,
//!   `done`, `failed`). A file still `recording` when the store is opened
//!   was left open by a crash: it becomes `left_open` until the recovery has
//!   checked it, then `finished` (readable, announced) or `interrupted`.
//!   `GET /api/recordings` and the transmux queue read the same rows.
//! - **Open sessions**: each channel's open session (see [`OpenSession`]),
//!   so that a restart continues it.
//!
//! Every transition is one SQLite transaction (WAL, `synchronous=FULL`: a
//! commit survives a power loss). SQLite is the embedded database the
//! project already ships (the webhook outbox); a hand-written crash-safe
//! file would need the same journal, so none is written here.
//!
//! Older versions kept four JSON files (`open-files.json`,
//! `recordings.json`, `transmux-queue.json`, `open-sessions.json`); the
//! first open imports them in one transaction and renames each to
//! `NAME.migrated` (an unreadable one to `NAME.corrupt`), so an upgrade in
//! place loses nothing.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use onelive_events::{LiveInfo, Uuid};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

mod legacy;

use crate::EngineError;
use crate::recordings::{MAX_RECORDINGS, Recording, RecordingState, TransmuxState};

/// The store's file in the state folder.
pub const STORE_FILE: &str = "state.db";

/// A recording file as the ledger keeps it: what its events and its
/// transmux job are built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerFile {
    /// The file.
    pub path: PathBuf,
    /// Platform.
    pub platform: String,
    /// Channel.
    pub channel: String,
    /// Session.
    pub session_id: Option<Uuid>,
    /// Metadata when the file was opened.
    pub live_info: Option<LiveInfo>,
}

/// A channel's session that was open when the store was last written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenSession {
    /// Platform.
    pub platform: String,
    /// Channel.
    pub channel: String,
    /// The channel URL.
    pub url: String,
    /// The session.
    pub session_id: Uuid,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Metadata at its start.
    pub start_live_info: LiveInfo,
    /// Metadata now.
    pub live_info: LiveInfo,
    /// The part number the next recording of this session gets.
    pub next_part: u32,
    /// When the channel was last seen live (Unix time in milliseconds).
    pub last_live_at: i64,
    /// The session's `live_start` (its JSON) while it may not be in the
    /// outbox yet: the session is saved with it before it is published, so
    /// that a crash in between publishes it at the next start, under the
    /// same event id (the outbox keeps one copy of an id), rather than
    /// losing it or giving the session a second `live_start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_live_start: Option<String>,
}

/// The durable store (see the [module](self) docs). Cheap to share in an
/// `Arc`; every call is one short transaction.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    session_id TEXT,
    live_info TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    state TEXT NOT NULL,
    size INTEGER,
    duration REAL,
    transmux TEXT NOT NULL DEFAULT 'none',
    transmux_output TEXT,
    transmux_error TEXT
);
CREATE INDEX IF NOT EXISTS files_state ON files(state);
CREATE INDEX IF NOT EXISTS files_transmux ON files(transmux);
CREATE TABLE IF NOT EXISTS sessions (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    session TEXT NOT NULL,
    PRIMARY KEY (platform, channel)
);
PRAGMA user_version = 1;
";

/// File states in the `files.state` column.
const RECORDING: &str = "recording";
const LEFT_OPEN: &str = "left_open";
const FINISHED: &str = "finished";
const INTERRUPTED: &str = "interrupted";

fn store_err(context: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Store { context: context.to_owned(), reason: e.to_string() }
}

impl Store {
    /// Opens (or creates) `state_dir/state.db`, imports the JSON state files
    /// of an older version once, and marks files left `recording` by the
    /// last run as `left_open` (for the crash recovery).
    pub fn open(state_dir: &Path) -> Result<Store, EngineError> {
        let path = state_dir.join(STORE_FILE);
        let err = |e: rusqlite::Error| store_err(&format!("cannot open {}", path.display()), e);
        let mut conn = Connection::open(&path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        import_legacy(&mut conn, state_dir)?;
        conn.execute("UPDATE files SET state = ?1 WHERE state = ?2", params![LEFT_OPEN, RECORDING])
            .map_err(err)?;
        Ok(Store { conn: Mutex::new(conn), path })
    }

    /// Where the store is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(
        &self,
        what: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, EngineError> {
        let mut conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = conn.transaction().map_err(|e| store_err(what, e))?;
        let value = f(&tx).map_err(|e| store_err(what, e))?;
        tx.commit().map_err(|e| store_err(what, e))?;
        Ok(value)
    }

    // ----- the file ledger -----

    /// A recording opened `file` (an entry of the same path is replaced and
    /// becomes the newest). Forgets the oldest settled files beyond
    /// [`MAX_RECORDINGS`].
    pub fn file_opened(&self, file: &LedgerFile) -> Result<(), EngineError> {
        self.with("cannot record an opened file", |tx| {
            insert_file(tx, file, RECORDING)?;
            prune(tx)
        })
    }

    /// `file` was finished (by its recording, or checked after a crash):
    /// its size and duration, and when `transmux`, its transmux is pending.
    /// A file the ledger does not know is added as finished.
    pub fn file_finished(
        &self,
        file: &LedgerFile,
        size: u64,
        duration: f64,
        transmux: bool,
    ) -> Result<(), EngineError> {
        let path = file.path.display().to_string();
        self.with("cannot record a finished file", |tx| {
            let known: Option<i64> = tx
                .query_row("SELECT id FROM files WHERE path = ?1", [&path], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                insert_file(tx, file, FINISHED)?;
            }
            tx.execute(
                "UPDATE files SET state = ?2, finished_at = ?3, size = ?4, duration = ?5,
                 transmux = ?6, transmux_output = NULL, transmux_error = NULL WHERE path = ?1",
                params![
                    path,
                    FINISHED,
                    now_rfc3339(),
                    i64::try_from(size).unwrap_or(i64::MAX),
                    duration,
                    if transmux { "pending" } else { "none" }
                ],
            )?;
            prune(tx)
        })
    }

    /// A file left open by a crash was checked and is not announced (gone,
    /// unreadable, or still being written by someone else).
    pub fn file_interrupted(&self, path: &Path) -> Result<(), EngineError> {
        self.with("cannot record an interrupted file", |tx| {
            tx.execute(
                "UPDATE files SET state = ?2 WHERE path = ?1",
                params![path.display().to_string(), INTERRUPTED],
            )?;
            Ok(())
        })
    }

    /// The transmux of `input` is done: `output` is the verified file.
    pub fn transmux_done(&self, input: &Path, output: &Path) -> Result<(), EngineError> {
        self.set_transmux(input, TransmuxState::Done, Some(output.display().to_string()), None)
    }

    /// The transmux of `input` was given up (the recording is kept).
    pub fn transmux_failed(&self, input: &Path, error: &str) -> Result<(), EngineError> {
        self.set_transmux(input, TransmuxState::Failed, None, Some(error.to_owned()))
    }

    fn set_transmux(
        &self,
        input: &Path,
        state: TransmuxState,
        output: Option<String>,
        error: Option<String>,
    ) -> Result<(), EngineError> {
        self.with("cannot record a transmux result", |tx| {
            tx.execute(
                "UPDATE files SET transmux = ?2, transmux_output = ?3, transmux_error = ?4
                 WHERE path = ?1",
                params![input.display().to_string(), transmux_name(state), output, error],
            )?;
            Ok(())
        })
    }

    /// Files a crashed run left open that are not checked yet, oldest first.
    pub fn left_open(&self) -> Result<Vec<LedgerFile>, EngineError> {
        self.ledger_files("cannot list the files left open", "state = 'left_open'")
    }

    /// Files whose transmux is pending (queued or running), oldest first.
    pub fn transmux_pending(&self) -> Result<Vec<LedgerFile>, EngineError> {
        self.ledger_files("cannot list the transmux queue", "transmux = 'pending'")
    }

    fn ledger_files(&self, what: &str, filter: &str) -> Result<Vec<LedgerFile>, EngineError> {
        self.with(what, |tx| {
            let sql = format!(
                "SELECT path, platform, channel, session_id, live_info FROM files
                 WHERE {filter} ORDER BY id"
            );
            let mut stmt = tx.prepare(&sql)?;
            let rows = stmt.query_map([], |r| {
                Ok(LedgerFile {
                    path: PathBuf::from(r.get::<_, String>(0)?),
                    platform: r.get(1)?,
                    channel: r.get(2)?,
                    session_id: uuid_col(r, 3)?,
                    live_info: json_col(r, 4)?,
                })
            })?;
            rows.collect()
        })
    }

    /// The most recent files (at most `limit`), newest first.
    pub fn recordings(&self, limit: usize) -> Result<Vec<Recording>, EngineError> {
        self.with("cannot list the recordings", |tx| {
            let mut stmt = tx.prepare(
                "SELECT path, platform, channel, session_id, live_info, started_at, finished_at,
                        state, size, duration, transmux, transmux_output, transmux_error
                 FROM files ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                let live_info: Option<LiveInfo> = json_col(r, 4)?;
                Ok(Recording {
                    path: r.get(0)?,
                    platform: r.get(1)?,
                    channel: r.get(2)?,
                    session_id: uuid_col(r, 3)?,
                    title: live_info.map(|i| i.title).filter(|t| !t.is_empty()),
                    started_at: r.get(5)?,
                    finished_at: r.get(6)?,
                    state: match r.get::<_, String>(7)?.as_str() {
                        RECORDING => RecordingState::Recording,
                        FINISHED => RecordingState::Finished,
                        _ => RecordingState::Interrupted,
                    },
                    size: r.get::<_, Option<i64>>(8)?.map(|s| u64::try_from(s).unwrap_or(0)),
                    duration: r.get(9)?,
                    transmux: match r.get::<_, String>(10)?.as_str() {
                        "pending" => TransmuxState::Pending,
                        "done" => TransmuxState::Done,
                        "failed" => TransmuxState::Failed,
                        _ => TransmuxState::None,
                    },
                    transmux_output: r.get(11)?,
                    transmux_error: r.get(12)?,
                })
            })?;
            rows.collect()
        })
    }

    // ----- open sessions -----

    /// Every open session.
    pub fn sessions(&self) -> Result<Vec<OpenSession>, EngineError> {
        self.with("cannot list the open sessions", |tx| {
            let mut stmt = tx.prepare("SELECT session FROM sessions ORDER BY platform, channel")?;
            let rows = stmt.query_map([], |r| json_value(r, 0))?;
            rows.collect()
        })
    }

    /// The open session of a channel.
    pub fn session(
        &self,
        platform: &str,
        channel: &str,
    ) -> Result<Option<OpenSession>, EngineError> {
        self.with("cannot read an open session", |tx| {
            tx.query_row(
                "SELECT session FROM sessions WHERE platform = ?1 AND channel = ?2",
                [platform, channel],
                |r| json_value(r, 0),
            )
            .optional()
        })
    }

    /// Saves a channel's open session (replacing the one it had).
    pub fn save_session(&self, session: &OpenSession) -> Result<(), EngineError> {
        let json = serde_json::to_string(session).map_err(|e| store_err("session", e))?;
        self.with("cannot save an open session", |tx| {
            tx.execute(
                "INSERT INTO sessions (platform, channel, session) VALUES (?1, ?2, ?3)
                 ON CONFLICT (platform, channel) DO UPDATE SET session = excluded.session",
                params![session.platform, session.channel, json],
            )?;
            Ok(())
        })
    }

    /// A channel's session ended.
    pub fn end_session(&self, platform: &str, channel: &str) -> Result<(), EngineError> {
        self.with("cannot end an open session", |tx| {
            tx.execute(
                "DELETE FROM sessions WHERE platform = ?1 AND channel = ?2",
                [platform, channel],
            )?;
            Ok(())
        })
    }
}

fn insert_file(
    tx: &rusqlite::Transaction<'_>,
    file: &LedgerFile,
    state: &str,
) -> rusqlite::Result<()> {
    let live_info = file.live_info.as_ref().and_then(|i| serde_json::to_string(i).ok());
    tx.execute(
        "INSERT OR REPLACE INTO files (path, platform, channel, session_id, live_info, started_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            file.path.display().to_string(),
            file.platform,
            file.channel,
            file.session_id.map(|s| s.to_string()),
            live_info,
            now_rfc3339(),
            state
        ],
    )?;
    Ok(())
}

/// Forgets the oldest settled files (finished or interrupted, no transmux
/// pending) beyond the newest [`MAX_RECORDINGS`]; the files themselves stay.
fn prune(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM files WHERE id <= (SELECT id FROM files ORDER BY id DESC LIMIT 1 OFFSET ?1)
         AND state IN ('finished', 'interrupted') AND transmux != 'pending'",
        [i64::try_from(MAX_RECORDINGS).unwrap_or(i64::MAX)],
    )?;
    Ok(())
}

/// Imports the JSON state files of an older version (once: the files are
/// renamed afterwards), in one transaction.
fn import_legacy(conn: &mut Connection, state_dir: &Path) -> Result<(), EngineError> {
    let old = legacy::read(state_dir);
    if old.read.is_empty() {
        return Ok(());
    }
    let err = |e: rusqlite::Error| store_err("cannot import the old state files", e);
    let tx = conn.transaction().map_err(err)?;
    for r in &old.recordings {
        let state = match r.state {
            RecordingState::Finished => FINISHED,
            // Open files are listed in open-files.json (below).
            RecordingState::Recording | RecordingState::Interrupted => INTERRUPTED,
        };
        tx.execute(
            "INSERT OR REPLACE INTO files (path, platform, channel, session_id, live_info,
                 started_at, finished_at, state, size, duration, transmux, transmux_output,
                 transmux_error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                r.path,
                r.platform,
                r.channel,
                r.session_id.map(|s| s.to_string()),
                r.title.as_ref().and_then(|t| {
                    let mut info = LiveInfo::default();
                    info.title = t.clone();
                    serde_json::to_string(&info).ok()
                }),
                r.started_at,
                r.finished_at,
                state,
                r.size.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
                r.duration,
                // The queue file says which transmux jobs are still to run.
                match r.transmux {
                    TransmuxState::Pending => "none",
                    other => transmux_name(other),
                },
                r.transmux_output,
                r.transmux_error
            ],
        )
        .map_err(err)?;
    }
    let upsert =
        |tx: &rusqlite::Transaction<'_>, file: &LedgerFile, state: &str, transmux: &str| {
            let path = file.path.display().to_string();
            let known: Option<i64> = tx
                .query_row("SELECT id FROM files WHERE path = ?1", [&path], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                insert_file(tx, file, state)?;
            }
            // The open file's metadata is the complete one (recordings.json kept the title only).
            let live_info = file.live_info.as_ref().and_then(|i| serde_json::to_string(i).ok());
            tx.execute(
                "UPDATE files SET state = ?2, transmux = ?3, live_info = COALESCE(?4, live_info)
             WHERE path = ?1",
                params![path, state, transmux, live_info],
            )?;
            Ok::<_, rusqlite::Error>(())
        };
    for f in &old.open_files {
        let file = LedgerFile {
            path: f.path.clone(),
            platform: f.platform.clone(),
            channel: f.channel.clone(),
            session_id: f.session_id,
            live_info: f.live_info.clone(),
        };
        upsert(&tx, &file, LEFT_OPEN, "none").map_err(err)?;
    }
    for j in &old.transmux_queue {
        let file = LedgerFile {
            path: j.input.clone(),
            platform: j.platform.clone(),
            channel: j.channel.clone(),
            session_id: j.session_id,
            live_info: j.live_info.clone(),
        };
        upsert(&tx, &file, FINISHED, "pending").map_err(err)?;
    }
    for value in &old.sessions {
        let session: OpenSession = match serde_json::from_value(value.clone()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "an old open session cannot be read; dropped");
                continue;
            }
        };
        let json = serde_json::to_string(&session).map_err(|e| store_err("session", e))?;
        tx.execute(
            "INSERT OR REPLACE INTO sessions (platform, channel, session) VALUES (?1, ?2, ?3)",
            params![session.platform, session.channel, json],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)?;
    tracing::info!(
        recordings = old.recordings.len(),
        open_files = old.open_files.len(),
        transmux_jobs = old.transmux_queue.len(),
        sessions = old.sessions.len(),
        "imported the state files of an older version into {STORE_FILE}"
    );
    legacy::set_aside(&old.read);
    Ok(())
}

fn transmux_name(state: TransmuxState) -> &'static str {
    match state {
        TransmuxState::None => "none",
        TransmuxState::Pending => "pending",
        TransmuxState::Done => "done",
        TransmuxState::Failed => "failed",
    }
}

fn conversion(i: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

fn uuid_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<Uuid>> {
    r.get::<_, Option<String>>(i)?
        .map(|s| Uuid::parse_str(&s).map_err(|e| conversion(i, e)))
        .transpose()
}

fn json_col<T: serde::de::DeserializeOwned>(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<T>> {
    r.get::<_, Option<String>>(i)?
        .map(|s| serde_json::from_str(&s).map_err(|e| conversion(i, e)))
        .transpose()
}

fn json_value<T: serde::de::DeserializeOwned>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    serde_json::from_str(&s).map_err(|e| conversion(i, e))
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Logs a store write that failed; the engine keeps running (what the
/// write would have recorded is then lost at a crash, as with a full disk).
pub(crate) fn logged(result: Result<(), EngineError>) {
    if let Err(e) = result {
        tracing::error!(error = %e, "state store write failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> LedgerFile {
        LedgerFile {
            path: path.into(),
            platform: "p".into(),
            channel: "c".into(),
            session_id: None,
            live_info: None,
        }
    }

    #[test]
    fn the_list_is_bounded_and_forgets_the_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for i in 0..MAX_RECORDINGS + 5 {
            let f = file(&format!("/r/{i}.ts"));
            store.file_opened(&f).unwrap();
            store.file_finished(&f, 1, 1.0, false).unwrap();
        }
        let list = store.recordings(usize::MAX).unwrap();
        assert_eq!(list.len(), MAX_RECORDINGS);
        assert_eq!(list.last().unwrap().path, "/r/5.ts");
        assert_eq!(list[0].path, format!("/r/{}.ts", MAX_RECORDINGS + 4));
        // The same path again replaces its entry (and moves it to the newest end).
        store.file_opened(&file("/r/5.ts")).unwrap();
        let list = store.recordings(usize::MAX).unwrap();
        assert_eq!(list.len(), MAX_RECORDINGS);
        assert_eq!(list[0].path, "/r/5.ts");
        assert_eq!(list.iter().filter(|r| r.path == "/r/5.ts").count(), 1);
    }

    #[test]
    fn files_with_work_left_are_never_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let queued = file("/r/queued.ts");
        store.file_opened(&queued).unwrap();
        store.file_finished(&queued, 1, 1.0, true).unwrap();
        let open = file("/r/open.ts");
        store.file_opened(&open).unwrap();
        for i in 0..MAX_RECORDINGS + 5 {
            let f = file(&format!("/r/{i}.ts"));
            store.file_opened(&f).unwrap();
            store.file_finished(&f, 1, 1.0, false).unwrap();
        }
        assert_eq!(store.transmux_pending().unwrap(), [queued]);
        let paths: Vec<String> =
            store.recordings(usize::MAX).unwrap().into_iter().map(|r| r.path).collect();
        assert!(paths.contains(&"/r/open.ts".to_owned()));
    }

    #[test]
    fn a_file_left_recording_is_left_open_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.file_opened(&file("/r/a.ts")).unwrap();
            assert!(store.left_open().unwrap().is_empty());
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.left_open().unwrap(), [file("/r/a.ts")]);
        assert_eq!(store.recordings(10).unwrap()[0].state, RecordingState::Interrupted);
        store.file_interrupted(Path::new("/r/a.ts")).unwrap();
        assert!(store.left_open().unwrap().is_empty());
    }

    #[test]
    fn a_transmux_runs_from_pending_to_done_or_failed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for name in ["/r/a.ts", "/r/b.ts"] {
            store.file_opened(&file(name)).unwrap();
            store.file_finished(&file(name), 10, 2.5, true).unwrap();
        }
        assert_eq!(store.transmux_pending().unwrap().len(), 2);
        store.transmux_done(Path::new("/r/a.ts"), Path::new("/r/a.mp4")).unwrap();
        store.transmux_failed(Path::new("/r/b.ts"), "disk full").unwrap();
        assert!(store.transmux_pending().unwrap().is_empty());
        let list = store.recordings(10).unwrap();
        let (b, a) = (&list[0], &list[1]);
        assert_eq!(
            (a.transmux, a.transmux_output.as_deref()),
            (TransmuxState::Done, Some("/r/a.mp4"))
        );
        assert_eq!(
            (b.transmux, b.transmux_error.as_deref()),
            (TransmuxState::Failed, Some("disk full"))
        );
        assert_eq!((a.state, a.size, a.duration), (RecordingState::Finished, Some(10), Some(2.5)));
    }

    #[test]
    fn sessions_are_saved_replaced_and_ended_per_channel() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = OpenSession {
            platform: "p".into(),
            channel: "c".into(),
            url: "https://p/c".into(),
            session_id: Uuid::now_v7(),
            started_at: now_rfc3339(),
            start_live_info: LiveInfo::default(),
            live_info: LiveInfo::default(),
            next_part: 2,
            last_live_at: 1,
            pending_live_start: Some("{}".into()),
        };
        store.save_session(&s).unwrap();
        let later = OpenSession { next_part: 3, pending_live_start: None, ..s.clone() };
        store.save_session(&later).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.sessions().unwrap(), std::slice::from_ref(&later));
        assert_eq!(store.session("p", "c").unwrap(), Some(later));
        store.end_session("p", "c").unwrap();
        assert!(store.sessions().unwrap().is_empty());
    }

    /// The four JSON files as the version before the store wrote them (their
    /// shapes from that version's code; the values are made up for this test).
    #[test]
    fn the_json_state_files_of_an_older_version_are_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let session = Uuid::now_v7();
        let write = |name: &str, v: serde_json::Value| {
            std::fs::write(d.join(name), serde_json::to_vec_pretty(&v).unwrap()).unwrap()
        };
        write(
            "recordings.json",
            serde_json::json!([
                { "path": "/r/done.ts", "platform": "bilibili", "channel": "1", "session_id": session,
                  "title": "old title", "started_at": "2026-01-01T00:00:00Z",
                  "finished_at": "2026-01-01T01:00:00Z", "state": "finished", "size": 123,
                  "duration": 3600.0, "transmux": "done", "transmux_output": "/r/done.mp4",
                  "transmux_error": null },
                { "path": "/r/queued.ts", "platform": "bilibili", "channel": "1", "session_id": session,
                  "title": null, "started_at": "2026-01-01T01:00:00Z",
                  "finished_at": "2026-01-01T02:00:00Z", "state": "finished", "size": 5,
                  "duration": 1.0, "transmux": "pending", "transmux_output": null,
                  "transmux_error": null },
                { "path": "/r/open.ts", "platform": "bilibili", "channel": "1", "session_id": session,
                  "title": null, "started_at": "2026-01-01T02:00:00Z", "finished_at": null,
                  "state": "recording", "size": null, "duration": null, "transmux": "none",
                  "transmux_output": null, "transmux_error": null }
            ]),
        );
        let info = serde_json::to_value({
            let mut built = LiveInfo::default();
            built.title = "t".into();
            built.uname = "u".into();
            built
        })
        .unwrap();
        write(
            "open-files.json",
            serde_json::json!([{ "path": "/r/open.ts", "platform": "bilibili", "channel": "1",
                "session_id": session, "live_info": info }]),
        );
        write(
            "transmux-queue.json",
            serde_json::json!([{ "input": "/r/queued.ts", "platform": "bilibili", "channel": "1",
                "session_id": session, "live_info": null }]),
        );
        write(
            "open-sessions.json",
            serde_json::json!({ "bilibili/1": { "platform": "bilibili", "channel": "1",
                "url": "https://live.bilibili.com/1", "session_id": session,
                "started_at": "2026-01-01T00:00:00Z", "start_live_info": info, "live_info": info,
                "next_part": 4, "last_live_at": 1700000000000i64 } }),
        );
        let store = Store::open(d).unwrap();
        let list = store.recordings(10).unwrap();
        let paths: Vec<&str> = list.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/r/open.ts", "/r/queued.ts", "/r/done.ts"]);
        let done = &list[2];
        assert_eq!(done.title.as_deref(), Some("old title"));
        assert_eq!(
            (done.state, done.size, done.duration),
            (RecordingState::Finished, Some(123), Some(3600.0))
        );
        assert_eq!(
            (done.transmux, done.transmux_output.as_deref()),
            (TransmuxState::Done, Some("/r/done.mp4"))
        );
        assert_eq!(done.session_id, Some(session));
        let open = store.left_open().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].path, PathBuf::from("/r/open.ts"));
        assert_eq!(open[0].live_info.as_ref().unwrap().title, "t");
        let queued = store.transmux_pending().unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].path, PathBuf::from("/r/queued.ts"));
        let sessions = store.sessions().unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!((sessions[0].session_id, sessions[0].next_part), (session, 4));
        assert_eq!(sessions[0].live_info.uname, "u");
        for f in legacy::FILES {
            assert!(!d.join(f).exists(), "{f} is still there");
            assert!(d.join(format!("{f}.migrated")).exists(), "{f} was not kept aside");
        }
        // A second open imports nothing again and keeps what the store holds.
        drop(store);
        let store = Store::open(d).unwrap();
        assert_eq!(store.recordings(10).unwrap().len(), 3);
        assert_eq!(store.sessions().unwrap().len(), 1);
    }

    #[test]
    fn an_unreadable_old_file_is_kept_aside_and_the_others_are_imported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("open-sessions.json"), b"{not json").unwrap();
        std::fs::write(
            dir.path().join("transmux-queue.json"),
            br#"[{"input":"/r/a.ts","platform":"p","channel":"c","session_id":null,"live_info":null}]"#,
        )
        .unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.sessions().unwrap().is_empty());
        assert_eq!(store.transmux_pending().unwrap().len(), 1);
        assert_eq!(
            std::fs::read(dir.path().join("open-sessions.json.corrupt")).unwrap(),
            b"{not json"
        );
    }

    #[test]
    fn a_folder_that_cannot_hold_the_store_is_a_precise_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = Store::open(&dir.path().join("missing")).unwrap_err();
        assert!(e.to_string().contains("state.db"), "{e}");
    }
}
