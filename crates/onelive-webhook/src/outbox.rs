//! The SQLite outbox: events, endpoints and deliveries, written by one
//! writer thread in group commits.
//!
//! Every write goes through [`Writer`]: callers queue an operation and wait for
//! its reply; the writer thread takes everything queued, applies it in one
//! transaction (each operation in its own savepoint, so one failing operation
//! does not sink the others) and commits once (`synchronous=FULL`, so the
//! commit is on disk when the reply arrives). Reads use a separate
//! connection (WAL lets it read while the writer writes).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use onelive_events::{EventType, Uuid};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS endpoints(
    id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events(
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    body BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries(
    id INTEGER PRIMARY KEY,
    event_seq INTEGER NOT NULL,
    endpoint_id TEXT NOT NULL,
    state INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    response_excerpt TEXT,
    latency_ms INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(endpoint_id, next_ms, id) WHERE state = 0;
CREATE INDEX IF NOT EXISTS deliveries_log ON deliveries(endpoint_id, id);
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries(event_seq);
";

pub(crate) const STATE_PENDING: i64 = 0;
pub(crate) const STATE_DELIVERED: i64 = 1;
pub(crate) const STATE_FAILED: i64 = 2;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its first attempt or a retry.
    Pending,
    /// A 2xx response was received.
    Delivered,
    /// Given up: permanent failure, retries exhausted, or the endpoint is gone.
    Failed,
}

impl DeliveryState {
    fn from_code(code: i64) -> Self {
        match code {
            STATE_DELIVERED => DeliveryState::Delivered,
            STATE_FAILED => DeliveryState::Failed,
            _ => DeliveryState::Pending,
        }
    }
}

/// One (event, endpoint) delivery, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    /// Delivery id (for [`Dispatcher::redeliver`](crate::Dispatcher::redeliver)).
    pub id: i64,
    /// The event's id (the `webhook-id` header).
    pub event_id: Uuid,
    /// The event's `type`.
    pub event_type: String,
    /// The endpoint's id.
    pub endpoint_id: String,
    /// Current state.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<SystemTime>,
    /// HTTP status of the last attempt, if a response arrived.
    pub last_status: Option<u16>,
    /// Why the last attempt failed (network error, status, refusal).
    pub last_error: Option<String>,
    /// The start of the last response body (at most 512 characters).
    pub response_excerpt: Option<String>,
    /// Duration of the last attempt.
    pub last_latency: Option<Duration>,
    /// When the event was enqueued.
    pub created_at: SystemTime,
    /// When this record last changed.
    pub updated_at: SystemTime,
}

/// Counts over the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Deliveries waiting for an attempt.
    pub pending: u64,
    /// Delivered deliveries still in the history.
    pub delivered: u64,
    /// Failed deliveries still in the history.
    pub failed: u64,
}

/// How much delivery history to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Finished deliveries older than this are deleted (default 7 days).
    pub max_age: Duration,
    /// At most this many finished deliveries are kept per endpoint (default
    /// 10,000).
    pub max_per_endpoint: u64,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits { max_age: Duration::from_secs(7 * 24 * 3600), max_per_endpoint: 10_000 }
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn ms_to_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// An event ready for the outbox.
#[derive(Clone)]
pub(crate) struct NewEvent {
    pub(crate) id: String,
    pub(crate) type_name: String,
    pub(crate) event_type: Option<EventType>,
    pub(crate) body: Vec<u8>,
}

/// The result of one attempt, to record.
#[derive(Debug, Clone)]
pub(crate) struct AttemptUpdate {
    pub(crate) delivery: i64,
    pub(crate) state: i64,
    pub(crate) attempts: u32,
    pub(crate) next_ms: i64,
    pub(crate) status: Option<u16>,
    pub(crate) error: Option<String>,
    pub(crate) excerpt: Option<String>,
    pub(crate) latency_ms: i64,
    /// Disable this endpoint in the same transaction (410 Gone).
    pub(crate) disable_endpoint: Option<String>,
}

#[derive(Clone)]
pub(crate) enum Op {
    Enqueue(Vec<NewEvent>),
    Finish(AttemptUpdate),
    Upsert(Box<Endpoint>),
    Remove(String),
    SetEnabled(String, bool),
    Redeliver(i64),
    Prune(HistoryLimits),
}

#[derive(Debug)]
pub(crate) enum Output {
    /// Deliveries created per enqueued event.
    Counts(Vec<usize>),
    Bool(bool),
    Unit,
    Count(u64),
}

