//! Hands a stream URL and its request headers to ffmpeg without putting
//! them on ffmpeg's command line.
//!
//! Every local user can read a process's arguments (`ps`, `/proc/PID/cmdline`),
//! and stream URLs carry tokens and signatures in their query strings, and
//! `Cookie`/`Authorization` headers carry logins. ffmpeg 5 can read neither
//! `-i` nor `-headers` from a file, so the recorder gives it
//! `http://127.0.0.1:PORT/<random>` instead. That address answers once:
//! after ffmpeg has been sent on, it answers nothing but 410 Gone, so the
//! address read from `ps` is worth nothing.
//!
//! - Without headers ([`Handoff::start`]), the one answer is a redirect to
//!   the real URL; ffmpeg keeps the real URL for its reconnects and
//!   playlist reloads.
//! - With headers ([`Handoff::proxy`]), the one answer is a redirect to a
//!   second random path (never on a command line) where a loopback proxy
//!   fetches the real URL with the headers added. A playlist's URIs
//!   (segments, variants, keys, init sections) are rewritten to proxy
//!   addresses too, so every HLS request carries the headers; the proxy
//!   fetches only the stream URL and URIs of playlists it has served, so
//!   it cannot be used to send the headers elsewhere.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::RecordingConfig;

/// How long the handoff waits for ffmpeg's request.
const WAIT: Duration = Duration::from_secs(60);
/// The most bytes of a request head read.
const MAX_HEAD: usize = 16 * 1024;

/// A one-shot redirect to a URL, on loopback. Dropping it closes the port.
#[derive(Debug)]
pub(crate) struct Handoff {
    local: String,
    task: JoinHandle<()>,
}

impl Handoff {
    /// Starts answering `local_url()` with a redirect to `target`.
    pub(crate) async fn start(target: &str) -> std::io::Result<Handoff> {
        // The Location header must be one line: a URL with CR/LF is refused.
        if target.contains(['\r', '\n']) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "stream URL contains a line break",
            ));
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let path = format!("/{}", uuid::Uuid::new_v4().simple());
        let local = format!("http://{}{path}", listener.local_addr()?);
        let target = target.to_owned();
        let task = tokio::spawn(async move {
            let _ = tokio::time::timeout(WAIT, serve(listener, path, target)).await;
        });
        Ok(Handoff { local, task })
    }

    /// The URL to give ffmpeg.
    pub(crate) fn local_url(&self) -> &str {
        &self.local
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, path: String, target: String) {
    let mut sent = false;
    loop {
        let Ok((mut conn, _)) = listener.accept().await else { return };
        let head = match tokio::time::timeout(Duration::from_secs(5), read_head(&mut conn)).await {
            Ok(Some(head)) => head,
            _ => continue,
        };
        let requested = head.split(' ').nth(1).unwrap_or("");
        let answer = if !sent && requested == path {
            sent = true;
            format!(
                "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        } else {
            "HTTP/1.1 410 Gone\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
        };
        let _ = conn.write_all(answer.as_bytes()).await;
        let _ = conn.shutdown().await;
    }
}

/// The request line, once the whole head has arrived.
async fn read_head(conn: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_HEAD {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    text.lines().next().map(str::to_owned)
}

/// Whether the recording's requests go through [`Handoff::proxy`]: when it
/// has request headers (then ffmpeg gets neither `-headers` nor
/// `-user_agent`).
pub(crate) fn proxied(cfg: &RecordingConfig) -> bool {
    !cfg.source.headers.is_empty()
}

/// The largest playlist the proxy rewrites.
const MAX_PLAYLIST: usize = 8 * 1024 * 1024;
/// Proxied URIs remembered; beyond, the least recently used half is dropped.
const MAX_URIS: usize = 8192;

impl Handoff {
    /// Starts a loopback proxy that fetches the source's URL with its
    /// headers; `local_url()` redirects (once) into it.
    pub(crate) async fn proxy(cfg: &RecordingConfig) -> std::io::Result<Handoff> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let entry = format!("/{}", uuid::Uuid::new_v4().simple());
        let session = format!("/{}", uuid::Uuid::new_v4().simple());
        let local = format!("{origin}{entry}");
        let state = Arc::new(Proxy {
            origin,
            entry,
            session,
            spent: AtomicBool::new(false),
            cfg: cfg.clone(),
            redactor: crate::redact::Redactor::new(&cfg.source.url, &cfg.source.headers),
            uris: Mutex::new(Uris::default()),
        });
        let app = axum::Router::new().fallback(proxy_request).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Handoff { local, task })
    }
}

struct Proxy {
    /// `http://127.0.0.1:PORT`.
    origin: String,
    /// The path on ffmpeg's command line (answers once).
    entry: String,
    /// The secret prefix of proxied paths.
    session: String,
    spent: AtomicBool,
    cfg: RecordingConfig,
    redactor: crate::redact::Redactor,
    uris: Mutex<Uris>,
}

