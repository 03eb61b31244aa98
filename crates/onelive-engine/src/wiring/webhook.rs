//! [`EventDelivery`] over onelive-webhook's durable [`Dispatcher`].

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use onelive_events::Event;
use onelive_webhook::{Dispatcher, DispatcherConfig, Endpoint};
use tokio::sync::RwLock;

use crate::EngineError;
use crate::config::WebhookConfig;
use crate::seams::{DeliveryRecord, DeliveryStats, EventDelivery};

/// The webhook outbox (`outbox.sqlite` in the state folder) and its workers.
pub struct WebhookDelivery {
    dispatcher: RwLock<Option<Dispatcher>>,
}

impl std::fmt::Debug for WebhookDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDelivery").finish_non_exhaustive()
    }
}

fn werr(e: onelive_webhook::Error) -> EngineError {
    match e {
        onelive_webhook::Error::UnknownEndpoint(id) => {
            EngineError::NotFound(format!("webhook {id}"))
        }
        onelive_webhook::Error::UnknownDelivery(id) => {
            EngineError::NotFound(format!("delivery {id}"))
        }
        onelive_webhook::Error::InvalidEndpoint { .. } | onelive_webhook::Error::Secret(_) => {
            EngineError::Invalid(e.to_string())
        }
        other => EngineError::Webhook(other),
    }
}

/// The dispatcher's endpoint for a configured webhook.
pub fn endpoint_of(w: &WebhookConfig) -> Result<Endpoint, EngineError> {
    let id = w.id.clone().unwrap_or_else(|| "webhook".into());
    let mut e = Endpoint::new(id, w.url.clone()).with_enabled(w.enabled);
    if !w.events.is_empty() {
        e = e.with_event_types(w.events.iter().copied());
    }
    // `secret` first, then the rotation's other secrets: one signature each.
    for secret in w.secret.iter().chain(&w.secrets).filter(|s| !s.is_empty()) {
        e = e.with_secret_text(secret.expose()).map_err(werr)?;
    }
    for (name, value) in &w.headers {
        e = e.with_header(name.clone(), value.expose().to_owned());
    }
    Ok(e)
}

impl WebhookDelivery {
    /// Opens (or creates) `state_dir/outbox.sqlite`; undelivered events of
    /// an earlier run are delivered again.
    pub async fn open(state_dir: &Path) -> Result<Self, EngineError> {
        Self::open_with(DispatcherConfig::new(state_dir.join("outbox.sqlite"))).await
    }

    /// Opens with a custom dispatcher configuration (retry schedule, SSRF policy).
    pub async fn open_with(config: DispatcherConfig) -> Result<Self, EngineError> {
        let dispatcher = Dispatcher::open(config).await.map_err(werr)?;
        Ok(WebhookDelivery { dispatcher: RwLock::new(Some(dispatcher)) })
    }
}

#[async_trait]
impl EventDelivery for WebhookDelivery {
    async fn publish(&self, event: &Event) -> Result<(), EngineError> {
        let guard = self.dispatcher.read().await;
        let d = guard.as_ref().ok_or(EngineError::Webhook(onelive_webhook::Error::Closed))?;
        d.enqueue(event).await.map_err(werr)?;
        Ok(())
    }

    async fn set_endpoints(&self, endpoints: &[WebhookConfig]) -> Result<(), EngineError> {
        let list = endpoints.iter().map(endpoint_of).collect::<Result<Vec<_>, _>>()?;
        let guard = self.dispatcher.read().await;
        let d = guard.as_ref().ok_or(EngineError::Webhook(onelive_webhook::Error::Closed))?;
        d.sync_endpoints(list).await.map_err(werr)
    }

    async fn send_test(&self, endpoint: &WebhookConfig) -> Result<String, EngineError> {
        let e = endpoint_of(endpoint)?;
        let guard = self.dispatcher.read().await;
        let d = guard.as_ref().ok_or(EngineError::Webhook(onelive_webhook::Error::Closed))?;
        let outcome = d.send_test_to(&e).await.map_err(werr)?;
        Ok(match (outcome.success, outcome.status, outcome.error) {
            (true, Some(s), _) => {
                format!("delivered: HTTP {s} in {} ms", outcome.latency.as_millis())
            }
            (true, None, _) => "delivered".into(),
            (false, Some(s), _) => format!("refused: HTTP {s}: {}", outcome.body_excerpt),
            (false, None, Some(err)) => format!("failed: {err}"),
            (false, None, None) => "failed".into(),
        })
    }

    async fn recent(
        &self,
        webhook_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, EngineError> {
        let guard = self.dispatcher.read().await;
        let d = guard.as_ref().ok_or(EngineError::Webhook(onelive_webhook::Error::Closed))?;
        let ids: Vec<String> = match webhook_id {
            Some(id) => vec![id.to_owned()],
            None => d.endpoints().into_iter().map(|e| e.id).collect(),
        };
        let mut all = Vec::new();
        for id in ids {
            all.extend(d.deliveries(&id, limit).await.map_err(werr)?);
        }
        all.sort_by_key(|r| std::cmp::Reverse(r.id));
        all.truncate(limit);
        Ok(all)
    }

    async fn redeliver(&self, delivery_id: &str) -> Result<(), EngineError> {
        let id: i64 = delivery_id
            .parse()
            .map_err(|_| EngineError::NotFound(format!("delivery {delivery_id}")))?;
        let guard = self.dispatcher.read().await;
        let d = guard.as_ref().ok_or(EngineError::Webhook(onelive_webhook::Error::Closed))?;
        d.redeliver(id).await.map_err(werr)
    }

    async fn flush(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pending = match self.dispatcher.read().await.as_ref() {
                Some(d) => d.pending(),
                None => return false,
            };
            if pending == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stats(&self) -> DeliveryStats {
        match self.dispatcher.read().await.as_ref() {
            Some(d) => d.stats().await.unwrap_or_default(),
            None => DeliveryStats::default(),
        }
    }

    async fn close(&self) {
        if let Some(d) = self.dispatcher.write().await.take() {
            match d.shutdown(Duration::from_secs(2)).await {
                Ok(report) if report.pending > 0 => {
                    tracing::warn!(
                        pending = report.pending,
                        "webhook deliveries kept in the outbox for the next start"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "closing the webhook outbox failed"),
            }
        }
    }
}
