//! Cluster mode of onelive: several recorder nodes share one channel list
//! in PostgreSQL and never record a channel twice.
//!
//! - **Schema**: migrated at [`ClusterNode::connect`] (refinery, embedded
//!   SQL files; nodes starting together take turns on an advisory lock).
//!   Tables: `onelive_nodes`, `onelive_channels`, `onelive_schema_history`.
//! - **Leases**: each channel row has an owner, an expiry (database clock)
//!   and an epoch. [`ClusterNode::claim`] takes unowned or expired channels
//!   up to the node's [fair share](fair_share) and capacity
//!   (`FOR UPDATE SKIP LOCKED`), raising each one's epoch: the fencing
//!   token. [`ClusterNode::renew`] extends the leases still held at their
//!   epoch; [`ClusterNode::shutdown`] releases all of them at once.
//! - **Fencing**: [`ClusterNode::check`] (before a part starts) and every
//!   fenced write ([`ClusterNode::set_recording`],
//!   [`ClusterNode::save_session`]) succeed only for the current claim. A
//!   node also drops a lease by its own clock four fifths of a lease after
//!   the last renewal it sent, so a paused or cut-off node stops before the
//!   database lets another one claim the channel.
//! - **Sessions**: a channel's open session ([`SessionState`]) lives in its
//!   row, so a node that takes it over continues it.
//! - **Status**: [`ClusterNode::status`], the node registry and the leases.
//!
//! ```no_run
//! # async fn demo() -> Result<(), onelive_cluster::ClusterError> {
//! use onelive_cluster::{ClusterNode, ClusterOptions};
//! use std::time::Duration;
//!
//! let node = ClusterNode::connect(
//!     ClusterOptions::new("postgres://onelive@127.0.0.1/onelive")
//!         .with_node_id("rec-1")
//!         .with_lease(Duration::from_secs(15))
//!         .with_max_recordings(20),
//! )
//! .await?;
//! node.upsert_channel("bilibili-1", &serde_json::json!({"url": "https://live.bilibili.com/1"})).await?;
//! let report = node.tick().await;
//! for lease in &report.claimed {
//!     node.check(lease).await?; // before each part
//! }
//! node.shutdown().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
mod node;
mod options;
mod share;
mod status;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ClusterError, FenceReason};
pub use node::{ClusterNode, Lease, SessionState, TickReport};
pub use options::{
    ClusterOptions, DEFAULT_LEASE, DEFAULT_MAX_RECORDINGS, MAX_LEASE, MIN_LEASE, default_node_id,
};
pub use share::fair_share;
pub use status::{ChannelStatus, ClusterStatus, NodeStatus};
