//! The durable job store (SQLite in WAL mode).
//!
//! Incoming events and their jobs are written by one writer thread that
//! groups concurrent requests into one transaction (group commit), so every
//! event is on disk before the sink answers 2xx, at thousands of events per
//! second.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::{Error, Result};

/// State of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting to run (possibly after a failed attempt).
    Pending,
    /// A fan-in step waiting for the steps named in its `after`.
    Waiting,
    /// Running now (or interrupted by a crash, until the next start).
    Running,
    /// Finished successfully.
    Done,
    /// Exhausted its attempts.
    Failed,
}

impl JobState {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Waiting => "waiting",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> JobState {
        match s {
            "running" => JobState::Running,
            "waiting" => JobState::Waiting,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            _ => JobState::Pending,
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pending" | "waiting" | "running" | "done" | "failed" => Ok(JobState::parse(s)),
            other => Err(Error::Config(format!(
                "unknown job state {other:?} (pending, waiting, running, done, failed)"
            ))),
        }
    }
}

/// One job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Job id.
    pub id: i64,
    /// The event that created it.
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// Rule name.
    pub rule: String,
    /// Index of the action in the rule.
    pub action_index: u32,
    /// Action kind (`pixeldrain`, `exec`, `forward`).
    pub action_kind: String,
    /// The event's file path as received, if any.
    pub file: Option<String>,
    /// Current state.
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Unix milliseconds of the next attempt (pending jobs).
    pub next_run_at_ms: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// What the successful attempt produced (e.g. a share link).
    pub result: Option<String>,
    /// Unix milliseconds of creation.
    pub created_at_ms: i64,
    /// Unix milliseconds of the last change.
    pub updated_at_ms: i64,
    /// The job whose output this one runs on (a chain step), if any.
    pub parent_id: Option<i64>,
    /// The `[actions.NAME]` this step runs, for chain steps.
    pub step: Option<String>,
    /// The previous step's output (a share link, a file path), for chain
    /// steps; for a fan-in step, a JSON object of the outputs of the steps
    /// it waited for, by name.
    pub input: Option<String>,
    /// The sibling steps a fan-in step waits for (its `after`).
    pub after: Vec<String>,
}

/// A chain step to create when its parent job succeeds.
#[derive(Debug, Clone)]
pub struct NewStep {
    /// The `[actions.NAME]` to run.
    pub step: String,
    /// Its action kind.
    pub action_kind: String,
    /// The file it works on.
    pub file: Option<String>,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The sibling steps it waits for (fan-in); empty: it runs at once.
    pub after: Vec<String>,
}

/// A job to create with its event.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Rule name.
    pub rule: String,
    /// Index of the action in the rule.
    pub action_index: u32,
    /// Action kind.
    pub action_kind: String,
    /// The event's file path as received.
    pub file: Option<String>,
    /// Attempts allowed.
    pub max_attempts: u32,
}

/// Outcome of [`JobStore::insert_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The event is new; its jobs were stored.
    New,
    /// An event with this id was stored before; nothing was written.
    Duplicate,
}

struct InsertRequest {
    event_id: String,
    event_type: String,
    body: String,
    jobs: Vec<NewJob>,
    reply: oneshot::Sender<Result<Inserted>>,
}

/// The SQLite job store. Cheap to clone.
#[derive(Clone)]
pub struct JobStore {
    path: Arc<PathBuf>,
    conn: Arc<Mutex<Connection>>,
    writer: mpsc::UnboundedSender<InsertRequest>,
}

impl std::fmt::Debug for JobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobStore").field("path", &self.path).finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL REFERENCES events(id),
    rule TEXT NOT NULL,
    action_index INTEGER NOT NULL,
    action_kind TEXT NOT NULL,
    file TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    next_run_at INTEGER NOT NULL,
    last_error TEXT,
    result TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs(state, next_run_at);
";