type Reply = oneshot::Sender<Result<Output>>;

/// Changes to the in-memory state, applied only after the commit.
enum Effect {
    Upsert(Endpoint),
    Remove(String),
    Pending(i64),
}

/// The endpoints as committed, shared with the scheduler.
pub(crate) type EndpointMap = Arc<RwLock<HashMap<String, Arc<Endpoint>>>>;

/// Handle to the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: std::sync::mpsc::Sender<(Op, Reply)>,
}

impl Writer {
    pub(crate) async fn call(&self, op: Op) -> Result<Output> {
        let (reply, rx) = oneshot::channel();
        self.tx.send((op, reply)).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }
}

/// Opens (creating if needed) the outbox and starts the writer thread.
pub(crate) struct Opened {
    pub(crate) writer: Writer,
    pub(crate) writer_thread: std::thread::JoinHandle<()>,
    pub(crate) reader: Reader,
    pub(crate) endpoints: EndpointMap,
    pub(crate) pending: Arc<AtomicI64>,
    /// Delivery id and endpoint id of stored endpoints that failed to load.
    pub(crate) unreadable_endpoints: Vec<Error>,
}

fn storage_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Outbox { path: path.display().to_string(), message: e.to_string() }
}

fn connect(path: &Path, max_bytes: Option<u64>) -> Result<Connection> {
    let err = storage_err(path);
    let conn = Connection::open(path).map_err(&err)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(&err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(&err)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(&err)?;
    if let Some(max) = max_bytes {
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(&err)?;
        let pages = i64::try_from(max).unwrap_or(i64::MAX) / page_size.max(512);
        conn.pragma_update(None, "max_page_count", pages.max(1)).map_err(&err)?;
    }
    Ok(conn)
}

/// Takes `<outbox>.lock` exclusively: two dispatchers on one outbox would
/// deliver everything twice. The operating system releases the lock when
/// the process dies, so a crash never leaves it stale.
fn lock_outbox(path: &Path) -> Result<std::fs::File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let fail = |message: String| Error::Outbox { path: path.display().to_string(), message };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| fail(format!("cannot open the lock file {}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(fail(
            "already open in another dispatcher (this or another process); \
             one outbox serves one dispatcher"
                .into(),
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(fail(format!("cannot lock {}: {e}", lock_path.display())))
        }
    }
}

