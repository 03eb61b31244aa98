//! Open sessions across restarts: each channel's open session (its id, the
//! `live_info` at its start and now, when it started, the next part number
//! and when the channel was last seen live) is an [`OpenSession`] in the
//! [store](crate::store), saved when a session starts, a part starts, the
//! metadata changes, it ends, and at most every heartbeat while live.
//!
//! At the next start a channel with a saved session resumes it (see
//! [`ChannelMachine::resume`](crate::ChannelMachine::resume)): live again
//! inside the debounce window continues the same session with the next part
//! and no new `live_start`; offline until the window closes gives its
//! `live_end`. A session whose channel is no longer watched ends at once.

use std::time::Duration;

use onelive_events::{EventData, LiveData, LiveStatus};

use crate::publisher::Publisher;
use crate::store::{OpenSession, Store, logged};

/// Publishes the `live_start` of sessions saved just before a crash that
/// may have kept it from the outbox (see [`OpenSession::pending_live_start`]).
pub(crate) async fn announce_pending(store: &Store, publisher: &Publisher) {
    let sessions = store.sessions().unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read the open sessions");
        Vec::new()
    });
    for s in sessions {
        let Some(json) = s.pending_live_start.clone() else { continue };
        match onelive_events::Event::from_json(json.as_bytes()) {
            Ok(event) => {
                tracing::info!(session = ?event.data.session_id(), "publishing the live_start saved before the last run ended");
                publisher.publish_event(event).await;
            }
            Err(e) => {
                tracing::error!(error = %e, platform = %s.platform, channel = %s.channel, "unreadable saved live_start; dropped")
            }
        }
        logged(store.save_session(&OpenSession { pending_live_start: None, ..s }));
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

/// Ends the saved sessions of channels that are not watched now (removed
/// from the config or disabled while the engine was down); `watched` holds
/// `(platform, channel)` pairs.
pub(crate) async fn end_unwatched(
    store: &Store,
    publisher: &Publisher,
    watched: &[(String, String)],
) {
    let sessions = store.sessions().unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read the open sessions");
        Vec::new()
    });
    for s in sessions {
        if watched.iter().any(|(p, c)| *p == s.platform && *c == s.channel) {
            continue;
        }
        tracing::info!(platform = %s.platform, channel = %s.channel, session = %s.session_id, "ending the open session of a channel that is no longer watched");
        let mut info = s.live_info.clone();
        info.status = LiveStatus::Offline;
        publisher
            .publish(EventData::LiveEnd(
                LiveData::new(s.platform.clone(), s.channel.clone(), s.url.clone(), info)
                    .with_session_id(Some(s.session_id)),
            ))
            .await;
        logged(store.end_session(&s.platform, &s.channel));
    }
}
