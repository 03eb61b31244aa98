//! Hands a stream URL to ffmpeg without putting it on ffmpeg's command line.
//!
//! Every local user can read a process's arguments (`ps`, `/proc/PID/cmdline`),
//! and stream URLs carry tokens and signatures in their query strings. ffmpeg
//! 5 cannot read `-i` from a file, so the recorder gives it
//! `http://127.0.0.1:PORT/<random>` instead and answers the first request for
//! that path with a redirect to the real URL. ffmpeg follows it and keeps the
//! real URL for its reconnects and playlist reloads. The address answers once:
//! after ffmpeg has been sent on, it answers nothing but 410 Gone, so the
//! address read from `ps` is worth nothing.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

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
}