/// Columns added after the first release, with their definitions.
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("parent_id", "INTEGER REFERENCES jobs(id)"),
    ("step", "TEXT"),
    ("input", "TEXT"),
    ("after", "TEXT"),
];

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('jobs')")?;
    let existing: Vec<String> =
        stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    for (name, definition) in ADDED_COLUMNS {
        if !existing.iter().any(|e| e == name) {
            conn.execute_batch(&format!("ALTER TABLE jobs ADD COLUMN {name} {definition}"))?;
        }
    }
    Ok(())
}

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Opens a connection. `synchronous=FULL` for the ingest writer (an event
/// answered 2xx survives a power loss); `NORMAL` for job-state updates,
/// where a lost update after a power loss only means a job runs again.
fn open(path: &Path, full_sync: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if full_sync { "FULL" } else { "NORMAL" })?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

const JOB_COLUMNS: &str = "j.id, j.event_id, e.type, j.rule, j.action_index, j.action_kind, \
    j.file, j.state, j.attempts, j.max_attempts, j.next_run_at, j.last_error, j.result, \
    j.created_at, j.updated_at, j.parent_id, j.step, j.input, j.after";

fn job_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: row.get(0)?,
        event_id: row.get(1)?,
        event_type: row.get(2)?,
        rule: row.get(3)?,
        action_index: row.get(4)?,
        action_kind: row.get(5)?,
        file: row.get(6)?,
        state: JobState::parse(&row.get::<_, String>(7)?),
        attempts: row.get(8)?,
        max_attempts: row.get(9)?,
        next_run_at_ms: row.get(10)?,
        last_error: row.get(11)?,
        result: row.get(12)?,
        created_at_ms: row.get(13)?,
        updated_at_ms: row.get(14)?,
        parent_id: row.get(15)?,
        step: row.get(16)?,
        input: row.get(17)?,
        after: row
            .get::<_, Option<String>>(18)?
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default(),
    })
}

impl JobStore {
    /// Opens (creating if needed) the store at `path` and starts its writer
    /// thread. Must be called within a Tokio runtime only for
    /// [`insert_event`](Self::insert_event); the other methods are blocking.
    pub fn open(path: &Path) -> Result<Self> {
        let err =
            |e: rusqlite::Error| Error::Store { path: path.to_owned(), reason: e.to_string() };
        let conn = open(path, false).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        migrate(&conn).map_err(err)?;
        let writer_conn = open(path, true).map_err(err)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let thread_path = path.to_owned();
        std::thread::Builder::new()
            .name("onelive-sink-store".into())
            .spawn(move || writer_loop(writer_conn, rx, &thread_path))
            .map_err(|e| Error::Store { path: path.to_owned(), reason: e.to_string() })?;
        Ok(JobStore {
            path: Arc::new(path.to_owned()),
            conn: Arc::new(Mutex::new(conn)),
            writer: tx,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Store { path: self.path.to_path_buf(), reason: e.to_string() }
    }

    fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.conn.lock().map_err(|_| self.err("connection lock poisoned"))?;
        f(&conn).map_err(|e| self.err(e))
    }

    /// Stores an event and its jobs in one durable transaction; returns
    /// [`Inserted::Duplicate`] (and writes nothing) if the event id is known.
    pub async fn insert_event(
        &self,
        event_id: String,
        event_type: String,
        body: String,
        jobs: Vec<NewJob>,
    ) -> Result<Inserted> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(InsertRequest { event_id, event_type, body, jobs, reply })
            .map_err(|_| self.err("writer thread stopped"))?;
        rx.await.map_err(|_| self.err("writer thread stopped"))?
    }

    /// Puts jobs left `running` by a crash back to `pending` (the interrupted
    /// attempt does not count). Returns how many.
    pub fn recover_interrupted(&self) -> Result<usize> {
        self.with_conn(|c| {
            c.execute(
                "UPDATE jobs SET state = 'pending', attempts = MAX(attempts - 1, 0), \
                 updated_at = ?1 WHERE state = 'running'",
                params![now_ms()],
            )
        })
    }

    /// Marks the oldest due pending job `running`, counts the attempt, and
    /// returns it.
    pub fn claim_due(&self) -> Result<Option<Job>> {
        let now = now_ms();
        self.with_conn(|c| {
            let id: Option<i64> = c
                .query_row(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ?1 \
                     WHERE id = (SELECT id FROM jobs WHERE state = 'pending' AND next_run_at <= ?1 \
                     ORDER BY next_run_at, id LIMIT 1) RETURNING id",
                    params![now],
                    |r| r.get(0),
                )
                .optional()?;
            match id {
                None => Ok(None),
                Some(id) => get_job(c, id),
            }
        })
    }

    /// Unix milliseconds of the earliest pending job, if any.
    pub fn next_due_ms(&self) -> Result<Option<i64>> {
        self.with_conn(|c| {
            c.query_row("SELECT MIN(next_run_at) FROM jobs WHERE state = 'pending'", [], |r| {
                r.get(0)
            })
        })
    }

    /// The event body (JSON) of a stored event.
    pub fn event_body(&self, event_id: &str) -> Result<Option<String>> {
        self.with_conn(|c| {
            c.query_row("SELECT body FROM events WHERE id = ?1", params![event_id], |r| r.get(0))
                .optional()
        })
    }

