//! The chat client: one [`ChatProtocol`] per platform, driven by one runner
//! that owns the socket, the heartbeat, the reconnect backoff and the
//! bounded buffer.

use crate::buffer::DropOldest;
use crate::error::DanmakuError;
use crate::event::{ChatEvent, LiveSignal, Platform, Received};
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The WebSocket read chunk per connection.
const READ_BUFFER: usize = 8 * 1024;

/// One WebSocket message, as a protocol sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text message (Twitch IRC lines).
    Text(String),
    /// A binary message (Bilibili packets, Douyu STT packets).
    Binary(Vec<u8>),
}

/// Where to connect and what to send first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `ws://` or `wss://` URL.
    pub url: String,
    /// Frames sent right after the WebSocket handshake, in order (auth,
    /// login, join).
    pub handshake: Vec<Frame>,
}

/// What one received frame decoded to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decoded {
    /// Chat events, in the order the frame carried them.
    pub events: Vec<ChatEvent>,
    /// Frames to send back at once (Twitch `PONG`).
    pub replies: Vec<Frame>,
    /// Well-formed messages of a known kind whose fields were unusable
    /// (skipped and counted, the connection is kept).
    pub skipped: u64,
    /// The server asked the client to reconnect (Twitch `RECONNECT`).
    pub reconnect: Option<String>,
}

/// One platform's chat protocol: how to find the endpoint, what to send,
/// how to read what comes back. The socket, heartbeat timing, reconnects
/// and buffering are the runner's ([`ChatClient::spawn`]).
pub trait ChatProtocol: Send + 'static {
    /// The platform.
    fn platform(&self) -> Platform;
    /// The endpoint for connection attempt `attempt` (0, 1, …); may ask the
    /// platform's HTTP API (Bilibili's token and host list), and may rotate
    /// hosts by attempt.
    fn endpoint(
        &mut self,
        attempt: u32,
    ) -> impl Future<Output = Result<Endpoint, DanmakuError>> + Send;
    /// How often to send [`heartbeat`](Self::heartbeat).
    fn heartbeat_interval(&self) -> Duration;
    /// The keepalive frame.
    fn heartbeat(&self) -> Frame;
    /// Decodes one received frame into `out` (cleared by the caller). An
    /// error means the frame broke the protocol: the runner records it and
    /// reconnects.
    fn decode(&mut self, frame: &Frame, out: &mut Decoded) -> Result<(), DanmakuError>;
}

/// Runner settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Events buffered for a slow consumer before the oldest are dropped.
    pub buffer: usize,
    /// First reconnect delay; doubles per failed attempt.
    pub backoff_initial: Duration,
    /// Reconnect delay cap.
    pub backoff_max: Duration,
    /// Limit on the HTTP look-up plus the WebSocket handshake.
    pub connect_timeout: Duration,
    /// Reconnect when no frame arrives for this long; default: twice the
    /// heartbeat interval plus 15 s.
    pub silence_timeout: Option<Duration>,
    /// Largest WebSocket message accepted.
    pub max_message_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            buffer: 4096,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
            silence_timeout: None,
            max_message_bytes: 4 << 20,
        }
    }
}

/// Counters of one client, for logs, metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatStats {
    /// Connections that completed the WebSocket handshake.
    pub connections: u64,
    /// Whether a connection is up right now.
    pub connected: bool,
    /// Frames received.
    pub frames: u64,
    /// Events delivered into the buffer.
    pub events: u64,
    /// Events dropped because the consumer fell behind (drop-oldest).
    pub dropped: u64,
    /// Messages skipped for unusable fields.
    pub skipped: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// Connection attempts or connections that ended in an error.
    pub errors: u64,
    /// The last error, as text.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    connections: AtomicU64,
    connected: AtomicBool,
    frames: AtomicU64,
    events: AtomicU64,
    skipped: AtomicU64,
    heartbeats: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A running chat client. Dropping it stops the connection.
#[derive(Debug)]
pub struct ChatClient {
    platform: Platform,
    shared: Arc<Shared>,
    buffer: Arc<DropOldest<Received>>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The event stream of one [`ChatClient`] (single consumer).
#[derive(Debug)]
pub struct ChatEvents {
    buffer: Arc<DropOldest<Received>>,
}

impl ChatEvents {
    /// The next event; `None` once the client has stopped and the buffer is
    /// drained.
    pub async fn recv(&mut self) -> Option<Received> {
        self.buffer.pop().await
    }

