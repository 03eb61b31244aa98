//! Open sessions across restarts: each channel's open session (its id, the
//! `live_info` at its start and now, when it started, the next part number
//! and when the channel was last seen live) is kept in `open-sessions.json`,
//! written atomically when a session starts, a part starts, the metadata
//! changes, it ends, and at most every heartbeat while live.
//!
//! At the next start a channel with a persisted session resumes it (see
//! [`ChannelMachine::resume`](crate::ChannelMachine::resume)): live again
//! inside the debounce window continues the same session with the next part
//! and no new `live_start`; offline until the window closes gives its
//! `live_end`. A session whose channel is no longer watched ends at once.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use onelive_events::{EventData, LiveData, LiveInfo, LiveStatus, Uuid};
use serde::{Deserialize, Serialize};

use crate::engine::{Shared, lock, publish, publish_event};

/// A session that was open when its state was last written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OpenSession {
    pub(crate) platform: String,
    pub(crate) channel: String,
    pub(crate) url: String,
    pub(crate) session_id: Uuid,
    /// RFC 3339.
    pub(crate) started_at: String,
    pub(crate) start_live_info: LiveInfo,
    pub(crate) live_info: LiveInfo,
    /// The part number the next recording of this session gets.
    pub(crate) next_part: u32,
    /// Unix time in milliseconds.
    pub(crate) last_live_at: i64,
    /// The session's `live_start` (its JSON) while it may not be in the
    /// outbox yet: the session is saved with it before it is published, so
    /// that a crash in between publishes it at the next start, under the
    /// same event id (the outbox keeps one copy of an id), rather than
    /// losing it or giving the session a second `live_start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending_live_start: Option<String>,
}

const FILE: &str = "open-sessions.json";

/// The key of a channel in the file.
pub(crate) fn key(platform: &str, channel: &str) -> String {
    format!("{platform}/{channel}")
}

pub(crate) fn load(state_dir: &Path) -> BTreeMap<String, OpenSession> {
    crate::state_file::load(state_dir, FILE, "list of open sessions")
}

fn save(shared: &Shared) {
    let sessions = lock(&shared.open_sessions).clone();
    crate::state_file::save(&shared.state_dir, FILE, &sessions, "open sessions");
}

pub(crate) fn upsert(shared: &Shared, session: OpenSession) {
    lock(&shared.open_sessions).insert(key(&session.platform, &session.channel), session);
    save(shared);
}

pub(crate) fn remove(shared: &Shared, key: &str) {
    if lock(&shared.open_sessions).remove(key).is_some() {
        save(shared);
    }
}

pub(crate) fn get(shared: &Shared, key: &str) -> Option<OpenSession> {
    lock(&shared.open_sessions).get(key).cloned()
}

/// Publishes the `live_start` of sessions saved just before a crash that
/// may have kept it from the outbox (see [`OpenSession::pending_live_start`]).
pub(crate) async fn announce_pending(shared: &Shared) {
    let pending: Vec<(String, String)> = lock(&shared.open_sessions)
        .iter()
        .filter_map(|(k, s)| Some((k.clone(), s.pending_live_start.clone()?)))
        .collect();
    for (key, json) in pending {
        match onelive_events::Event::from_json(json.as_bytes()) {
            Ok(event) => {
                tracing::info!(session = ?event.data.session_id(), "publishing the live_start saved before the last run ended");
                publish_event(shared, event).await;
            }
            Err(e) => tracing::error!(error = %e, %key, "unreadable saved live_start; dropped"),
        }
        let session = lock(&shared.open_sessions).get(&key).cloned();
        if let Some(s) = session {
            upsert(shared, OpenSession { pending_live_start: None, ..s });
        }
    }
}

/// How often a live session's `last_live_at` is written: half the debounce,
/// between 1 s and 60 s.
pub(crate) fn heartbeat(debounce: Duration) -> Duration {
    (debounce / 2).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

pub(crate) fn unix_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}

/// Ends the persisted sessions of channels that are not watched now
/// (removed from the config or disabled while the engine was down).
pub(crate) async fn end_unwatched(shared: &Shared, watched: &[String]) {
    let orphans: Vec<OpenSession> = lock(&shared.open_sessions)
        .iter()
        .filter(|(k, _)| !watched.contains(k))
        .map(|(_, s)| s.clone())
        .collect();
    for s in orphans {
        tracing::info!(platform = %s.platform, channel = %s.channel, session = %s.session_id, "ending the open session of a channel that is no longer watched");
        let mut info = s.live_info.clone();
        info.status = LiveStatus::Offline;
        publish(
            shared,
            EventData::LiveEnd(LiveData {
                platform: s.platform.clone(),
                channel: s.channel.clone(),
                url: s.url.clone(),
                live_info: info,
                session_id: Some(s.session_id),
            }),
        )
        .await;
        remove(shared, &key(&s.platform, &s.channel));
    }
}