    /// Marks a job done with its result and, in the same transaction,
    /// creates the chain steps that run on it (so a crash never loses the
    /// rest of a chain, nor creates a step twice).
    pub fn mark_done(&self, id: i64, result: &str, steps: &[NewStep]) -> Result<()> {
        let conn = self.conn.lock().map_err(|_| self.err("connection lock poisoned"))?;
        let run = || -> rusqlite::Result<()> {
            let tx = conn.unchecked_transaction()?;
            let now = now_ms();
            let changed = tx.execute(
                "UPDATE jobs SET state = 'done', result = ?2, last_error = NULL, updated_at = ?3 \
                 WHERE id = ?1 AND state != 'done'",
                params![id, result, now],
            )?;
            if changed == 1 {
                for step in steps {
                    let (state, after) = if step.after.is_empty() {
                        ("pending", None)
                    } else {
                        ("waiting", serde_json::to_string(&step.after).ok())
                    };
                    tx.execute(
                        "INSERT INTO jobs (event_id, rule, action_index, action_kind, file, state, \
                         attempts, max_attempts, next_run_at, created_at, updated_at, parent_id, \
                         step, input, after) \
                         SELECT event_id, rule, action_index, ?2, ?3, ?8, 0, ?4, ?5, ?5, ?5, \
                         id, ?6, ?7, ?9 FROM jobs WHERE id = ?1",
                        params![
                            id,
                            step.action_kind,
                            step.file,
                            step.max_attempts,
                            now,
                            step.step,
                            result,
                            state,
                            after
                        ],
                    )?;
                }
                release_waiting(&tx, id, now)?;
            }
            tx.commit()
        };
        run().map_err(|e| self.err(e))
    }

