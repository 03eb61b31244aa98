//! The recorder as a library call: what `oneliverec run` does, for programs
//! that embed it (with their own platform adapters registered).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use onelive_platform::PlatformAdapter;

use crate::{Engine, EngineConfig, EngineError, api, wiring};

/// What [`run`] runs: the config file, custom platform adapters, and when
/// and how fast to stop.
///
/// ```no_run
/// # async fn demo(my_adapter: std::sync::Arc<dyn onelive_platform::PlatformAdapter>) {
/// let options = onelive_engine::RunOptions::new("oneliverec.toml")
///     .with_adapter(my_adapter)
///     .with_shutdown(async {
///         let _ = tokio::signal::ctrl_c().await;
///     });
/// let all_delivered = onelive_engine::run(options).await.unwrap();
/// # let _ = all_delivered; }
/// ```
pub struct RunOptions {
    /// The config file (`oneliverec.toml`); API changes are written back to it.
    pub config_path: PathBuf,
    /// Custom platform adapters, tried before the built-ins.
    pub adapters: Vec<Arc<dyn PlatformAdapter>>,
    /// Resolves when the recorder should stop (e.g. on SIGTERM); never, by default.
    pub shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// How long a graceful shutdown may take before undelivered events are
    /// left in the outbox for the next start (default 20 s).
    pub shutdown_timeout: Duration,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("config_path", &self.config_path)
            .field("adapters", &self.adapters.iter().map(|a| a.name()).collect::<Vec<_>>())
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl RunOptions {
    /// Runs `config_path` with the built-in adapters until the process ends.
    pub fn new(config_path: impl Into<PathBuf>) -> Self {
        RunOptions {
            config_path: config_path.into(),
            adapters: Vec::new(),
            shutdown: Box::pin(std::future::pending()),
            shutdown_timeout: Duration::from_secs(20),
        }
    }

    /// Registers a custom platform adapter: its URLs are accepted in the
    /// config, by the API and the web UI, and its channels are polled and
    /// recorded like the built-ins'.
    pub fn with_adapter(mut self, adapter: Arc<dyn PlatformAdapter>) -> Self {
        self.adapters.push(adapter);
        self
    }

    /// Stops gracefully when `signal` resolves.
    pub fn with_shutdown(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = Box::pin(signal);
        self
    }

    /// How long the graceful shutdown may take.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }
}

/// Loads and checks a config file exactly as [`run`] does before it starts
/// (the file's own validation, then [`wiring::check`] with the built-in and
/// `adapters`), without starting anything.
pub fn check_config(
    config_path: &Path,
    adapters: &[Arc<dyn PlatformAdapter>],
) -> Result<EngineConfig, EngineError> {
    let config = EngineConfig::load(config_path)?;
    let platforms = wiring::platforms(&config, adapters)?;
    wiring::check(&config, config_path, platforms.registry())?;
    Ok(config)
}

/// The recorder service: loads and checks the config, opens the webhook
/// outbox, serves the HTTP API (when `api.enabled`), watches and records
/// every channel, and when `options.shutdown` resolves stops gracefully
/// (recordings finalized, transmux jobs and undelivered events kept for
/// the next start). Returns true when every event was delivered.
///
/// It installs no signal handler: the caller decides what stops it.
pub async fn run(options: RunOptions) -> Result<bool, EngineError> {
    let RunOptions { config_path, adapters, shutdown, shutdown_timeout } = options;
    let config = EngineConfig::load(&config_path)?;
    let platforms = wiring::platforms(&config, &adapters)?;
    wiring::check(&config, &config_path, platforms.registry())?;
    let state_dir = config.state_dir(Some(&config_path));
    let parts = wiring::real_parts_with(&config, &state_dir, platforms).await?;
    let api_config = config.api.clone();
    let listener = if api_config.enabled {
        Some(tokio::net::TcpListener::bind(api_config.listen).await.map_err(|e| {
            EngineError::io(format!("cannot listen on {} (api.listen)", api_config.listen), e)
        })?)
    } else {
        None
    };
    let engine = Engine::start(config, Some(config_path), parts).await?;
    let (api_stop_tx, api_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let api_task = listener.map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "HTTP API listening");
        }
        tokio::spawn(api::serve(engine.clone(), listener, api_config.token.clone(), async {
            let _ = api_stop_rx.await;
        }))
    });
    shutdown.await;
    let _ = api_stop_tx.send(());
    let delivered = engine.shutdown(shutdown_timeout).await;
    if let Some(task) = api_task {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    tracing::info!(all_events_delivered = delivered, "stopped");
    Ok(delivered)
}
