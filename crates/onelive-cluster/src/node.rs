//! A node of the cluster: its connection, its leases, its channels'
//! sessions.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use onelive_events::LiveInfo;
use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};
use uuid::Uuid;

use crate::error::{db_err, pg_text};
use crate::status::{ChannelStatus, ClusterStatus, NodeStatus};
use crate::{ClusterError, ClusterOptions, FenceReason, fair_share};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The advisory lock that serialises schema migrations of nodes starting
/// at the same time (an arbitrary constant: "onelive" in ASCII).
const MIGRATION_LOCK: i64 = 0x006f_6e65_6c69_7665;
/// refinery's history table, prefixed like the crate's own tables.
const HISTORY_TABLE: &str = "onelive_schema_history";

/// A claimed channel: its key and the fencing epoch of the claim.
///
/// It is a snapshot: whether it is still held is asked with
/// [`ClusterNode::check`], which also knows about renewals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    key: String,
    epoch: i64,
}

impl Lease {
    /// The channel key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The fencing token: larger than the epoch of every earlier claim of
    /// this channel, by any node.
    pub fn epoch(&self) -> i64 {
        self.epoch
    }
}

/// A channel's open session as the cluster keeps it, so that a node taking
/// the channel over continues it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// The session.
    pub session_id: Uuid,
    /// The part number the next recording of the session gets.
    pub next_part: u32,
    /// The channel's metadata now.
    pub live_info: LiveInfo,
    /// The rest of the session as its user saves it (the engine's whole
    /// open-session record); stored and returned unchanged.
    pub record: serde_json::Value,
}

/// What one [`ClusterNode::tick`] changed.
#[derive(Debug, Default)]
pub struct TickReport {
    /// Leases this node no longer holds (expired by its own clock, taken
    /// over, or their channel removed or disabled): stop recording them now.
    pub lost: Vec<Lease>,
    /// Leases it gave up to balance the cluster (none was recording).
    pub released: Vec<Lease>,
    /// Leases it claimed.
    pub claimed: Vec<Lease>,
    /// Why the round stopped early, if it did (the database could not be
    /// reached, or a query failed); `lost` is complete all the same.
    pub error: Option<ClusterError>,
}