/// URIs of served playlists, by number, with their last use.
#[derive(Default)]
struct Uris {
    by_id: HashMap<u64, (String, u64)>,
    by_uri: HashMap<String, u64>,
    next: u64,
    clock: u64,
}

impl Uris {
    fn id(&mut self, uri: &str) -> u64 {
        self.clock += 1;
        if let Some(&id) = self.by_uri.get(uri) {
            if let Some(entry) = self.by_id.get_mut(&id) {
                entry.1 = self.clock;
            }
            return id;
        }
        if self.by_id.len() >= MAX_URIS {
            let mut uses: Vec<u64> = self.by_id.values().map(|(_, used)| *used).collect();
            uses.sort_unstable();
            let cut = uses[uses.len() / 2];
            self.by_id.retain(|_, (_, used)| *used > cut);
            let by_id = &self.by_id;
            self.by_uri.retain(|_, id| by_id.contains_key(id));
        }
        self.next += 1;
        self.by_id.insert(self.next, (uri.to_owned(), self.clock));
        self.by_uri.insert(uri.to_owned(), self.next);
        self.next
    }

    fn get(&mut self, id: u64) -> Option<String> {
        self.clock += 1;
        let entry = self.by_id.get_mut(&id)?;
        entry.1 = self.clock;
        Some(entry.0.clone())
    }
}

fn empty(status: StatusCode) -> Response {
    (status, [(header::CONTENT_LENGTH, "0")]).into_response()
}

async fn proxy_request(State(p): State<Arc<Proxy>>, request: Request) -> Response {
    let path = request.uri().path();
    if path == p.entry {
        if p.spent.swap(true, Ordering::SeqCst) {
            return empty(StatusCode::GONE);
        }
        let location = format!("{}{}/s", p.origin, p.session);
        return (StatusCode::FOUND, [(header::LOCATION, location)]).into_response();
    }
    let Some(rest) = path.strip_prefix(p.session.as_str()) else {
        return empty(StatusCode::GONE);
    };
    let url = if rest == "/s" {
        Some(p.cfg.source.url.clone())
    } else {
        rest.strip_prefix("/u/")
            .and_then(|r| r.split('/').next())
            .and_then(|id| id.parse().ok())
            .and_then(|id| p.uris.lock().ok()?.get(id))
    };
    let Some(url) = url else { return empty(StatusCode::NOT_FOUND) };
    let range = request.headers().get(header::RANGE).cloned();
    forward(&p, &url, range).await
}

async fn forward(p: &Proxy, url: &str, range: Option<axum::http::HeaderValue>) -> Response {
    let Ok(mut req) = crate::native::http::request(&p.cfg.source, url) else {
        return empty(StatusCode::BAD_GATEWAY);
    };
    if let Some(range) = range {
        req = req.header(header::RANGE, range);
    }
    let shown = p.redactor.redact(url);
    let failure = match tokio::time::timeout(p.cfg.io_timeout, req.send()).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(crate::native::http::describe(&shown, &e, &p.redactor)),
        Err(_) => Err(format!("no answer from {shown} in {} s", p.cfg.io_timeout.as_secs_f64())),
    };
    let resp = match failure {
        Ok(r) => r,
        // ffmpeg prints the status line, so the cause goes into its reason
        // phrase (redacted), and ffmpeg reconnects when told to.
        Err(why) => {
            let mut response = empty(StatusCode::BAD_GATEWAY);
            let phrase: String = format!("Bad Gateway ({why})")
                .chars()
                .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
                .collect();
            if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(phrase.into_bytes()) {
                response.extensions_mut().insert(phrase);
            }
            return response;
        }
    };
    let status = resp.status();
    if !status.is_success() {
        return empty(StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY));
    }
    let base = resp.url().clone();
    let mut kept = axum::http::HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::CONTENT_RANGE] {
        if let Some(v) = resp.headers().get(name.as_str())
            && let Ok(v) = axum::http::HeaderValue::from_bytes(v.as_bytes())
        {
            kept.insert(name, v);
        }
    }
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::OK);
    let mut stream = resp.bytes_stream();
    // Enough of the body to tell a playlist from media.
    let mut head = Vec::new();
    while head.len() < 7 {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(_)) => return empty(StatusCode::BAD_GATEWAY),
            None => break,
        }
    }
    if head.starts_with(b"#EXTM3U") {
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { return empty(StatusCode::BAD_GATEWAY) };
            head.extend_from_slice(&chunk);
            if head.len() > MAX_PLAYLIST {
                return empty(StatusCode::BAD_GATEWAY);
            }
        }
        let text = String::from_utf8_lossy(&head);
        let body = rewrite_playlist(&text, &base, |uri| p.proxied_uri(uri));
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/vnd.apple.mpegurl")], body)
            .into_response();
    }
    let first =
        futures_util::stream::once(
            async move { Ok::<_, reqwest::Error>(bytes::Bytes::from(head)) },
        );
    let mut response = Body::from_stream(first.chain(stream)).into_response();
    *response.status_mut() = status;
    *response.headers_mut() = kept;
    response
}

