//! The assembled sink: configuration, store, HTTP router and job workers.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use onelive_events::{Event, EventData, EventType};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};

use crate::auth::Authenticator;
use crate::config::{ActionConfig, RuleConfig, SinkConfig};
use crate::paths::PathPolicy;
use crate::progress::{LogProgress, ProgressReporter};
use crate::store::{Job, JobStore, NewStep, now_ms};
use crate::{Error, Result, actions};

/// How the sink is started, besides its configuration.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Allow starting with no authentication at all (`--insecure-no-auth`).
    pub insecure_no_auth: bool,
    /// Where upload progress goes; default: periodic log lines.
    pub progress: Option<Arc<dyn ProgressReporter>>,
    /// Folder that relative paths are resolved against; default: the
    /// working directory.
    pub base_dir: Option<PathBuf>,
}

pub(crate) struct Inner {
    pub(crate) config: SinkConfig,
    pub(crate) auth: Authenticator,
    pub(crate) policy: PathPolicy,
    pub(crate) store: JobStore,
    pub(crate) notify: Notify,
    /// Memory for request bodies being read, in KiB.
    pub(crate) body_budget: Semaphore,
    rules: Vec<(RuleConfig, Vec<EventType>)>,
    /// Whether file events of sessions are stored for `merge`.
    pub(crate) keeps_session_files: bool,
    client: reqwest::Client,
    progress: Arc<dyn ProgressReporter>,
}

/// The event sink: receives webhooks, stores their jobs, runs them.
///
/// ```no_run
/// use onelive_sink::{Sink, SinkOptions, config::SinkConfig};
///
/// # async fn run() -> Result<(), onelive_sink::Error> {
/// let config = SinkConfig::from_file("sink.toml".as_ref())?;
/// let listener = tokio::net::TcpListener::bind(config.server.listen).await
///     .map_err(|e| onelive_sink::Error::Server(e.to_string()))?;
/// let sink = Sink::new(config, SinkOptions::default())?;
/// // Serve until the shutdown future completes (e.g. on Ctrl-C in a binary).
/// sink.serve(listener, std::future::pending::<()>()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sink {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// The path of the file an event is about, as received.
pub(crate) fn event_file(event: &Event) -> Option<&str> {
    event.data.file_path()
}

impl Inner {
    /// `(rule, action index, action)` of every action selected by `event`.
    pub(crate) fn matching_actions(&self, event: &Event) -> Vec<(&RuleConfig, u32, &ActionConfig)> {
        let Some(t) = event.event_type() else { return Vec::new() };
        let (platform, channel) = event.data.channel().unwrap_or(("", ""));
        let mut out = Vec::new();
        for (rule, types) in &self.rules {
            if !types.contains(&t) {
                continue;
            }
            if !rule.platforms.is_empty() && !rule.platforms.iter().any(|p| p == platform) {
                continue;
            }
            if !rule.channels.is_empty() && !rule.channels.iter().any(|c| c == channel) {
                continue;
            }
            for (i, action) in rule.actions.iter().enumerate() {
                out.push((rule, u32::try_from(i).unwrap_or(u32::MAX), action));
            }
        }
        out
    }
}

impl Sink {
    /// Validates the configuration, opens the job store and prepares the
    /// router. Fails with [`Error::NoAuth`] if no authentication is
    /// configured and `options.insecure_no_auth` is not set.
    pub fn new(config: SinkConfig, options: SinkOptions) -> Result<Self> {
        config.validate()?;
        if config.auth.is_empty() && !options.insecure_no_auth {
            return Err(Error::NoAuth);
        }
        let base = match options.base_dir {
            Some(b) => b,
            None => std::env::current_dir()
                .map_err(|e| Error::Config(format!("cannot read the working directory: {e}")))?,
        };
        let auth = Authenticator::new(&config.auth)?;
        let policy = PathPolicy::new(&config.paths, &base)?;
        let store = JobStore::open(&base.join(&config.store.path))?;
        let rules = config
            .rules
            .iter()
            .map(|r| (r.clone(), r.events.iter().filter_map(|e| e.parse().ok()).collect()))
            .collect();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let progress = options.progress.unwrap_or_else(|| {
            Arc::new(LogProgress::new(
                Duration::try_from_secs_f64(config.jobs.progress_interval_secs)
                    .unwrap_or(Duration::from_secs(10)),
            ))
        });
        let body_budget = Semaphore::new(config.server.body_memory_limit / 1024);
        let mut keeps_session_files = false;
        for (rule, action) in
            config.rules.iter().flat_map(|r| r.actions.iter().map(move |a| (r, a)))
        {
            if let ActionConfig::Merge(m) = action {
                keeps_session_files = true;
                let who = format!("rule {:?} (merge)", rule.name);
                crate::merge::check_program(&m.ffmpeg, "-version", &who)?;
                crate::merge::check_program(&m.ffprobe, "-version", &who)?;
            }
            if let ActionConfig::Rclone(r) = action {
                crate::merge::check_program(
                    &r.rclone,
                    "version",
                    &format!("rule {:?} (rclone)", rule.name),
                )?;
            }
        }
        for (name, action) in &config.actions {
            if let ActionConfig::Rclone(r) = action {
                crate::merge::check_program(
                    &r.rclone,
                    "version",
                    &format!("[actions.{name}] (rclone)"),
                )?;
            }
        }
        Ok(Sink {
            inner: Arc::new(Inner {
                config,
                auth,
                policy,
                store,
                notify: Notify::new(),
                body_budget,
                rules,
                keeps_session_files,
                client,
                progress,
            }),
        })
    }

