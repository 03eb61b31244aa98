//! `live_start` and the saved session are one durable step (issue 16,
//! item 10): a recorder killed after the `live_start` reached the outbox
//! but before anything else happened does not announce the session twice
//! after a restart.
//!
//! The kill is exact: a delivery wrapper stops the engine inside the
//! publication of `live_start`, right after the real outbox (SQLite)
//! committed it; the state folder is copied as it is on disk at that
//! moment, which is what `kill -9` would leave, and a second engine starts
//! on the copy with a real outbox.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use onelive_engine::seams::{DeliveryRecord, DeliveryStats, EventDelivery};
use onelive_engine::wiring::WebhookDelivery;
use onelive_engine::{Engine, EngineError, EngineParts, WebhookConfig};
use onelive_events::Event;

use crate::engine_flow::config;
use crate::fakes::{Fakes, wait_for};

/// The real outbox; publishing `live_start` commits it, then never returns.
struct FreezeAfterLiveStart {
    inner: WebhookDelivery,
    frozen: Arc<AtomicBool>,
}

#[async_trait]
impl EventDelivery for FreezeAfterLiveStart {
    async fn publish(&self, event: &Event) -> Result<(), EngineError> {
        self.inner.publish(event).await?;
        if event.type_name() == "live_start" {
            self.frozen.store(true, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        Ok(())
    }
    async fn set_endpoints(&self, endpoints: &[WebhookConfig]) -> Result<(), EngineError> {
        self.inner.set_endpoints(endpoints).await
    }
    async fn send_test(&self, endpoint: &WebhookConfig) -> Result<String, EngineError> {
        self.inner.send_test(endpoint).await
    }
    async fn recent(
        &self,
        webhook_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, EngineError> {
        self.inner.recent(webhook_id, limit).await
    }
    async fn redeliver(&self, delivery_id: &str) -> Result<(), EngineError> {
        self.inner.redeliver(delivery_id).await
    }
    async fn flush(&self, timeout: Duration) -> bool {
        self.inner.flush(timeout).await
    }
    async fn stats(&self) -> DeliveryStats {
        self.inner.stats().await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

fn with_webhook(dir: &Path) -> onelive_engine::EngineConfig {
    let mut c = config(dir, &["ivan"]);
    // A receiver that is down: deliveries stay in the outbox, where the test counts them.
    c.webhooks = vec![WebhookConfig {
        id: Some("down".into()),
        url: "http://127.0.0.1:9/hook".into(),
        events: Vec::new(),
        secret: None,
        secrets: Vec::new(),
        headers: Default::default(),
        enabled: true,
    }];
    c
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

async fn deliveries_of(delivery: &dyn EventDelivery, event_type: &str) -> usize {
    let recent = delivery.recent(None, 1000).await.unwrap();
    recent.iter().filter(|d| d.event_type == event_type).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_right_after_live_start_reached_the_outbox_does_not_duplicate_it() {
    let first = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let frozen = Arc::new(AtomicBool::new(false));
    std::fs::create_dir_all(first.path().join("state")).unwrap();
    let delivery = FreezeAfterLiveStart {
        inner: WebhookDelivery::open(&first.path().join("state")).await.unwrap(),
        frozen: frozen.clone(),
    };
    let parts = EngineParts { delivery: Arc::new(delivery), ..f.parts() };
    let _frozen_engine = Engine::start(with_webhook(first.path()), None, parts).await.unwrap();
    f.source.live("ivan", "t", "c");
    wait_for("live_start in the outbox", Duration::from_secs(20), || frozen.load(Ordering::SeqCst))
        .await;
    // "kill -9" here: what is on disk now is all the next start has.
    let second = tempfile::tempdir().unwrap();
    copy_dir(&first.path().join("state"), &second.path().join("state"));

    let g = Fakes::new();
    g.source.live("ivan", "t", "c");
    let outbox = Arc::new(WebhookDelivery::open(&second.path().join("state")).await.unwrap());
    let parts = EngineParts { delivery: outbox.clone(), ..g.parts() };
    let engine = Engine::start(with_webhook(second.path()), None, parts).await.unwrap();
    // The channel is still live: the session goes on and records.
    wait_for("a recording after the restart", Duration::from_secs(20), || {
        !g.recorder.started.lock().unwrap().is_empty()
    })
    .await;
    let outbox_ref: &dyn EventDelivery = outbox.as_ref();
    let mut created = 0;
    // Up to 60 s: a loaded 2-core machine can be slow to restart the engine.
    for _ in 0..1200 {
        created = deliveries_of(outbox_ref, "video_file_create").await;
        if created > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(created, 1, "video_file_create after the restart");
    assert_eq!(deliveries_of(outbox_ref, "live_start").await, 1, "live_start queued once");
    assert_eq!(deliveries_of(outbox_ref, "app_launch").await, 2);
    let session = engine.channels()[0].view.session_id;
    assert!(session.is_some());
    engine.shutdown(Duration::from_millis(500)).await;
}