    /// The next event if one is buffered.
    pub fn try_recv(&mut self) -> Option<Received> {
        self.buffer.try_pop()
    }

    /// Events waiting in the buffer.
    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The live/offline signals of one [`ChatClient`], for push detection.
/// Signals are rare; at most 64 wait unread, later ones are dropped (the
/// poll is the source of truth, a signal only triggers it early).
#[derive(Debug)]
pub struct LiveSignals {
    rx: mpsc::Receiver<LiveSignal>,
}

impl LiveSignals {
    /// The next signal; `None` once the client has stopped.
    pub async fn recv(&mut self) -> Option<LiveSignal> {
        self.rx.recv().await
    }
}

impl ChatClient {
    /// Starts `protocol` on the current tokio runtime. Returns the client
    /// (stats, stop), its event stream and its signal stream.
    pub fn spawn<P: ChatProtocol>(
        protocol: P,
        options: ClientOptions,
    ) -> Result<(ChatClient, ChatEvents, LiveSignals), DanmakuError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| DanmakuError::Invalid {
            what: "runtime",
            detail: format!("ChatClient::spawn needs a tokio runtime: {e}"),
        })?;
        let platform = protocol.platform();
        let shared = Arc::new(Shared::default());
        let buffer = Arc::new(DropOldest::new(options.buffer));
        let (stop, stop_rx) = watch::channel(false);
        let (signal_tx, signal_rx) = mpsc::channel(64);
        let runner = Runner {
            protocol,
            options,
            shared: shared.clone(),
            buffer: buffer.clone(),
            signals: signal_tx,
        };
        let task = runtime.spawn(runner.run(stop_rx));
        Ok((
            ChatClient { platform, shared, buffer: buffer.clone(), stop, task: Some(task) },
            ChatEvents { buffer },
            LiveSignals { rx: signal_rx },
        ))
    }

    /// The platform.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ChatStats {
        let s = &self.shared;
        ChatStats {
            connections: s.connections.load(Ordering::Relaxed),
            connected: s.connected.load(Ordering::Relaxed),
            frames: s.frames.load(Ordering::Relaxed),
            events: s.events.load(Ordering::Relaxed),
            dropped: self.buffer.dropped.load(Ordering::Relaxed),
            skipped: s.skipped.load(Ordering::Relaxed),
            heartbeats: s.heartbeats.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            last_error: s.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    /// Stops the client and waits for its task to end; the event stream
    /// then drains and ends.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ChatClient {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.buffer.close();
    }
}

struct Runner<P> {
    protocol: P,
    options: ClientOptions,
    shared: Arc<Shared>,
    buffer: Arc<DropOldest<Received>>,
    signals: mpsc::Sender<LiveSignal>,
}

