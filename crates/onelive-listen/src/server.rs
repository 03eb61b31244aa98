//! The accept loop: connection limits, the header-read timeout, and JSON
//! bodies on the error answers hyper writes itself.
//!
//! `axum::serve` has neither a connection limit nor a header-read timeout,
//! so one client sending a byte a second holds a connection (and a file
//! descriptor) forever. This loop serves each connection with hyper's HTTP/1
//! server directly:
//!
//! - at most `max_connections` at once, and at most `max_connections_per_ip`
//!   per client address (beyond that, a new connection is closed at once);
//!   trusted proxies are exempt from the per-address limit. When all
//!   `max_connections` are taken, a new connection makes room by closing the
//!   connection that has been idle longest (one that is not inside a
//!   request: a head still trickling in, or a kept-alive connection between
//!   requests); only when every connection is inside a request does it wait.
//!   Without this, connections that never finish their head (slowloris) fill
//!   every slot and a legitimate client waits for a header timeout;
//! - the whole request head must arrive within `header_timeout`, which also
//!   bounds how long a kept-alive connection may wait for its next request;
//! - error answers that hyper writes on its own (400 for a malformed request,
//!   414, 431) get the same JSON body as every other answer.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, TryAcquireError, watch};
use tower::ServiceExt;

use crate::Error;

/// The limits the loop enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; beyond that, a new connection closes the
    /// longest-idle one (not inside a request), or waits if there is none.
    /// Default 1024.
    pub max_connections: usize,
    /// Connections from one client address at once; beyond that, a new
    /// connection is closed at once. Default 64.
    pub max_connections_per_ip: usize,
    /// Time for a whole request head to arrive, and the longest a kept-alive
    /// connection may wait for its next request. Default 10 s.
    pub header_timeout: Duration,
    /// The largest request head, in bytes (431 beyond). Default 16 KiB.
    pub max_header_bytes: usize,
    /// Client networks exempt from `max_connections_per_ip` (trusted
    /// reverse proxies). Default none.
    pub exempt: Vec<IpNet>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_connections_per_ip: 64,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            exempt: Vec::new(),
        }
    }
}

impl Limits {
    /// Checks that the limits can be enforced.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::InvalidLimits(what.to_owned()));
        if self.max_connections == 0 || self.max_connections > Semaphore::MAX_PERMITS {
            return bad("max_connections must be between 1 and 2^61");
        }
        if self.max_connections_per_ip == 0 {
            return bad("max_connections_per_ip must be at least 1");
        }
        if self.header_timeout.is_zero() {
            return bad("header_timeout must be more than zero");
        }
        if self.max_header_bytes < 1024 {
            return bad("max_header_bytes must be at least 1024");
        }
        Ok(())
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

impl PerIp {
    fn try_add(&self, ip: IpAddr, max: usize) -> bool {
        let Ok(mut map) = self.0.lock() else { return true };
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    fn remove(&self, ip: IpAddr) {
        if let Ok(mut map) = self.0.lock()
            && let Some(n) = map.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}

/// One open connection, as the eviction sees it.
#[derive(Debug)]
struct Conn {
    /// Requests in progress (their answer not yet written whole).
    busy: AtomicUsize,
    /// When the connection last became idle (accepted, or an answer
    /// finished), in nanoseconds since the loop started.
    idle_since: AtomicU64,
    /// Set (and `evict` notified) when the connection is to make room.
    evicted: AtomicBool,
    evict: Notify,
}

/// The open connections, to find the longest-idle one.
#[derive(Debug)]
struct Open {
    epoch: Instant,
    next_id: AtomicU64,
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

impl Open {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn add(&self) -> (u64, Arc<Conn>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now()),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        });
        if let Ok(mut map) = self.conns.lock() {
            map.insert(id, Arc::clone(&conn));
        }
        (id, conn)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut map) = self.conns.lock() {
            map.remove(&id);
        }
    }