    /// The job store.
    pub fn store(&self) -> &JobStore {
        &self.inner.store
    }

    /// The axum router with the webhook route. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so that the IP
    /// allowlist sees client addresses. [`Sink::serve`] adds what a plain
    /// `axum::serve` lacks: connection limits and the header-read timeout.
    pub fn router(&self) -> axum::Router {
        crate::server::router(Arc::clone(&self.inner))
    }

    /// Resumes jobs interrupted by a crash and starts the job workers.
    pub fn start_workers(&self) -> Result<tokio::task::JoinHandle<()>> {
        let recovered = self.inner.store.recover_interrupted()?;
        if recovered > 0 {
            tracing::info!("resuming {recovered} job(s) interrupted by a restart");
        }
        let inner = Arc::clone(&self.inner);
        Ok(tokio::spawn(worker_loop(inner)))
    }

    /// Starts the workers and serves the webhook route on `listener` until
    /// `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let workers = self.start_workers()?;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(
                "onelive-sink listening on http://{addr}{}",
                self.inner.config.server.path
            );
        }
        let server = &self.inner.config.server;
        let limits = onelive_listen::Limits {
            max_connections: server.max_connections,
            max_connections_per_ip: server.max_connections_per_ip,
            header_timeout: Duration::try_from_secs_f64(server.header_timeout_secs)
                .unwrap_or(Duration::from_secs(10)),
            max_header_bytes: server.max_header_bytes,
            exempt: self.inner.config.auth.trusted_proxies.clone(),
        };
        let result = onelive_listen::serve(listener, self.router(), limits, shutdown)
            .await
            .map_err(|e| Error::Server(e.to_string()));
        workers.abort();
        result
    }
}

async fn blocking<T: Send + 'static>(
    inner: &Arc<Inner>,
    f: impl FnOnce(&JobStore) -> Result<T> + Send + 'static,
) -> Result<T> {
    let store = inner.store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| Error::Store { path: inner.store.path().to_owned(), reason: e.to_string() })?
}