impl Proxy {
    /// The proxy address of an absolute URI from a playlist.
    fn proxied_uri(&self, uri: &url::Url) -> String {
        let Ok(mut uris) = self.uris.lock() else { return uri.to_string() };
        let id = uris.id(uri.as_str());
        // The last path segment stays, for ffmpeg's checks of extensions.
        let name = uri.path_segments().and_then(|mut s| s.next_back()).unwrap_or("");
        let name = if name.is_empty() { "x" } else { name };
        format!("{}{}/u/{id}/{name}", self.origin, self.session)
    }
}

/// A playlist with each URI (URI lines and `URI="..."` attributes) resolved
/// against `base` and replaced by `proxied(uri)`. Non-HTTP URIs (`data:`,
/// `skd://`) and unparseable ones are left as they are.
fn rewrite_playlist(
    text: &str,
    base: &url::Url,
    mut proxied: impl FnMut(&url::Url) -> String,
) -> String {
    let mut map = |uri: &str| -> String {
        match base.join(uri.trim()) {
            Ok(abs) if matches!(abs.scheme(), "http" | "https") => proxied(&abs),
            _ => uri.to_owned(),
        }
    };
    let mut out = String::with_capacity(text.len() + 1024);
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
        } else if trimmed.starts_with('#') {
            let mut rest = line;
            while let Some(at) = rest.find("URI=\"") {
                let (before, after) = rest.split_at(at + 5);
                out.push_str(before);
                let Some(end) = after.find('"') else {
                    rest = after;
                    break;
                };
                out.push_str(&map(&after[..end]));
                rest = &after[end..];
            }
            out.push_str(rest);
        } else {
            out.push_str(&map(trimmed));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(url: &str) -> String {
        let addr = url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
        let path = &url[url.find(&addr).unwrap() + addr.len()..];
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        conn.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn answers_once_with_the_target_then_gone() {
        let h = Handoff::start("https://cdn.example/live.flv?token=abc").await.unwrap();
        assert!(!h.local_url().contains("abc"));
        let wrong = format!("{}x", h.local_url());
        assert!(get(&wrong).await.starts_with("HTTP/1.1 410"), "a guessed path gets nothing");
        let first = get(h.local_url()).await;
        assert!(first.starts_with("HTTP/1.1 302"), "{first}");
        assert!(first.contains("\r\nLocation: https://cdn.example/live.flv?token=abc\r\n"));
        let second = get(h.local_url()).await;
        assert!(second.starts_with("HTTP/1.1 410"), "{second}");
        assert!(Handoff::start("http://x/\r\nSet-Cookie: a").await.is_err());
    }

    #[test]
    fn playlist_uris_and_uri_attributes_are_rewritten() {
        let base = url::Url::parse("https://cdn.example/live/index.m3u8?sign=abc").unwrap();
        let text = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x1\n\
                    #EXT-X-MAP:URI=\"/init.mp4\"\n#EXTINF:2.0,\nseg1.ts?t=1\n\n\
                    #EXTINF:2.0,\nhttps://other.example/seg2.ts\n\
                    #EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd://key\"\n";
        let mut seen = Vec::new();
        let out = rewrite_playlist(text, &base, |u| {
            seen.push(u.to_string());
            format!("P{}", seen.len())
        });
        assert_eq!(
            seen,
            [
                "https://cdn.example/live/key.bin",
                "https://cdn.example/init.mp4",
                "https://cdn.example/live/seg1.ts?t=1",
                "https://other.example/seg2.ts",
            ]
        );
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"P1\",IV=0x1\n#EXT-X-MAP:URI=\"P2\"\n\
             #EXTINF:2.0,\nP3\n\n#EXTINF:2.0,\nP4\n#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd://key\"\n"
        );
    }

    #[test]
    fn remembered_uris_are_bounded_and_recently_used_ones_stay() {
        let mut uris = Uris::default();
        let playlist = uris.id("https://cdn.example/index.m3u8");
        for i in 0..3 * MAX_URIS {
            uris.id(&format!("https://cdn.example/seg{i}.ts"));
            if i % 100 == 0 {
                assert!(uris.get(playlist).is_some(), "the playlist in use was dropped");
            }
        }
        assert!(uris.by_id.len() <= MAX_URIS && uris.by_uri.len() <= MAX_URIS);
        assert_eq!(uris.get(1).as_deref(), Some("https://cdn.example/index.m3u8"));
        assert_eq!(uris.get(2), None, "the oldest segment is forgotten");
    }
}