/// One connection and the statements prepared on it (a statement belongs
/// to its connection: a new connection starts with an empty cache).
struct Conn {
    client: Client,
    statements: Mutex<HashMap<String, Statement>>,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Conn {
    fn new(client: Client) -> Self {
        Self { client, statements: Mutex::new(HashMap::new()) }
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The statement for `sql`, prepared once per connection: each later
    /// use is one round trip instead of two.
    async fn statement(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = lock(&self.statements).get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await?;
        lock(&self.statements).insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    async fn query(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        self.client.query(&self.statement(sql).await?, params).await
    }

    async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, tokio_postgres::Error> {
        self.client.query_one(&self.statement(sql).await?, params).await
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        self.client.query_opt(&self.statement(sql).await?, params).await
    }

    async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, tokio_postgres::Error> {
        self.client.execute(&self.statement(sql).await?, params).await
    }
}

#[derive(Debug, Clone, Copy)]
struct Held {
    epoch: i64,
    valid_until: Instant,
}

/// One recorder node in the cluster (see the [crate] docs).
///
/// Every method is one or two short statements; none holds a lock across a
/// query. The node is `Send + Sync`: share it in an `Arc`.
pub struct ClusterNode {
    opts: ClusterOptions,
    pg: tokio_postgres::Config,
    client: Mutex<Option<Arc<Conn>>>,
    held: Mutex<HashMap<String, Held>>,
    op_timeout: Duration,
    statements: AtomicU64,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode")
            .field("node_id", &self.opts.node_id())
            .field("lease", &self.opts.lease())
            .field("held", &lock(&self.held).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn open(pg: &tokio_postgres::Config) -> Result<Client, ClusterError> {
    let (client, conn) = pg.connect(NoTls).await.map_err(|e| ClusterError::Connect(pg_text(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %pg_text(&e), "cluster database connection closed");
        }
    });
    Ok(client)
}

async fn migrate(client: &mut Client) -> Result<(), ClusterError> {
    let migration = |e: tokio_postgres::Error| ClusterError::Migration(pg_text(&e));
    client
        .batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .await
        .map_err(migration)?;
    let result = embedded::migrations::runner()
        .set_migration_table_name(HISTORY_TABLE)
        .run_async(client)
        .await
        .map_err(|e| ClusterError::Migration(e.to_string()));
    client
        .batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .await
        .map_err(migration)?;
    result.map(|_| ())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn duration_ms(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

impl ClusterNode {
    /// Checks the options, connects, brings the schema up to date (nodes
    /// starting together take turns) and registers the node.
    pub async fn connect(opts: ClusterOptions) -> Result<Self, ClusterError> {
        let mut pg = opts.pg_config()?;
        let op_timeout = (opts.lease() / 3).max(Duration::from_millis(100));
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(op_timeout);
        }
        let mut client = open(&pg).await?;
        migrate(&mut client).await?;
        let node = Self {
            opts,
            pg,
            client: Mutex::new(Some(Arc::new(Conn::new(client)))),
            held: Mutex::new(HashMap::new()),
            op_timeout,
            statements: AtomicU64::new(0),
        };
        node.heartbeat().await?;
        Ok(node)
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        self.opts.node_id()
    }

    /// The lease duration.
    pub fn lease_duration(&self) -> Duration {
        self.opts.lease()
    }

    /// How often [`tick`](Self::tick) should run: a third of the lease.
    pub fn renew_interval(&self) -> Duration {
        self.opts.lease() / 3
    }

    /// How long a lease counts as held by this node's clock after the
    /// renewal that was sent last: four fifths of the lease. The fifth left
    /// is the time a node that lost a lease has to stop recording before
    /// the database lets another node claim it.
    pub fn local_validity(&self) -> Duration {
        self.opts.lease() * 4 / 5
    }

    /// How many statements this node has sent to the database since it
    /// connected (each parameterised one is a prepare and an execute).
    pub fn statements_sent(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The leases this node holds now by its own clock.
    pub fn leases(&self) -> Vec<Lease> {
        let now = Instant::now();
        let mut v: Vec<Lease> = lock(&self.held)
            .iter()
            .filter(|(_, h)| h.valid_until > now)
            .map(|(k, h)| Lease { key: k.clone(), epoch: h.epoch })
            .collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    async fn client(&self) -> Result<Arc<Conn>, ClusterError> {
        let current = lock(&self.client).as_ref().filter(|c| !c.is_closed()).cloned();
        if let Some(c) = current {
            return Ok(c);
        }
        let c = Arc::new(Conn::new(open(&self.pg).await?));
        *lock(&self.client) = Some(c.clone());
        Ok(c)
    }

    /// Runs one query with the operation timeout; a timeout or a closed
    /// connection drops the client, so that the next call reconnects.
    async fn timed<T>(
        &self,
        context: &'static str,
        fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, ClusterError> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(self.op_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_closed() {
                    *lock(&self.client) = None;
                }
                Err(db_err(context)(e))
            }
            Err(_) => {
                *lock(&self.client) = None;
                Err(ClusterError::Database {
                    context,
                    reason: format!("no answer within {} ms", self.op_timeout.as_millis()),
                })
            }
        }
    }

    /// Says the node is alive (its row in the node registry).
    pub async fn heartbeat(&self) -> Result<(), ClusterError> {
        let c = self.client().await?;
        let lease_ms = i64::try_from(self.opts.lease().as_millis()).unwrap_or(i64::MAX);
        let cap = i32::try_from(self.opts.max_recordings()).unwrap_or(i32::MAX);
        self.timed(
            "registering the node",
            c.execute(
                "INSERT INTO onelive_nodes (node_id, lease_ms, max_recordings) VALUES ($1, $2, $3)
                 ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now(), left_at = NULL,
                     lease_ms = EXCLUDED.lease_ms, max_recordings = EXCLUDED.max_recordings",
                &[&self.node_id(), &lease_ms, &cap],
            ),
        )
        .await?;
        Ok(())
    }

    /// One round of the lease loop, to run every
    /// [`renew_interval`](Self::renew_interval): drop the leases past their
    /// local validity, renew, heartbeat, give up idle channels over the
    /// fair share, claim up to it.
    ///
    /// It always reports the leases lost, also when the database cannot be
    /// reached (then `error` says why and nothing was claimed): a node cut
    /// off from the database stops its recordings when their leases run out.
    pub async fn tick(&self) -> TickReport {
        let mut report = TickReport { lost: self.expire_local(), ..TickReport::default() };
        let step = async {
            report.lost.extend(self.renew().await?);
            self.heartbeat().await?;
            report.released = self.rebalance().await?;
            report.claimed = self.claim().await?;
            Ok::<(), ClusterError>(())
        };
        if let Err(e) = step.await {
            report.error = Some(e);
        }
        report
    }

    /// Forgets the leases past their local validity (no renewal went out in
    /// time for them) and returns them: they are lost, whatever the
    /// database says. Needs no database.
    pub fn expire_local(&self) -> Vec<Lease> {
        let now = Instant::now();
        let mut lost = Vec::new();
        lock(&self.held).retain(|k, h| {
            let keep = h.valid_until > now;
            if !keep {
                lost.push(Lease { key: k.clone(), epoch: h.epoch });
            }
            keep
        });
        lost.sort_by(|a, b| a.key.cmp(&b.key));
        lost
    }

    /// Renews every lease held by the node's clock. Returns those the
    /// database no longer gives to this node at their epoch (taken over,
    /// expired, removed or disabled), now forgotten.
    pub async fn renew(&self) -> Result<Vec<Lease>, ClusterError> {
        let now = Instant::now();
        let snapshot: Vec<(String, i64)> = lock(&self.held)
            .iter()
            .filter(|(_, h)| h.valid_until > now)
            .map(|(k, h)| (k.clone(), h.epoch))
            .collect();
        if snapshot.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&str> = snapshot.iter().map(|(k, _)| k.as_str()).collect();
        let epochs: Vec<i64> = snapshot.iter().map(|(_, e)| *e).collect();
        let sent = Instant::now();
        let c = self.client().await?;
        let rows = self
            .timed(
                "renewing leases",
                c.query(
                    "UPDATE onelive_channels c
                     SET lease_expires_at = now() + $3::float8 * interval '1 millisecond'
                     FROM unnest($2::text[], $4::bigint[]) AS h(key, epoch)
                     WHERE c.key = h.key AND c.epoch = h.epoch AND c.owner = $1
                       AND c.enabled AND c.lease_expires_at > now()
                     RETURNING c.key",
                    &[&self.node_id(), &keys, &ms(self.opts.lease()), &epochs],
                ),
            )
            .await?;
        let renewed: std::collections::HashSet<String> =
            rows.iter().map(|r| r.get::<_, String>(0)).collect();
        let valid_until = sent + self.local_validity();
        let mut lost = Vec::new();
        let mut held = lock(&self.held);
        for (key, epoch) in snapshot {
            let Some(h) = held.get_mut(&key) else { continue };
            if h.epoch != epoch {
                continue;
            }
            if renewed.contains(&key) {
                h.valid_until = valid_until;
            } else {
                held.remove(&key);
                lost.push(Lease { key, epoch });
            }
        }
        Ok(lost)
    }

    /// How many channels this node should own now (see [`fair_share`]):
    /// its share of the enabled unpinned channels among the live nodes,
    /// plus the channels pinned to it, at most its capacity.
    pub async fn target(&self) -> Result<usize, ClusterError> {
        let c = self.client().await?;
        let row = self
            .timed(
                "counting channels and nodes",
                c.query_one(
                    "SELECT
                       (SELECT count(*) FROM onelive_channels WHERE enabled AND pinned_node IS NULL),
                       (SELECT count(*) FROM onelive_channels WHERE enabled AND pinned_node = $1),
                       ARRAY(SELECT max_recordings::bigint FROM onelive_nodes
                             WHERE node_id <> $1 AND left_at IS NULL
                               AND heartbeat_at + lease_ms * interval '1 millisecond' > now())",
                    &[&self.node_id()],
                ),
            )
            .await?;
        let unpinned = usize::try_from(row.get::<_, i64>(0)).unwrap_or(0);
        let pinned = usize::try_from(row.get::<_, i64>(1)).unwrap_or(0);
        let cap = self.opts.max_recordings();
        let mut caps: Vec<usize> = row
            .get::<_, Vec<i64>>(2)
            .into_iter()
            .map(|c| usize::try_from(c).unwrap_or(0))
            .collect();
        caps.push(cap);
        Ok(cap.min(fair_share(unpinned, &caps, cap) + pinned))
    }

    /// Claims unowned or expired channels (those pinned to this node first)
    /// until it owns its [`target`](Self::target). Each claim raises the
    /// channel's epoch.
    ///
    /// Claims use `SELECT … FOR UPDATE SKIP LOCKED`: nodes claiming at the
    /// same time lock disjoint rows instead of waiting for each other, and
    /// a row another claim changed first is checked again and skipped.
    pub async fn claim(&self) -> Result<Vec<Lease>, ClusterError> {
        let target = self.target().await?;
        let owned = lock(&self.held).len();
        let want = target.saturating_sub(owned);
        if want == 0 {
            return Ok(Vec::new());
        }
        let c = self.client().await?;
        let sent = Instant::now();
        let rows = self
            .timed(
                "claiming channels",
                c.query(
                    "WITH picked AS (
                       SELECT key FROM onelive_channels
                       WHERE enabled AND (owner IS NULL OR lease_expires_at <= now())
                         AND (pinned_node IS NULL OR pinned_node = $1)
                       ORDER BY (pinned_node IS NULL), key
                       LIMIT $2
                       FOR UPDATE SKIP LOCKED)
                     UPDATE onelive_channels c
                     SET owner = $1, epoch = c.epoch + 1, claimed_at = now(), recording = FALSE,
                         lease_expires_at = now() + $3::float8 * interval '1 millisecond'
                     FROM picked WHERE c.key = picked.key
                     RETURNING c.key, c.epoch",
                    &[
                        &self.node_id(),
                        &i64::try_from(want).unwrap_or(i64::MAX),
                        &ms(self.opts.lease()),
                    ],
                ),
            )
            .await?;
        let valid_until = sent + self.local_validity();
        let mut held = lock(&self.held);
        let mut claimed: Vec<Lease> = rows
            .iter()
            .map(|r| {
                let lease = Lease { key: r.get(0), epoch: r.get(1) };
                held.insert(lease.key.clone(), Held { epoch: lease.epoch, valid_until });
                lease
            })
            .collect();
        claimed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(claimed)
    }

    /// Gives up channels that are not recording when the node owns more
    /// than its [`target`](Self::target), and those pinned to another node.
    pub async fn rebalance(&self) -> Result<Vec<Lease>, ClusterError> {
        let held: Vec<Lease> = self.leases();
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let target = self.target().await?;
        let c = self.client().await?;
        let keys: Vec<&str> = held.iter().map(|l| l.key.as_str()).collect();
        let rows = self
            .timed(
                "reading owned channels",
                c.query(
                    "SELECT key, recording, pinned_node FROM onelive_channels
                     WHERE owner = $1 AND key = ANY($2) ORDER BY key DESC",
                    &[&self.node_id(), &keys],
                ),
            )
            .await?;
        let mut excess = held.len().saturating_sub(target);
        let mut give_up: Vec<Lease> = Vec::new();
        let idle: Vec<(String, Option<String>)> =
            rows.iter().filter(|r| !r.get::<_, bool>(1)).map(|r| (r.get(0), r.get(2))).collect();
        // Channels pinned to another node go first (they count against the
        // excess too), then unpinned ones while the node is over its share.
        for (key, pinned) in &idle {
            if pinned.as_deref().is_some_and(|p| p != self.node_id()) {
                excess = excess.saturating_sub(1);
                give_up.extend(held.iter().find(|l| &l.key == key).cloned());
            }
        }
        for (key, pinned) in &idle {
            if excess > 0 && pinned.is_none() {
                excess -= 1;
                give_up.extend(held.iter().find(|l| &l.key == key).cloned());
            }
        }
        self.release_where(&give_up, true).await
    }

    /// Releases leases in the database (only those still at their epoch and,
    /// when `idle_only`, not recording), then forgets those released.
    async fn release_where(
        &self,
        leases: &[Lease],
        idle_only: bool,
    ) -> Result<Vec<Lease>, ClusterError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&str> = leases.iter().map(|l| l.key.as_str()).collect();
        let epochs: Vec<i64> = leases.iter().map(|l| l.epoch).collect();
        let c = self.client().await?;
        let rows = self
            .timed(
                "releasing leases",
                c.query(
                    "UPDATE onelive_channels c
                     SET owner = NULL, lease_expires_at = NULL, recording = FALSE
                     FROM unnest($2::text[], $3::bigint[]) AS h(key, epoch)
                     WHERE c.key = h.key AND c.epoch = h.epoch AND c.owner = $1
                       AND (NOT $4 OR NOT c.recording)
                     RETURNING c.key",
                    &[&self.node_id(), &keys, &epochs, &idle_only],
                ),
            )
            .await?;
        let released: std::collections::HashSet<String> =
            rows.iter().map(|r| r.get::<_, String>(0)).collect();
        let mut held = lock(&self.held);
        let mut out = Vec::new();
        for l in leases {
            if released.contains(&l.key) {
                if held.get(&l.key).is_some_and(|h| h.epoch == l.epoch) {
                    held.remove(&l.key);
                }
                out.push(l.clone());
            }
        }
        Ok(out)
    }

    /// Releases one lease at once (the channel can be claimed by another
    /// node right away). The node forgets it first, so that a
    /// [`check`](Self::check) fails from this call on.
    pub async fn release(&self, lease: &Lease) -> Result<(), ClusterError> {
        {
            let mut held = lock(&self.held);
            if held.get(&lease.key).is_some_and(|h| h.epoch == lease.epoch) {
                held.remove(&lease.key);
            }
        }
        self.release_where(std::slice::from_ref(lease), false).await.map(|_| ())
    }

    /// Graceful shutdown: releases every lease this node holds and marks it
    /// as left in the registry. Returns how many leases were released.
    pub async fn shutdown(&self) -> Result<usize, ClusterError> {
        let all: Vec<Lease> = {
            let mut held = lock(&self.held);
            held.drain().map(|(key, h)| Lease { key, epoch: h.epoch }).collect()
        };
        let released = self.release_where(&all, false).await?;
        let c = self.client().await?;
        self.timed(
            "leaving the cluster",
            c.execute(
                "UPDATE onelive_nodes SET left_at = now() WHERE node_id = $1",
                &[&self.node_id()],
            ),
        )
        .await?;
        Ok(released.len())
    }

    /// The fencing check, before a part starts: the lease must be held by
    /// this node's clock and be the channel's current, unexpired claim in
    /// the database. Anything else is [`ClusterError::Fenced`].
    pub async fn check(&self, lease: &Lease) -> Result<(), ClusterError> {
        self.check_local(lease)?;
        let c = self.client().await?;
        let row = self
            .timed(
                "checking a lease",
                c.query_opt(
                    "SELECT owner, epoch, enabled, coalesce(lease_expires_at > now(), FALSE)
                     FROM onelive_channels WHERE key = $1",
                    &[&lease.key],
                ),
            )
            .await?;
        match self.fence_reason(lease, row.as_ref()) {
            None => Ok(()),
            Some(reason) => Err(self.fenced(lease, reason)),
        }
    }

    fn check_local(&self, lease: &Lease) -> Result<(), ClusterError> {
        let mut held = lock(&self.held);
        match held.get(&lease.key) {
            Some(h) if h.epoch == lease.epoch && h.valid_until > Instant::now() => Ok(()),
            Some(h) if h.epoch == lease.epoch => {
                held.remove(&lease.key);
                Err(self.fenced_msg(lease, FenceReason::Expired))
            }
            _ => Err(self.fenced_msg(lease, FenceReason::NotHeld)),
        }
    }

    fn fenced_msg(&self, lease: &Lease, reason: FenceReason) -> ClusterError {
        ClusterError::Fenced { key: lease.key.clone(), epoch: lease.epoch, reason }
    }

    /// Forgets the lease and builds the error.
    fn fenced(&self, lease: &Lease, reason: FenceReason) -> ClusterError {
        let mut held = lock(&self.held);
        if held.get(&lease.key).is_some_and(|h| h.epoch == lease.epoch) {
            held.remove(&lease.key);
        }
        self.fenced_msg(lease, reason)
    }

    /// Why the row (owner, epoch, enabled, unexpired) does not give the
    /// lease to this node, or `None` when it does.
    fn fence_reason(&self, lease: &Lease, row: Option<&Row>) -> Option<FenceReason> {
        let Some(row) = row else { return Some(FenceReason::Removed) };
        let owner: Option<String> = row.get(0);
        let epoch: i64 = row.get(1);
        let enabled: bool = row.get(2);
        let unexpired: bool = row.get(3);
        if !enabled {
            return Some(FenceReason::Removed);
        }
        if owner.as_deref() == Some(self.node_id()) && epoch == lease.epoch {
            return if unexpired { None } else { Some(FenceReason::Expired) };
        }
        Some(FenceReason::TakenOver { owner: owner.filter(|_| unexpired), epoch })
    }

    /// Runs a fenced update (`$1` key, `$2` node, `$3` epoch, then the
    /// statement's own parameters); no row changed is a fence error.
    async fn fenced_update(
        &self,
        context: &'static str,
        lease: &Lease,
        set: &str,
        params: Params<'_>,
    ) -> Result<(), ClusterError> {
        self.check_local(lease)?;
        let c = self.client().await?;
        let sql = format!(
            "UPDATE onelive_channels SET {set}
             WHERE key = $1 AND owner = $2 AND epoch = $3 AND enabled AND lease_expires_at > now()"
        );
        let node_id = self.node_id();
        let mut all: Vec<&(dyn ToSql + Sync)> = vec![&lease.key, &node_id, &lease.epoch];
        all.extend_from_slice(params);
        let n = self.timed(context, c.execute(sql.as_str(), &all)).await?;
        if n == 1 {
            return Ok(());
        }
        let row = self
            .timed(
                context,
                c.query_opt(
                    "SELECT owner, epoch, enabled, coalesce(lease_expires_at > now(), FALSE)
                     FROM onelive_channels WHERE key = $1",
                    &[&lease.key],
                ),
            )
            .await?;
        Err(self
            .fenced(lease, self.fence_reason(lease, row.as_ref()).unwrap_or(FenceReason::NotHeld)))
    }

    /// Marks the channel as recording (or not), fenced: a part starts only
    /// after `set_recording(lease, true)` succeeded, and a channel marked
    /// recording is never given up by [`rebalance`](Self::rebalance).
    pub async fn set_recording(&self, lease: &Lease, recording: bool) -> Result<(), ClusterError> {
        self.fenced_update("marking a recording", lease, "recording = $4", &[&recording]).await
    }

    /// Saves the channel's open session, fenced: a node that lost the lease
    /// cannot overwrite the session of the node that took over.
    pub async fn save_session(
        &self,
        lease: &Lease,
        session: &SessionState,
    ) -> Result<(), ClusterError> {
        let live_info =
            serde_json::to_value(&session.live_info).map_err(|e| ClusterError::Corrupt {
                key: lease.key.clone(),
                what: "live_info",
                reason: e.to_string(),
            })?;
        let next_part = i32::try_from(session.next_part).map_err(|_| ClusterError::Corrupt {
            key: lease.key.clone(),
            what: "next part",
            reason: format!("{} is too large", session.next_part),
        })?;
        self.fenced_update(
            "saving a session",
            lease,
            "session_id = $4, next_part = $5, live_info = $6, session_record = $7, session_saved_at = now()",
            &[&session.session_id, &next_part, &live_info, &session.record],
        )
        .await
    }

    /// Ends the channel's session (fenced), after its `live_end`.
    pub async fn end_session(&self, lease: &Lease) -> Result<(), ClusterError> {
        self.fenced_update(
            "ending a session",
            lease,
            "session_id = NULL, next_part = NULL, live_info = NULL, session_record = NULL, session_saved_at = now()",
            &[],
        )
        .await
    }

    /// The channel's open session, if any.
    pub async fn session(&self, key: &str) -> Result<Option<SessionState>, ClusterError> {
        let c = self.client().await?;
        let row = self
            .timed(
                "reading a session",
                c.query_opt(
                    "SELECT session_id, next_part, live_info, session_record FROM onelive_channels WHERE key = $1",
                    &[&key],
                ),
            )
            .await?
            .ok_or_else(|| ClusterError::UnknownChannel(key.to_owned()))?;
        let Some(session_id) = row.get::<_, Option<Uuid>>(0) else { return Ok(None) };
        let corrupt = |what: &'static str, reason: String| ClusterError::Corrupt {
            key: key.to_owned(),
            what,
            reason,
        };
        let next_part =
            row.get::<_, Option<i32>>(1).ok_or_else(|| corrupt("next part", "missing".into()))?;
        let next_part = u32::try_from(next_part)
            .map_err(|_| corrupt("next part", format!("{next_part} is negative")))?;
        let live_info: serde_json::Value =
            row.get::<_, Option<_>>(2).unwrap_or(serde_json::Value::Null);
        let live_info: LiveInfo =
            serde_json::from_value(live_info).map_err(|e| corrupt("live_info", e.to_string()))?;
        let record = row.get::<_, Option<serde_json::Value>>(3).unwrap_or(serde_json::Value::Null);
        Ok(Some(SessionState { session_id, next_part, live_info, record }))
    }

    /// Adds a channel for the whole cluster, or replaces its `spec` (the
    /// channel's configuration, opaque to this crate).
    pub async fn upsert_channel(
        &self,
        key: &str,
        spec: &serde_json::Value,
    ) -> Result<(), ClusterError> {
        if key.is_empty() {
            return Err(ClusterError::InvalidOption {
                option: "channel key",
                reason: "it is empty".into(),
            });
        }
        let c = self.client().await?;
        self.timed(
            "saving a channel",
            c.execute(
                "INSERT INTO onelive_channels (key, spec) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET spec = EXCLUDED.spec",
                &[&key, spec],
            ),
        )
        .await?;
        Ok(())
    }

    /// Removes a channel; its owner finds the lease lost at its next
    /// renewal or check.
    pub async fn remove_channel(&self, key: &str) -> Result<(), ClusterError> {
        self.change_channel(
            "removing a channel",
            "DELETE FROM onelive_channels WHERE key = $1",
            key,
            None,
        )
        .await
    }

    /// Enables or disables a channel; a disabled one is released by its
    /// owner at its next renewal.
    pub async fn set_enabled(&self, key: &str, enabled: bool) -> Result<(), ClusterError> {
        let c = self.client().await?;
        let n = self
            .timed(
                "enabling a channel",
                c.execute(
                    "UPDATE onelive_channels SET enabled = $2 WHERE key = $1",
                    &[&key, &enabled],
                ),
            )
            .await?;
        if n == 0 { Err(ClusterError::UnknownChannel(key.to_owned())) } else { Ok(()) }
    }

    /// Pins a channel to a node (only it claims the channel), or unpins it.
    pub async fn pin(&self, key: &str, node: Option<&str>) -> Result<(), ClusterError> {
        self.change_channel(
            "pinning a channel",
            "UPDATE onelive_channels SET pinned_node = $2 WHERE key = $1",
            key,
            Some(node),
        )
        .await
    }

    async fn change_channel(
        &self,
        context: &'static str,
        sql: &str,
        key: &str,
        node: Option<Option<&str>>,
    ) -> Result<(), ClusterError> {
        let c = self.client().await?;
        let n = match node {
            None => self.timed(context, c.execute(sql, &[&key])).await?,
            Some(node) => self.timed(context, c.execute(sql, &[&key, &node])).await?,
        };
        if n == 0 { Err(ClusterError::UnknownChannel(key.to_owned())) } else { Ok(()) }
    }

    /// The whole cluster: the node registry and every channel with its
    /// lease, for `oneliverec cluster status`.
    pub async fn status(&self) -> Result<ClusterStatus, ClusterError> {
        let c = self.client().await?;
        let nodes = self
            .timed(
                "reading the node registry",
                c.query(
                    "SELECT n.node_id,
                        (n.left_at IS NULL AND n.heartbeat_at + n.lease_ms * interval '1 millisecond' > now()),
                        n.left_at IS NOT NULL,
                        (extract(epoch FROM now() - n.heartbeat_at) * 1000)::bigint,
                        n.max_recordings, n.lease_ms,
                        count(c.key) FILTER (WHERE c.lease_expires_at > now()),
                        count(c.key) FILTER (WHERE c.lease_expires_at > now() AND c.recording)
                     FROM onelive_nodes n LEFT JOIN onelive_channels c ON c.owner = n.node_id
                     GROUP BY n.node_id ORDER BY n.node_id",
                    &[],
                ),
            )
            .await?;
        let channels = self
            .timed(
                "reading the channels",
                c.query(
                    "SELECT key, spec, enabled, pinned_node,
                        CASE WHEN lease_expires_at > now() THEN owner END, epoch,
                        CASE WHEN lease_expires_at > now()
                             THEN (extract(epoch FROM lease_expires_at - now()) * 1000)::bigint END,
                        recording AND coalesce(lease_expires_at > now(), FALSE), session_id, next_part
                     FROM onelive_channels ORDER BY key",
                    &[],
                ),
            )
            .await?;
        Ok(ClusterStatus {
            nodes: nodes
                .iter()
                .map(|r| NodeStatus {
                    node_id: r.get(0),
                    alive: r.get(1),
                    left: r.get(2),
                    heartbeat_age: duration_ms(r.get(3)),
                    max_recordings: usize::try_from(r.get::<_, i32>(4)).unwrap_or(0),
                    lease: duration_ms(r.get(5)),
                    leases: usize::try_from(r.get::<_, i64>(6)).unwrap_or(0),
                    recordings: usize::try_from(r.get::<_, i64>(7)).unwrap_or(0),
                })
                .collect(),
            channels: channels
                .iter()
                .map(|r| ChannelStatus {
                    key: r.get(0),
                    spec: r.get(1),
                    enabled: r.get(2),
                    pinned_node: r.get(3),
                    owner: r.get(4),
                    epoch: r.get(5),
                    lease_remaining: r.get::<_, Option<i64>>(6).map(duration_ms),
                    recording: r.get(7),
                    session_id: r.get(8),
                    next_part: r.get::<_, Option<i32>>(9).and_then(|p| u32::try_from(p).ok()),
                })
                .collect(),
        })
    }
}