pub(crate) fn open(path: &Path, max_bytes: Option<u64>) -> Result<Opened> {
    let err = storage_err(path);
    let lock = lock_outbox(path)?;
    let conn = connect(path, max_bytes)?;
    conn.execute_batch(SCHEMA).map_err(&err)?;
    restrict_permissions(path);

    let mut map = HashMap::new();
    let mut unreadable = Vec::new();
    {
        let mut stmt = conn.prepare("SELECT id, config FROM endpoints").map_err(&err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(&err)?;
        for row in rows {
            let (id, config) = row.map_err(&err)?;
            match Endpoint::from_stored_json(&id, &config) {
                Ok(ep) => {
                    map.insert(id, Arc::new(ep));
                }
                Err(e) => unreadable.push(e),
            }
        }
    }
    let pending: i64 = conn
        .query_row("SELECT COUNT(*) FROM deliveries WHERE state = 0", [], |r| r.get(0))
        .map_err(&err)?;

    let endpoints: EndpointMap = Arc::new(RwLock::new(map));
    let pending = Arc::new(AtomicI64::new(pending));
    let (tx, rx) = std::sync::mpsc::channel();
    let thread_state = WriterThread {
        _lock: lock,
        conn,
        path: path.to_path_buf(),
        endpoints: Arc::clone(&endpoints),
        pending: Arc::clone(&pending),
    };
    let writer_thread = std::thread::Builder::new()
        .name("webhook-outbox-writer".into())
        .spawn(move || thread_state.run(rx))
        .map_err(|e| Error::Outbox {
            path: path.display().to_string(),
            message: format!("cannot start the writer thread: {e}"),
        })?;

    let reader_conn = connect(path, None)?;
    reader_conn.pragma_update(None, "query_only", true).map_err(&err)?;
    Ok(Opened {
        writer: Writer { tx },
        writer_thread,
        reader: Reader { conn: Arc::new(std::sync::Mutex::new(reader_conn)), path: path.into() },
        endpoints,
        pending,
        unreadable_endpoints: unreadable,
    })
}

/// The outbox holds signing secrets: keep it private to its owner.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

struct WriterThread {
    /// Held (locked) for as long as the writer runs.
    _lock: std::fs::File,
    conn: Connection,
    path: PathBuf,
    endpoints: EndpointMap,
    pending: Arc<AtomicI64>,
}

/// Most operations taken into one transaction.
const MAX_BATCH: usize = 8192;

impl WriterThread {
    fn run(mut self, rx: std::sync::mpsc::Receiver<(Op, Reply)>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
    }

    fn commit_batch(&mut self, batch: Vec<(Op, Reply)>) {
        if batch.len() > 1 {
            // Group commit: everything in one transaction. If SQLite rolled
            // the whole transaction back (disk full, I/O error), redo each
            // operation on its own so only the failing ones fail.
            let ops: Vec<Op> = batch.iter().map(|(op, _)| op.clone()).collect();
            match self.try_transaction(ops) {
                Ok((outcomes, effects)) => {
                    self.apply(effects);
                    for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                        let _ = reply.send(outcome);
                    }
                    return;
                }
                Err(_) => {
                    for (op, reply) in batch {
                        let outcome = self.single(op);
                        let _ = reply.send(outcome);
                    }
                    return;
                }
            }
        }
        for (op, reply) in batch {
            let outcome = self.single(op);
            let _ = reply.send(outcome);
        }
    }

    /// One operation in its own transaction.
    fn single(&mut self, op: Op) -> Result<Output> {
        match self.try_transaction(vec![op]) {
            Ok((mut outcomes, effects)) => {
                self.apply(effects);
                outcomes.pop().unwrap_or(Err(Error::Closed))
            }
            Err(e) => Err(e),
        }
    }

    /// Applies `ops` in one transaction, each in a savepoint. `Err` when the
    /// transaction as a whole did not commit (nothing was written).
    fn try_transaction(&mut self, ops: Vec<Op>) -> Result<(Vec<Result<Output>>, Vec<Effect>)> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| self.err(e))?;
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut effects = Vec::new();
        let single = ops.len() == 1;
        for op in ops {
            let outcome = self.in_savepoint(op, &mut effects);
            if let Err(e) = &outcome
                && (single || self.conn.is_autocommit())
            {
                // A lone failing operation, or SQLite rolled back everything.
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                return Err(clone_err(e));
            }
            outcomes.push(outcome);
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            return Err(self.err(e));
        }
        Ok((outcomes, effects))
    }

    fn in_savepoint(&mut self, op: Op, effects: &mut Vec<Effect>) -> Result<Output> {
        if let Err(e) = self.conn.execute_batch("SAVEPOINT op") {
            return Err(self.err(e));
        }
        let mut local = Vec::new();
        match self.apply_op(op, &mut local) {
            Ok(out) => match self.conn.execute_batch("RELEASE op") {
                Ok(()) => {
                    effects.append(&mut local);
                    Ok(out)
                }
                Err(e) => Err(self.err(e)),
            },
            Err(e) => {
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK TO op; RELEASE op");
                }
                Err(e)
            }
        }
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        Error::Outbox { path: self.path.display().to_string(), message: e.to_string() }
    }

    fn apply(&self, effects: Vec<Effect>) {
        let mut map = match self.endpoints.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        for effect in effects {
            match effect {
                Effect::Upsert(ep) => {
                    map.insert(ep.id.clone(), Arc::new(ep));
                }
                Effect::Remove(id) => {
                    map.remove(&id);
                }
                Effect::Pending(delta) => {
                    self.pending.fetch_add(delta, Ordering::Relaxed);
                }
            }
        }
    }

    /// The endpoint map as it will be after the effects queued so far.
    fn current_endpoint(&self, id: &str, effects: &[Effect]) -> Option<Endpoint> {
        for effect in effects.iter().rev() {
            match effect {
                Effect::Upsert(ep) if ep.id == id => return Some(ep.clone()),
                Effect::Remove(r) if r == id => return None,
                _ => {}
            }
        }
        let map = match self.endpoints.read() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.get(id).map(|e| (**e).clone())
    }

    fn apply_op(&mut self, op: Op, effects: &mut Vec<Effect>) -> Result<Output> {
        match op {
            Op::Enqueue(events) => self.enqueue(events, effects),
            Op::Finish(update) => self.finish(update, effects),
            Op::Upsert(ep) => {
                let now = now_ms();
                self.conn
                    .prepare_cached(
                        "INSERT INTO endpoints(id, config, updated_ms) VALUES (?1, ?2, ?3)
                         ON CONFLICT(id) DO UPDATE SET config = excluded.config,
                         updated_ms = excluded.updated_ms",
                    )
                    .and_then(|mut s| s.execute(params![ep.id, ep.to_stored_json(), now]))
                    .map_err(|e| self.err(e))?;
                effects.push(Effect::Upsert(*ep));
                Ok(Output::Unit)
            }
            Op::Remove(id) => {
                let pending: i64 = self
                    .conn
                    .query_row(
                        "SELECT COUNT(*) FROM deliveries WHERE endpoint_id = ?1 AND state = 0",
                        [&id],
                        |r| r.get(0),
                    )
                    .map_err(|e| self.err(e))?;
                let removed = self
                    .conn
                    .execute("DELETE FROM endpoints WHERE id = ?1", [&id])
                    .map_err(|e| self.err(e))?;
                self.conn
                    .execute("DELETE FROM deliveries WHERE endpoint_id = ?1", [&id])
                    .map_err(|e| self.err(e))?;
                self.delete_orphan_events_all()?;
                effects.push(Effect::Remove(id));
                effects.push(Effect::Pending(-pending));
                Ok(Output::Bool(removed > 0))
            }
            Op::SetEnabled(id, enabled) => self.set_enabled(&id, enabled, effects),
            Op::Redeliver(delivery) => {
                let state: Option<i64> = self
                    .conn
                    .query_row("SELECT state FROM deliveries WHERE id = ?1", [delivery], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(|e| self.err(e))?;
                let Some(state) = state else { return Err(Error::UnknownDelivery(delivery)) };
                let now = now_ms();
                self.conn
                    .execute(
                        "UPDATE deliveries SET state = 0, attempts = 0, next_ms = ?2, updated_ms = ?2
                         WHERE id = ?1",
                        params![delivery, now],
                    )
                    .map_err(|e| self.err(e))?;
                if state != STATE_PENDING {
                    effects.push(Effect::Pending(1));
                }
                Ok(Output::Unit)
            }
            Op::Prune(limits) => self.prune(limits),
        }
    }

    fn set_enabled(
        &mut self,
        id: &str,
        enabled: bool,
        effects: &mut Vec<Effect>,
    ) -> Result<Output> {
        let Some(mut ep) = self.current_endpoint(id, effects) else {
            return Err(Error::UnknownEndpoint(id.to_owned()));
        };
        if ep.enabled == enabled {
            return Ok(Output::Bool(false));
        }
        ep.enabled = enabled;
        self.conn
            .prepare_cached("UPDATE endpoints SET config = ?2, updated_ms = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, ep.to_stored_json(), now_ms()]))
            .map_err(|e| self.err(e))?;
        effects.push(Effect::Upsert(ep));
        Ok(Output::Bool(true))
    }

    fn enqueue(&mut self, events: Vec<NewEvent>, effects: &mut Vec<Effect>) -> Result<Output> {
        let now = now_ms();
        let targets: Vec<Endpoint> = {
            let map = match self.endpoints.read() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            let mut ids: Vec<&String> = map.keys().collect();
            ids.sort();
            ids.into_iter().filter_map(|id| map.get(id)).map(|e| (**e).clone()).collect()
        };
        // Apply endpoint changes queued earlier in this same batch.
        let targets: Vec<Endpoint> = {
            let mut ids: Vec<String> = targets.iter().map(|e| e.id.clone()).collect();
            for effect in effects.iter() {
                if let Effect::Upsert(ep) = effect
                    && !ids.contains(&ep.id)
                {
                    ids.push(ep.id.clone());
                }
            }
            ids.iter().filter_map(|id| self.current_endpoint(id, effects)).collect()
        };
        let mut counts = Vec::with_capacity(events.len());
        let mut created = 0i64;
        let mut insert_event = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO events(event_id, event_type, body, created_ms)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(|e| storage(&self.path, e))?;
        let mut insert_delivery = self
            .conn
            .prepare_cached(
                "INSERT INTO deliveries(event_seq, endpoint_id, state, attempts, next_ms,
                 created_ms, updated_ms) VALUES (?1, ?2, 0, 0, ?3, ?3, ?3)",
            )
            .map_err(|e| storage(&self.path, e))?;
        for event in events {
            let wanted: Vec<&Endpoint> = targets
                .iter()
                .filter(|ep| ep.enabled && ep.accepts_type(event.event_type))
                .collect();
            if wanted.is_empty() {
                counts.push(0);
                continue;
            }
            let inserted = insert_event
                .execute(params![event.id, event.type_name, event.body, now])
                .map_err(|e| storage(&self.path, e))?;
            if inserted == 0 {
                // Already enqueued (same event id): idempotent.
                counts.push(0);
                continue;
            }
            let seq = self.conn.last_insert_rowid();
            for ep in &wanted {
                insert_delivery
                    .execute(params![seq, ep.id, now])
                    .map_err(|e| storage(&self.path, e))?;
            }
            created += wanted.len() as i64;
            counts.push(wanted.len());
        }
        effects.push(Effect::Pending(created));
        Ok(Output::Counts(counts))
    }

    fn finish(&mut self, u: AttemptUpdate, effects: &mut Vec<Effect>) -> Result<Output> {
        let previous: Option<i64> = self
            .conn
            .prepare_cached("SELECT state FROM deliveries WHERE id = ?1")
            .and_then(|mut s| s.query_row([u.delivery], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        let Some(previous) = previous else {
            // Removed meanwhile (endpoint deleted): nothing to record.
            return Ok(Output::Bool(false));
        };
        self.conn
            .prepare_cached(
                "UPDATE deliveries SET state = ?2, attempts = ?3, next_ms = ?4, updated_ms = ?5,
                 last_status = ?6, last_error = ?7, response_excerpt = ?8, latency_ms = ?9
                 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    u.delivery,
                    u.state,
                    u.attempts,
                    u.next_ms,
                    now_ms(),
                    u.status,
                    u.error,
                    u.excerpt,
                    u.latency_ms
                ])
            })
            .map_err(|e| self.err(e))?;
        if previous == STATE_PENDING && u.state != STATE_PENDING {
            effects.push(Effect::Pending(-1));
        }
        if let Some(id) = &u.disable_endpoint
            && self.current_endpoint(id, effects).is_some()
        {
            self.set_enabled(id, false, effects)?;
        }
        Ok(Output::Bool(true))
    }

    fn prune(&mut self, limits: HistoryLimits) -> Result<Output> {
        let cutoff =
            now_ms().saturating_sub(i64::try_from(limits.max_age.as_millis()).unwrap_or(i64::MAX));
        let mut seqs: Vec<i64> = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "DELETE FROM deliveries WHERE state != 0 AND updated_ms < ?1 RETURNING event_seq",
                )
                .map_err(|e| storage(&self.path, e))?;
            let rows =
                stmt.query_map([cutoff], |r| r.get(0)).map_err(|e| storage(&self.path, e))?;
            for r in rows {
                seqs.push(r.map_err(|e| storage(&self.path, e))?);
            }
        }
        let ids: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT DISTINCT endpoint_id FROM deliveries")
                .map_err(|e| storage(&self.path, e))?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| storage(&self.path, e))?;
            rows.collect::<rusqlite::Result<_>>().map_err(|e| storage(&self.path, e))?
        };
        let keep = i64::try_from(limits.max_per_endpoint).unwrap_or(i64::MAX);
        for id in ids {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "DELETE FROM deliveries WHERE endpoint_id = ?1 AND state != 0 AND id <= (
                       SELECT id FROM deliveries WHERE endpoint_id = ?1 AND state != 0
                       ORDER BY id DESC LIMIT 1 OFFSET ?2)
                     RETURNING event_seq",
                )
                .map_err(|e| storage(&self.path, e))?;
            let rows = stmt
                .query_map(params![id, keep], |r| r.get(0))
                .map_err(|e| storage(&self.path, e))?;
            for r in rows {
                seqs.push(r.map_err(|e| storage(&self.path, e))?);
            }
        }
        let removed = seqs.len() as u64;
        seqs.sort_unstable();
        seqs.dedup();
        let mut delete = self
            .conn
            .prepare_cached(
                "DELETE FROM events WHERE seq = ?1
                 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_seq = ?1)",
            )
            .map_err(|e| storage(&self.path, e))?;
        for seq in seqs {
            delete.execute([seq]).map_err(|e| storage(&self.path, e))?;
        }
        Ok(Output::Count(removed))
    }

    fn delete_orphan_events_all(&self) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM events WHERE NOT EXISTS
                 (SELECT 1 FROM deliveries WHERE deliveries.event_seq = events.seq)",
                [],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