async fn worker_loop(inner: Arc<Inner>) {
    let slots = Arc::new(Semaphore::new(inner.config.jobs.concurrency));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { return };
        match blocking(&inner, JobStore::claim_due).await {
            Ok(Some(job)) => {
                let inner = Arc::clone(&inner);
                tokio::spawn(async move {
                    run_job(&inner, job).await;
                    drop(permit);
                    inner.notify.notify_one();
                });
            }
            Ok(None) => {
                drop(permit);
                let next = blocking(&inner, JobStore::next_due_ms).await.ok().flatten();
                let wait_ms = next.map_or(1000, |at| (at - now_ms()).clamp(0, 1000));
                let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(1000));
                tokio::select! {
                    () = inner.notify.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
            Err(e) => {
                drop(permit);
                tracing::error!("job store: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn run_job(inner: &Arc<Inner>, job: Job) {
    let id = job.id;
    tracing::info!(
        "job {id}: {} ({}) attempt {}/{} for event {}",
        job.rule,
        job.action_kind,
        job.attempts,
        job.max_attempts,
        job.event_id
    );
    let started = std::time::Instant::now();
    let outcome = attempt(inner, &job).await;
    let took = started.elapsed();
    let record = match outcome {
        Ok((result, produced)) => {
            // One step per produced file (a merge may make several), else
            // one on this job's file.
            let files: Vec<Option<String>> = if produced.is_empty() {
                vec![job.file.clone()]
            } else {
                produced.into_iter().map(Some).collect()
            };
            let mut steps = Vec::new();
            for name in find_action(inner, &job).map(|a| a.then().to_vec()).unwrap_or_default() {
                let Some(step) = inner.config.actions.get(&name) else { continue };
                for file in &files {
                    steps.push(NewStep {
                        action_kind: step.kind().to_owned(),
                        file: file.clone(),
                        max_attempts: step.retry().attempts,
                        step: name.clone(),
                        after: step.after().to_vec(),
                    });
                }
            }
            if steps.is_empty() {
                tracing::info!("job {id} done: {result}");
            } else {
                let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
                tracing::info!("job {id} done: {result}; next: {}", names.join(", "));
            }
            crate::metrics::job_attempt(&job.action_kind, "done", took);
            blocking(inner, move |s| s.mark_done(id, &result, &steps)).await
        }
        Err((e, retryable)) => {
            let message = e.to_string();
            let retry_at = if retryable && job.attempts < job.max_attempts {
                let delay = find_action(inner, &job)
                    .map(|a| a.retry().delay_after(job.attempts))
                    .unwrap_or(Duration::from_secs(10));
                tracing::warn!(
                    "job {id} attempt {}/{} failed: {message}; retrying in {:.1}s",
                    job.attempts,
                    job.max_attempts,
                    delay.as_secs_f64()
                );
                crate::metrics::job_attempt(&job.action_kind, "retry", took);
                Some(now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2))
            } else {
                tracing::error!("job {id} failed after {} attempt(s): {message}", job.attempts);
                crate::metrics::job_attempt(&job.action_kind, "failed", took);
                None
            };
            blocking(inner, move |s| s.mark_attempt_failed(id, &message, retry_at)).await
        }
    };
    if let Err(e) = record {
        tracing::error!("job {id}: cannot record the outcome: {e}");
    }
}

/// The configured action a job runs: a rule's action, or a named chain step.
fn find_action<'a>(inner: &'a Inner, job: &Job) -> Option<&'a ActionConfig> {
    match &job.step {
        Some(step) => inner.config.actions.get(step),
        None => inner
            .rules
            .iter()
            .find(|(r, _)| r.name == job.rule)
            .and_then(|(r, _)| r.actions.get(job.action_index as usize)),
    }
}

/// One attempt: its output and, if it made one, the file it produced (the
/// next steps' file). The error says whether another attempt could help.
async fn attempt(inner: &Arc<Inner>, job: &Job) -> Result<(String, Vec<String>), (Error, bool)> {
    let event_id = job.event_id.clone();
    let body = blocking(inner, move |s| s.event_body(&event_id))
        .await
        .map_err(|e| (e, true))?
        .ok_or_else(|| {
            (Error::Action(format!("event {} is missing from the store", job.event_id)), false)
        })?;
    let event = Event::from_json(body.as_bytes())
        .map_err(|e| (Error::Action(format!("stored event {}: {e}", job.event_id)), false))?;
    let action =
        find_action(inner, job).filter(|a| a.kind() == job.action_kind).ok_or_else(|| {
            let msg = match &job.step {
                Some(step) => format!(
                    "there is no {} action [actions.{step}] any more (configuration changed)",
                    job.action_kind
                ),
                None => format!(
                    "rule {:?} has no {} action #{} any more (configuration changed)",
                    job.rule, job.action_kind, job.action_index
                ),
            };
            (Error::Action(msg), false)
        })?;
    // Confinement is checked again: the file may have changed since the event.
    let file = match (&job.file, action.uses_file()) {
        (Some(f), true) => Some(inner.policy.resolve(f).map_err(|e| (e, true))?),
        _ => None,
    };
    let result = match action {
        ActionConfig::Pixeldrain(c) => {
            let Some(file) = &file else {
                return Err((Error::Action("pixeldrain: the event carries no file".into()), false));
            };
            actions::pixeldrain(&inner.client, c, file, inner.progress.as_ref()).await
        }
        ActionConfig::Exec(c) => {
            let output = actions::exec(c, &event, &body, file.as_deref(), job.input.as_deref())
                .await
                .map_err(|e| (e, true))?;
            // A program that prints a path made a file: the next steps take it.
            let produced = output.printed.filter(|p| p.starts_with('/'));
            return Ok((output.summary, produced.into_iter().collect()));
        }
        ActionConfig::Notify(c) => {
            let shown = file.as_ref().map(|f| f.to_string_lossy().into_owned());
            let ctx = template_context(inner, job, &event, shown.as_deref()).await;
            crate::notify::send(&inner.client, c, &ctx, &event).await
        }
        ActionConfig::Rclone(c) => {
            let Some(file) = &file else {
                return Err((Error::Action("rclone: the event carries no file".into()), false));
            };
            crate::rclone::upload(c, file, inner.progress.as_ref()).await
        }
        ActionConfig::S3(c) => {
            let Some(file) = &file else {
                return Err((Error::Action("s3: the event carries no file".into()), false));
            };
            let shown = file.to_string_lossy();
            let ctx = template_context(inner, job, &event, Some(&shown)).await;
            let key = crate::s3::object_key(&c.key, &ctx).map_err(|e| (e, false))?;
            return crate::s3::upload(&inner.client, c, file, &key, inner.progress.as_ref())
                .await
                .map(|url| (url, Vec::new()));
        }
        ActionConfig::Merge(c) => {
            let parts = session_parts(inner, &event, c).await?;
            let merged = crate::merge::merge(c, &parts).await.map_err(|e| (e, true))?;
            return Ok((merged.summary, merged.files));
        }
        ActionConfig::Forward(c) => {
            let shown = file.as_ref().map(|f| f.to_string_lossy().into_owned());
            actions::forward(
                &inner.client,
                c,
                &event,
                &body,
                shown.as_deref().or(job.file.as_deref()),
                job.input.as_deref(),
            )
            .await
        }
    };
    result.map(|r| (r, Vec::new())).map_err(|e| (e, true))
}

/// What `notify` messages and `s3` keys see: the event's values, the
/// previous step's output, the earlier steps' outputs (`steps`, oldest
/// first) and, for a fan-in step, the outputs it waited for (`after`, by
/// step name; `previous` is then those outputs, one a line).
async fn template_context(
    inner: &Arc<Inner>,
    job: &Job,
    event: &Event,
    file: Option<&str>,
) -> serde_json::Value {
    let steps = earlier_outputs(inner, job).await;
    let after: Option<serde_json::Map<String, serde_json::Value>> = if job.after.is_empty() {
        None
    } else {
        job.input.as_deref().and_then(|i| serde_json::from_str(i).ok())
    };
    let previous = after
        .as_ref()
        .map(|a| a.values().filter_map(serde_json::Value::as_str).collect::<Vec<_>>().join("\n"));
    let previous = previous.as_deref().or(job.input.as_deref());
    let mut ctx = crate::notify::context(event, file.or(job.file.as_deref()), previous, &steps);
    ctx["after"] = serde_json::Value::Object(after.unwrap_or_default());
    ctx
}

/// The outputs of the steps before `job` in its chain, oldest first.
async fn earlier_outputs(inner: &Arc<Inner>, job: &Job) -> Vec<String> {
    let mut steps = Vec::new();
    let mut parent = job.parent_id;
    while let Some(id) = parent {
        let Ok(p) = blocking(inner, move |s| s.job(id)).await else { break };
        steps.insert(0, p.result.clone().unwrap_or_default());
        parent = p.parent_id;
    }
    steps
}

/// The files of `event`'s live session in part order, confined. An attempt
/// fails (to be retried) while a recorded part has no transmuxed file yet.
async fn session_parts(
    inner: &Arc<Inner>,
    event: &Event,
    config: &crate::config::MergeConfig,
) -> Result<Vec<PathBuf>, (Error, bool)> {
    let Some(session) = event.data.session_id() else {
        let e = Error::Action(
            "merge: the live_end carries no session_id, so its parts are unknown".into(),
        );
        return Err((e, false));
    };
    let session = session.to_string();
    let rows = blocking(inner, move |s| s.session_files(&session)).await.map_err(|e| (e, true))?;
    let mut recorded = Vec::new();
    let mut transmuxed = Vec::new();
    for (_, body) in &rows {
        let Ok(e) = Event::from_json(body.as_bytes()) else { continue };
        match e.data {
            EventData::VideoFileFinish(d) => recorded.push(d.path),
            EventData::VideoTransmuxFinish(d) => transmuxed.push((d.input, d.output)),
            _ => {}
        }
    }
    let chosen: Vec<String> = if !config.transmuxed {
        recorded
    } else if recorded.is_empty() {
        transmuxed.into_iter().map(|(_, o)| o).collect()
    } else {
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for path in &recorded {
            match transmuxed.iter().find(|(i, _)| i == path) {
                Some((_, o)) => out.push(o.clone()),
                None => missing.push(path.as_str()),
            }
        }
        if !missing.is_empty() {
            let e = Error::Action(format!(
                "merge: waiting for the transmux of {} part(s): {}",
                missing.len(),
                missing.join(", ")
            ));
            return Err((e, true));
        }
        out
    };
    if chosen.is_empty() {
        return Err((
            Error::Action("merge: no file events were received for this session".into()),
            true,
        ));
    }
    chosen.iter().map(|p| inner.policy.resolve(p).map_err(|e| (e, true))).collect()
}