    /// The chain steps created from a job, oldest first.
    pub fn children(&self, id: i64) -> Result<Vec<Job>> {
        self.with_conn(|c| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs j JOIN events e ON e.id = j.event_id \
                 WHERE j.parent_id = ?1 ORDER BY j.id"
            );
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params![id], job_from_row)?;
            rows.collect()
        })
    }

    /// Records a failed attempt: back to `pending` at `retry_at_ms`, or
    /// `failed` when `retry_at_ms` is `None`.
    pub fn mark_attempt_failed(
        &self,
        id: i64,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<()> {
        let now = now_ms();
        self.with_conn(|c| {
            match retry_at_ms {
                Some(at) => c.execute(
                    "UPDATE jobs SET state = 'pending', last_error = ?2, next_run_at = ?3, \
                     updated_at = ?4 WHERE id = ?1",
                    params![id, error, at, now],
                ),
                None => c.execute(
                    "UPDATE jobs SET state = 'failed', last_error = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, error, now],
                ),
            }
            .map(|_| ())
        })
    }

    /// One job.
    pub fn job(&self, id: i64) -> Result<Job> {
        self.with_conn(|c| get_job(c, id))?.ok_or(Error::JobNotFound(id))
    }

    /// Jobs, newest first, optionally only those in `state`.
    pub fn list(&self, state: Option<JobState>, limit: usize) -> Result<Vec<Job>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(|c| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs j JOIN events e ON e.id = j.event_id \
                 WHERE (?1 IS NULL OR j.state = ?1) ORDER BY j.id DESC LIMIT ?2"
            );
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params![state.map(JobState::as_str), limit], job_from_row)?;
            rows.collect()
        })
    }

    /// Puts a failed job back to `pending` with a fresh set of attempts.
    pub fn retry(&self, id: i64) -> Result<Job> {
        let job = self.job(id)?;
        if job.state != JobState::Failed {
            return Err(Error::NotRetryable { id, state: job.state.to_string() });
        }
        let now = now_ms();
        self.with_conn(|c| {
            c.execute(
                "UPDATE jobs SET state = 'pending', attempts = 0, next_run_at = ?2, updated_at = ?2 \
                 WHERE id = ?1 AND state = 'failed'",
                params![id, now],
            )
        })?;
        self.job(id)
    }

    /// The stored file events (`video_file_finish`, `video_transmux_finish`)
    /// of a live session, as `(type, body)`, in the order of their `ts`.
    pub fn session_files(&self, session_id: &str) -> Result<Vec<(String, String)>> {
        self.with_conn(|c| {
            let mut stmt = c.prepare(
                "SELECT type, body FROM events \
                 WHERE type IN ('video_file_finish', 'video_transmux_finish') \
                 AND json_extract(body, '$.data.session_id') = ?1 \
                 ORDER BY json_extract(body, '$.ts'), received_at",
            )?;
            let rows = stmt.query_map(params![session_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Whether the store is usable: the database answers a read of both
    /// tables and the writer thread that stores incoming events runs.
    pub fn check_health(&self) -> Result<()> {
        if self.writer.is_closed() {
            return Err(self.err("writer thread stopped"));
        }
        self.with_conn(|c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM jobs WHERE id < 0) + \
                 (SELECT COUNT(*) FROM events WHERE rowid < 0)",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|_| ())
    }

    /// Number of stored events.
    pub fn event_count(&self) -> Result<u64> {
        self.with_conn(|c| c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)))
    }
}

/// After job `done_id` is done: every fan-in sibling (same parent, same
/// file) waiting for steps that are now all done becomes pending, with
/// their outputs as its input. Runs in `mark_done`'s transaction, so a
/// crash either releases it with the step's completion or not at all.
fn release_waiting(tx: &Connection, done_id: i64, now: i64) -> rusqlite::Result<()> {
    let mut waiting = tx.prepare(
        "SELECT w.id, w.after FROM jobs d JOIN jobs w ON w.parent_id = d.parent_id \
         AND w.file IS d.file AND w.state = 'waiting' WHERE d.id = ?1",
    )?;
    let found: Vec<(i64, Option<String>)> = waiting
        .query_map(params![done_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut sibling = tx.prepare(
        "SELECT s.state, s.result FROM jobs w JOIN jobs s ON s.parent_id = w.parent_id \
         AND s.file IS w.file AND s.step = ?2 WHERE w.id = ?1 ORDER BY s.id LIMIT 1",
    )?;
    for (id, after) in found {
        let after: Vec<String> =
            after.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or_default();
        let mut outputs = serde_json::Map::new();
        for name in &after {
            let row: Option<(String, Option<String>)> =
                sibling.query_row(params![id, name], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            match row {
                Some((state, result)) if state == "done" => {
                    outputs.insert(name.clone(), result.unwrap_or_default().into());
                }
                _ => break,
            }
        }
        if outputs.len() == after.len() {
            tx.execute(
                "UPDATE jobs SET state = 'pending', input = ?2, next_run_at = ?3, updated_at = ?3 \
                 WHERE id = ?1 AND state = 'waiting'",
                params![id, serde_json::Value::Object(outputs).to_string(), now],
            )?;
        }
    }
    Ok(())
}

fn get_job(c: &Connection, id: i64) -> rusqlite::Result<Option<Job>> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs j JOIN events e ON e.id = j.event_id WHERE j.id = ?1"
    );
    c.query_row(&sql, params![id], job_from_row).optional()
}

const MAX_BATCH: usize = 512;

fn writer_loop(mut conn: Connection, mut rx: mpsc::UnboundedReceiver<InsertRequest>, path: &Path) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(req) => batch.push(req),
                Err(_) => break,
            }
        }
        match write_batch(&mut conn, &batch) {
            Ok(outcomes) => {
                for (req, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = req.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                let reason = e.to_string();
                for req in batch.drain(..) {
                    let _ = req
                        .reply
                        .send(Err(Error::Store { path: path.to_owned(), reason: reason.clone() }));
                }
            }
        }
    }
}

fn write_batch(conn: &mut Connection, batch: &[InsertRequest]) -> rusqlite::Result<Vec<Inserted>> {
    let tx = conn.transaction()?;
    let now = now_ms();
    let mut outcomes = Vec::with_capacity(batch.len());
    {
        let mut insert_event = tx.prepare_cached(
            "INSERT OR IGNORE INTO events (id, type, received_at, body) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut insert_job = tx.prepare_cached(
            "INSERT INTO jobs (event_id, rule, action_index, action_kind, file, state, attempts, \
             max_attempts, next_run_at, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?7, ?7, ?7)",
        )?;
        for req in batch {
            let n = insert_event.execute(params![req.event_id, req.event_type, now, req.body])?;
            if n == 0 {
                outcomes.push(Inserted::Duplicate);
                continue;
            }
            for job in &req.jobs {
                insert_job.execute(params![
                    req.event_id,
                    job.rule,
                    job.action_index,
                    job.action_kind,
                    job.file,
                    job.max_attempts,
                    now
                ])?;
            }
            outcomes.push(Inserted::New);
        }
    }
    tx.commit()?;
    Ok(outcomes)
}