    /// Asks the connection idle longest to close; false if every open
    /// connection is inside a request (or already asked).
    fn evict_longest_idle(&self) -> bool {
        let Ok(map) = self.conns.lock() else { return false };
        let victim = map
            .values()
            .filter(|c| c.busy.load(Ordering::SeqCst) == 0 && !c.evicted.load(Ordering::SeqCst))
            .min_by_key(|c| c.idle_since.load(Ordering::SeqCst));
        match victim {
            Some(c) => {
                c.evicted.store(true, Ordering::SeqCst);
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Marks a connection busy while a request is answered (until its body is
/// written whole).
struct Busy {
    conn: Arc<Conn>,
    open: Arc<Open>,
}

impl Busy {
    fn new(conn: &Arc<Conn>, open: &Arc<Open>) -> Self {
        conn.busy.fetch_add(1, Ordering::SeqCst);
        Busy { conn: Arc::clone(conn), open: Arc::clone(open) }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.conn.idle_since.store(self.open.now(), Ordering::SeqCst);
        self.conn.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its connection marked busy until it is done.
struct BusyBody {
    inner: axum::body::Body,
    _busy: Busy,
}

impl hyper::body::Body for BusyBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open
/// connections finish their current request.
///
/// Each request carries the client address as
/// `axum::extract::ConnectInfo<SocketAddr>`. Fails only when `limits` are
/// invalid (see [`Limits::validate`]); accept errors (such as running out of
/// file descriptors) are logged and retried.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    limits.validate()?;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes)
        // Flat writes, so an automatic error answer reaches `JsonErrors` whole.
        .writev(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refused_logged = 0u64;
    let mut accept_errors = 0u64;
    let mut evictions = 0u64;
    let open = Arc::new(Open {
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        conns: Mutex::new(BTreeMap::new()),
    });
    loop {
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and the like: log (not every time) and back off a little.
                    accept_errors += 1;
                    if accept_errors.is_power_of_two() {
                        tracing::warn!("accept failed ({accept_errors} time(s) so far): {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let ip = peer.ip();
        let counted = !limits.exempt.iter().any(|n| n.contains(&ip));
        if counted && !per_ip.try_add(ip, limits.max_connections_per_ip) {
            refused_logged += 1;
            if refused_logged.is_power_of_two() {
                tracing::warn!(
                    "refused a connection from {ip}: it already has {} open \
                     (server.max_connections_per_ip; {refused_logged} refused so far)",
                    limits.max_connections_per_ip
                );
            }
            drop(stream);
            continue;
        }
        // A slot: free, or made by closing the longest-idle connection, or
        // (every connection inside a request) the next to finish.
        let permit = loop {
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(p) => break Some(p),
                Err(TryAcquireError::Closed) => break None,
                Err(TryAcquireError::NoPermits) => {}
            }
            if open.evict_longest_idle() {
                evictions += 1;
                if evictions.is_power_of_two() {
                    tracing::warn!(
                        "all {} connections in use: closed the longest-idle one to make room \
                         ({evictions} so far; server.max_connections)",
                        limits.max_connections
                    );
                }
            }
            tokio::select! {
                p = Arc::clone(&slots).acquire_owned() => break p.ok(),
                // An evicted connection may have become busy meanwhile: look again.
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                () = &mut shutdown => break None,
            }
        };
        let Some(permit) = permit else {
            if counted {
                per_ip.remove(ip);
            }
            break;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let builder = builder.clone();
        let per_ip = Arc::clone(&per_ip);
        let mut stop = stop_rx.clone();
        let open = Arc::clone(&open);
        tokio::spawn(async move {
            let (id, me) = open.add();
            let service = {
                let (me, open) = (Arc::clone(&me), Arc::clone(&open));
                hyper::service::service_fn(move |mut request| {
                    request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                    let busy = Busy::new(&me, &open);
                    let router = router.clone();
                    async move {
                        let response = router.oneshot(request).await?;
                        Ok::<_, std::convert::Infallible>(
                            response.map(|inner| BusyBody { inner, _busy: busy }),
                        )
                    }
                })
            };
            let conn = builder.serve_connection(TokioIo::new(JsonErrors::new(stream)), service);
            let mut conn = std::pin::pin!(conn);
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let mut stopped = std::pin::pin!(stopped);
            let result = loop {
                tokio::select! {
                    r = conn.as_mut() => break r,
                    () = stopped.as_mut() => {
                        conn.as_mut().graceful_shutdown();
                        break conn.await;
                    }
                    () = me.evict.notified() => {
                        if me.busy.load(Ordering::SeqCst) == 0 {
                            // Dropping the connection closes it.
                            tracing::debug!("closed the idle connection from {peer} to make room");
                            break Ok(());
                        }
                        me.evicted.store(false, Ordering::SeqCst);
                    }
                }
            };
            open.remove(id);
            if let Err(e) = result {
                tracing::debug!("connection from {peer}: {e}");
            }
            if counted {
                per_ip.remove(ip);
            }
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    // Wait until every connection has finished (each holds a permit).
    let total = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(total).await;
    Ok(())
}

/// Wraps a connection so that the bodiless error answers hyper writes on
/// its own (a status of 400 or more with `content-length: 0`; a router's own
/// answers are expected to have a body) carry a JSON body,
/// `{"status": "error", "error": "<reason phrase>"}`.
#[derive(Debug)]
struct JsonErrors<IO> {
    io: IO,
    /// A replacement being written: bytes, how many are written, and the
    /// length of the original buffer to report once done.
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<IO> JsonErrors<IO> {
    fn new(io: IO) -> Self {
        JsonErrors { io, pending: None }
    }
}

/// The JSON version of a bodiless automatic error answer, or `None` if
/// `head` is anything else.
fn json_error_answer(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ").or_else(|| text.strip_prefix("HTTP/1.0 "))?;
    let block = rest.strip_suffix("\r\n\r\n")?;
    let mut lines = block.split("\r\n");
    let status_line = lines.next()?;
    let code: u16 = status_line.get(..3)?.parse().ok()?;
    if code < 400 {
        return None;
    }
    let mut kept = Vec::new();
    let mut empty_body = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            if value.trim() != "0" {
                return None;
            }
            empty_body = true;
        } else if !name.eq_ignore_ascii_case("content-type")
            && !name.eq_ignore_ascii_case("connection")
        {
            kept.push(line);
        }
    }
    if !empty_body {
        return None;
    }
    let reason = status_line.get(4..).unwrap_or("error").to_ascii_lowercase();
    let body = serde_json::json!({ "status": "error", "error": reason }).to_string();
    let mut out = format!("HTTP/1.1 {status_line}\r\n");
    for line in kept {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("content-type: application/json\r\nconnection: close\r\n");
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    Some(out.into_bytes())
}

impl<IO: AsyncRead + Unpin> AsyncRead for JsonErrors<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for JsonErrors<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none()
            && buf.starts_with(b"HTTP/1.")
            && let Some(replacement) = json_error_answer(buf)
        {
            this.pending = Some((replacement, 0, buf.len()));
        }
        let Some((bytes, written, original)) = this.pending.as_mut() else {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        };
        while *written < bytes.len() {
            match Pin::new(&mut this.io).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let original = *original;
        this.pending = None;
        Poll::Ready(Ok(original))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::json_error_answer;

    #[test]
    fn bodiless_error_answers_get_a_json_body() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\
                     date: Wed, 02 Dec 2026 16:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(json_error_answer(head).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{head}");
        assert!(head.contains("date: Wed, 02 Dec 2026"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["status"], "error");
        assert_eq!(v["error"], "request header fields too large");
    }

    #[test]
    fn answers_with_a_body_or_success_are_untouched() {
        assert!(json_error_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(
            json_error_answer(b"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\n").is_none()
        );
        assert!(json_error_answer(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n").is_none());
        assert!(json_error_answer(b"garbage").is_none());
    }
}