fn storage(path: &Path, e: rusqlite::Error) -> Error {
    Error::Outbox { path: path.display().to_string(), message: e.to_string() }
}

fn clone_err(e: &Error) -> Error {
    match e {
        Error::Outbox { path, message } => {
            Error::Outbox { path: path.clone(), message: message.clone() }
        }
        Error::UnknownEndpoint(id) => Error::UnknownEndpoint(id.clone()),
        Error::UnknownDelivery(id) => Error::UnknownDelivery(*id),
        Error::InvalidEndpoint { endpoint, reason } => {
            Error::InvalidEndpoint { endpoint: endpoint.clone(), reason: reason.clone() }
        }
        Error::InvalidConfig(m) => Error::InvalidConfig(m.clone()),
        Error::Closed => Error::Closed,
        Error::Secret(e) => Error::Secret(e.clone()),
    }
}

/// A due (or soon due) pending delivery.
#[derive(Debug, Clone)]
pub(crate) struct DueRow {
    pub(crate) delivery: i64,
    pub(crate) next_ms: i64,
    pub(crate) attempts: u32,
    pub(crate) event_id: String,
    pub(crate) created_ms: i64,
    pub(crate) body: Vec<u8>,
}

/// The read connection.
#[derive(Clone)]
pub(crate) struct Reader {
    conn: Arc<std::sync::Mutex<Connection>>,
    path: PathBuf,
}