impl<P: ChatProtocol> Runner<P> {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut backoff = self.options.backoff_initial;
        let mut attempt: u32 = 0;
        loop {
            let mut healthy = false;
            let result = tokio::select! {
                r = self.session(attempt, &mut healthy) => r,
                _ = stop.changed() => break,
            };
            self.shared.connected.store(false, Ordering::Relaxed);
            if let Err(e) = result {
                let platform = self.protocol.platform().as_str();
                tracing::warn!(platform, error = %e, "chat connection ended; reconnecting");
                self.shared.errors.fetch_add(1, Ordering::Relaxed);
                *self.shared.last_error.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(e.to_string());
            }
            if healthy {
                backoff = self.options.backoff_initial;
            }
            attempt = attempt.wrapping_add(1);
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => break,
            }
            backoff = (backoff * 2).min(self.options.backoff_max);
        }
        self.buffer.close();
    }

    async fn session(&mut self, attempt: u32, healthy: &mut bool) -> Result<(), DanmakuError> {
        let platform = self.protocol.platform().as_str();
        let timeout = self.options.connect_timeout;
        let endpoint = tokio::time::timeout(timeout, self.protocol.endpoint(attempt))
            .await
            .map_err(|_| DanmakuError::Http {
                platform,
                url: String::new(),
                detail: format!("endpoint look-up timed out after {} s", timeout.as_secs()),
            })??;
        let ws_err = |detail: String| DanmakuError::WebSocket {
            platform,
            url: endpoint.url.clone(),
            detail,
        };
        // tungstenite allocates its read buffer up front (128 KiB by
        // default) and lets writes gather in a 128 KiB buffer: most of an
        // idle connection's memory. Chat frames are small and the client
        // writes only heartbeats, so a small read chunk (it grows for a
        // large message) and eager writes cost nothing measurable.
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0)
            .max_message_size(Some(self.options.max_message_bytes))
            .max_frame_size(Some(self.options.max_message_bytes));
        let connect = tokio_tungstenite::connect_async_tls_with_config(
            endpoint.url.as_str(),
            Some(config),
            false,
            Some(tls_connector()),
        );
        let (ws, _) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| ws_err(format!("handshake timed out after {} s", timeout.as_secs())))?
            .map_err(|e| ws_err(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();
        for frame in &endpoint.handshake {
            sink.send(to_message(frame.clone()))
                .await
                .map_err(|e| ws_err(format!("sending handshake: {e}")))?;
        }
        self.shared.connections.fetch_add(1, Ordering::Relaxed);
        self.shared.connected.store(true, Ordering::Relaxed);

        let period = self.protocol.heartbeat_interval().max(Duration::from_millis(10));
        let silence = self.options.silence_timeout.unwrap_or(period * 2 + Duration::from_secs(15));
        let mut heartbeat = tokio::time::interval_at(Instant::now() + period, period);
        let mut deadline = Instant::now() + silence;
        let mut decoded = Decoded::default();
        loop {
            tokio::select! {
                _ = heartbeat.tick() => {
                    sink.send(to_message(self.protocol.heartbeat()))
                        .await
                        .map_err(|e| ws_err(format!("sending heartbeat: {e}")))?;
                    self.shared.heartbeats.fetch_add(1, Ordering::Relaxed);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(DanmakuError::Silent { platform, millis: silence.as_millis() });
                }
                message = stream.next() => {
                    let message = match message {
                        None => return Err(DanmakuError::Closed { platform, detail: "end of stream".into() }),
                        Some(Err(e)) => return Err(ws_err(e.to_string())),
                        Some(Ok(m)) => m,
                    };
                    deadline = Instant::now() + silence;
                    let at = std::time::Instant::now();
                    let frame = match message {
                        Message::Text(t) => Frame::Text(t.as_str().to_owned()),
                        Message::Binary(b) => Frame::Binary(b.to_vec()),
                        Message::Close(c) => {
                            let detail = c.map(|c| format!("close code {}: {}", u16::from(c.code), c.reason))
                                .unwrap_or_else(|| "close frame".into());
                            return Err(DanmakuError::Closed { platform, detail });
                        }
                        _ => continue,
                    };
                    self.shared.frames.fetch_add(1, Ordering::Relaxed);
                    decoded.events.clear();
                    decoded.replies.clear();
                    decoded.skipped = 0;
                    decoded.reconnect = None;
                    self.protocol.decode(&frame, &mut decoded)?;
                    *healthy = true;
                    for reply in decoded.replies.drain(..) {
                        sink.send(to_message(reply))
                            .await
                            .map_err(|e| ws_err(format!("sending reply: {e}")))?;
                    }
                    if decoded.skipped > 0 {
                        self.shared.skipped.fetch_add(decoded.skipped, Ordering::Relaxed);
                    }
                    for event in decoded.events.drain(..) {
                        if let ChatEvent::Signal { signal } = event {
                            let _ = self.signals.try_send(signal);
                        }
                        self.buffer.push(Received { at, event });
                        self.shared.events.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(detail) = decoded.reconnect.take() {
                        return Err(DanmakuError::Closed { platform, detail });
                    }
                }
            }
        }
    }
}

fn to_message(frame: Frame) -> Message {
    match frame {
        Frame::Text(t) => Message::text(t),
        Frame::Binary(b) => Message::binary(b),
    }
}

/// TLS for `wss://` with the system's roots and the aws-lc-rs provider, built
/// explicitly so no process-wide default provider is needed.
fn tls_connector() -> tokio_tungstenite::Connector {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .ok()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
    });
    match config {
        Some(c) => tokio_tungstenite::Connector::Rustls(c.clone()),
        None => tokio_tungstenite::Connector::Plain,
    }
}
