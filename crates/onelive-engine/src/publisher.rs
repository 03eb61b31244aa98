//! The publisher: the one way an event leaves the engine. It redacts the
//! event, logs it, counts it, keeps it in the recent-events ring (the API's
//! `GET /api/events`) and hands it to the [`EventDelivery`] (the durable
//! webhook outbox). It also owns the counters behind `/metrics`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use onelive_events::{Event, EventData};

use crate::seams::EventDelivery;
use crate::sync::lock;

/// How many recent events the ring keeps.
pub(crate) const RECENT_EVENTS: usize = 200;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Channel status polls by platform and result (`live`, `offline`,
    /// `failed`, `rate_limited`).
    pub polls: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Recordings started, by platform.
    pub recordings_started: Mutex<BTreeMap<String, u64>>,
    /// Bytes of finished files.
    pub bytes_finished: AtomicU64,
    /// Files finished.
    pub files_finished: AtomicU64,
    /// Transmux jobs done.
    pub transmux_done: AtomicU64,
    /// Transmux jobs failed.
    pub transmux_failed: AtomicU64,
    /// Events published.
    pub events: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    /// Events published so far, by type.
    pub fn events_by_type(&self) -> BTreeMap<String, u64> {
        lock(&self.events).clone()
    }

    /// Counts one poll of a `platform` channel that ended with `result`.
    pub(crate) fn count_poll(&self, platform: &str, result: &'static str) {
        *lock(&self.polls).entry((platform.to_owned(), result)).or_default() += 1;
    }

    /// Counts one recording started on `platform`.
    pub(crate) fn count_recording_started(&self, platform: &str) {
        *lock(&self.recordings_started).entry(platform.to_owned()).or_default() += 1;
    }
}

/// Publishes events (see the [module](self) docs). Shared as an `Arc`.
pub(crate) struct Publisher {
    delivery: Arc<dyn EventDelivery>,
    counters: Counters,
    recent: Mutex<VecDeque<Event>>,
}

impl Publisher {
    pub(crate) fn new(delivery: Arc<dyn EventDelivery>) -> Publisher {
        Publisher { delivery, counters: Counters::default(), recent: Mutex::new(VecDeque::new()) }
    }

    /// The delivery side (the API lists and redelivers through it).
    pub(crate) fn delivery(&self) -> &Arc<dyn EventDelivery> {
        &self.delivery
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The last events published (at most [`RECENT_EVENTS`]), oldest first.
    pub(crate) fn recent(&self) -> Vec<Event> {
        lock(&self.recent).iter().cloned().collect()
    }

    pub(crate) async fn publish(&self, data: EventData) {
        self.publish_event(Event::new(data)).await;
    }

    /// Publishes an event built by the caller (whose id it may have saved:
    /// the outbox keeps one copy of each event id).
    pub(crate) async fn publish_event(&self, event: Event) {
        // Tokens in URLs (a direct stream's channel URL, a stream URL quoted in
        // an error) stay in the engine: nothing published carries a query string.
        let event = crate::redact::redact_event(event);
        let type_name = event.type_name().to_owned();
        match event.data.channel() {
            Some((platform, channel)) => {
                tracing::info!(event = %type_name, %platform, %channel, session = ?event.data.session_id(), "event")
            }
            None => tracing::info!(event = %type_name, "event"),
        }
        *lock(&self.counters.events).entry(type_name).or_default() += 1;
        {
            let mut recent = lock(&self.recent);
            if recent.len() >= RECENT_EVENTS {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        if let Err(e) = self.delivery.publish(&event).await {
            tracing::error!(error = %e, event = %event.type_name(), "event could not be queued for delivery");
        }
    }
}