impl Reader {
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = match self.conn.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&conn).map_err(|e| storage(&self.path, e))
    }

    /// The first `limit` pending deliveries of an endpoint, by due time then
    /// enqueue order (due or not), after `(next_ms, id)` when given.
    pub(crate) fn pending_head(
        &self,
        endpoint: &str,
        after: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<DueRow>> {
        let (after_ms, after_id) = after.unwrap_or((i64::MIN, i64::MIN));
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.id, d.next_ms, d.attempts, e.event_id, d.created_ms, e.body
                 FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.endpoint_id = ?1 AND d.state = 0 AND (d.next_ms, d.id) > (?3, ?4)
                 ORDER BY d.next_ms, d.id LIMIT ?2",
            )?;
            let rows =
                stmt.query_map(params![endpoint, limit as i64, after_ms, after_id], |r| {
                    Ok(DueRow {
                        delivery: r.get(0)?,
                        next_ms: r.get(1)?,
                        attempts: r.get(2)?,
                        event_id: r.get(3)?,
                        created_ms: r.get(4)?,
                        body: r.get(5)?,
                    })
                })?;
            rows.collect()
        })
    }

    /// Newest first.
    pub(crate) fn deliveries(&self, endpoint: &str, limit: usize) -> Result<Vec<DeliveryRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.id, e.event_id, e.event_type, d.endpoint_id, d.state, d.attempts,
                        d.next_ms, d.last_status, d.last_error, d.response_excerpt,
                        d.latency_ms, d.created_ms, d.updated_ms
                 FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.endpoint_id = ?1 ORDER BY d.id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![endpoint, limit as i64], |r| {
                let state = DeliveryState::from_code(r.get(4)?);
                let event_id: String = r.get(1)?;
                Ok(DeliveryRecord {
                    id: r.get(0)?,
                    event_id: Uuid::parse_str(&event_id).unwrap_or(Uuid::nil()),
                    event_type: r.get(2)?,
                    endpoint_id: r.get(3)?,
                    state,
                    attempts: r.get(5)?,
                    next_attempt_at: (state == DeliveryState::Pending)
                        .then(|| r.get::<_, i64>(6).map(ms_to_time))
                        .transpose()?,
                    last_status: r.get(7)?,
                    last_error: r.get(8)?,
                    response_excerpt: r.get(9)?,
                    last_latency: r
                        .get::<_, Option<i64>>(10)?
                        .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
                    created_at: ms_to_time(r.get(11)?),
                    updated_at: ms_to_time(r.get(12)?),
                })
            })?;
            rows.collect()
        })
    }

    pub(crate) fn stats(&self) -> Result<OutboxStats> {
        self.with(|c| {
            let mut stats = OutboxStats::default();
            let mut stmt =
                c.prepare_cached("SELECT state, COUNT(*) FROM deliveries GROUP BY state")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (state, n) = row?;
                let n = u64::try_from(n).unwrap_or(0);
                match state {
                    STATE_PENDING => stats.pending = n,
                    STATE_DELIVERED => stats.delivered = n,
                    _ => stats.failed += n,
                }
            }
            Ok(stats)
        })
    }
}
