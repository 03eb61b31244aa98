//! What `oneliverec cluster status` shows.

use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

/// The node registry and every channel's lease.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterStatus {
    /// Every node that ever joined, by id.
    pub nodes: Vec<NodeStatus>,
    /// Every channel, by key.
    pub channels: Vec<ChannelStatus>,
}

/// A node in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// Its id.
    pub node_id: String,
    /// Whether its last heartbeat is younger than its lease and it has not
    /// left.
    pub alive: bool,
    /// Whether it left by a graceful shutdown.
    pub left: bool,
    /// Time since its last heartbeat (database clock).
    pub heartbeat_age: Duration,
    /// Its capacity.
    pub max_recordings: usize,
    /// Its lease duration.
    pub lease: Duration,
    /// Channels it holds an unexpired lease on.
    pub leases: usize,
    /// Of those, the ones it is recording.
    pub recordings: usize,
}

/// A channel and its lease.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelStatus {
    /// Its key.
    pub key: String,
    /// Its configuration, as stored.
    pub spec: serde_json::Value,
    /// Whether it is watched.
    pub enabled: bool,
    /// The node it is pinned to, if any.
    pub pinned_node: Option<String>,
    /// The node holding an unexpired lease on it, if any.
    pub owner: Option<String>,
    /// Its fencing epoch (the number of claims so far).
    pub epoch: i64,
    /// Time left on the lease (database clock).
    pub lease_remaining: Option<Duration>,
    /// Whether its owner is recording it.
    pub recording: bool,
    /// Its open session, if any.
    pub session_id: Option<Uuid>,
    /// The next part of that session.
    pub next_part: Option<u32>,
}
