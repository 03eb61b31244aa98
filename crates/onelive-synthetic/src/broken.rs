//! A scripted HTTP-FLV origin that misbehaves like the CDNs do.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use onelive_stream::flv::{FlvReader, Item, Tag};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::origin::SyntheticError;

/// What the broken stream looks like. Two real encodes (ffmpeg, H.264 +
/// AAC, a keyframe every second) are spliced and damaged:
///
/// 1. connection 1 sends encode A; at 1/5 of it the timestamps jump
///    forward by 30 s, at 2/5 back by 20 s, at 3/5 they reset to 0; at 4/5
///    the connection breaks (the response is aborted mid-body);
/// 2. connection 2 (the recorder's reconnect) sends the FLV header and
///    sequence headers again, replays the last `replayed_tags` tags of
///    connection 1 with its own clock (+5 s), goes on with the rest of A,
///    then switches to encode B at another resolution (new sequence
///    headers), then ends cleanly;
/// 3. later connections get 404 (the stream is over).
#[derive(Debug, Clone, PartialEq)]
pub struct BrokenFlvOptions {
    /// Seconds of encode A.
    pub first_seconds: u32,
    /// Seconds of encode B.
    pub second_seconds: u32,
    /// Resolution of A.
    pub first_size: (u32, u32),
    /// Resolution of B.
    pub second_size: (u32, u32),
    /// Frames per second of both.
    pub fps: u32,
    /// Tags of connection 1 replayed by connection 2.
    pub replayed_tags: usize,
    /// Playback speed: 1.0 sends in real time, 4.0 four times faster.
    pub speed: f64,
    /// The ffmpeg executable.
    pub ffmpeg: PathBuf,
}

impl Default for BrokenFlvOptions {
    fn default() -> Self {
        BrokenFlvOptions {
            first_seconds: 6,
            second_seconds: 3,
            first_size: (320, 180),
            second_size: (640, 360),
            fps: 15,
            replayed_tags: 25,
            speed: 4.0,
            ffmpeg: PathBuf::from("ffmpeg"),
        }
    }
}

/// One tag to send, after `at` of stream time.
#[derive(Debug, Clone)]
struct Send {
    at: Duration,
    bytes: Bytes,
}

#[derive(Debug)]
struct Script {
    connections: Vec<(Vec<Send>, bool)>,
    served: AtomicUsize,
    speed: f64,
}

/// A running broken FLV origin on loopback. See [`BrokenFlvOptions`].
#[derive(Debug)]
pub struct BrokenFlvOrigin {
    addr: SocketAddr,
    script: Arc<Script>,
    video_frames: (usize, usize),
    token: CancellationToken,
    task: JoinHandle<()>,
}

impl BrokenFlvOrigin {
    /// Encodes the two parts with ffmpeg and starts serving on `127.0.0.1:0`.
    pub async fn start(options: BrokenFlvOptions) -> Result<Self, SyntheticError> {
        if options.first_seconds < 2
            || options.second_seconds == 0
            || options.fps == 0
            || options.speed <= 0.0
        {
            return Err(SyntheticError::InvalidOptions(
                "first_seconds must be at least 2, second_seconds, fps and speed above 0".into(),
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| SyntheticError::Io {
            context: "cannot create a temporary directory".into(),
            source: e,
        })?;
        let a =
            encode(&options, options.first_size, options.first_seconds, &dir.path().join("a.flv"))
                .await?;
        let b = encode(
            &options,
            options.second_size,
            options.second_seconds,
            &dir.path().join("b.flv"),
        )
        .await?;
        let (a_header, a_tags) = parse(&a)?;
        let (_, b_tags) = parse(&b)?;
        let count = |t: &[Tag]| {
            t.iter()
                .filter(|t| t.kind == onelive_stream::flv::TagKind::Video && t.is_media_frame())
                .count()
        };
        let video_frames = (count(&a_tags), count(&b_tags));
        let script = Arc::new(Script {
            connections: build(&options, &a_header, &a_tags, &b_tags),
            served: AtomicUsize::new(0),
            speed: options.speed,
        });

        let listener =
            TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.map_err(|e| {
                SyntheticError::Io { context: "cannot listen on 127.0.0.1".into(), source: e }
            })?;
        let addr = listener.local_addr().map_err(|e| SyntheticError::Io {
            context: "cannot read the listening address".into(),
            source: e,
        })?;
        let app = Router::new().route("/live/broken.flv", get(serve)).with_state(script.clone());
        let token = CancellationToken::new();
        let shutdown = token.clone();
        let task = tokio::spawn(async move {
            let _ =
                axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
        });
        Ok(BrokenFlvOrigin { addr, script, video_frames, token, task })
    }

    /// URL of the broken stream.
    pub fn url(&self) -> String {
        format!("http://{}/live/broken.flv", self.addr)
    }

    /// How many connections were answered with a stream so far.
    pub fn connections_served(&self) -> usize {
        self.script.served.load(Ordering::SeqCst).min(self.script.connections.len())
    }

    /// Video frames of encode A and of encode B: a perfect recording holds
    /// each exactly once.
    pub fn video_frames(&self) -> (usize, usize) {
        self.video_frames
    }
}

impl Drop for BrokenFlvOrigin {
    fn drop(&mut self) {
        self.token.cancel();
        self.task.abort();
    }
}

async fn encode(
    o: &BrokenFlvOptions,
    size: (u32, u32),
    secs: u32,
    out: &Path,
) -> Result<Vec<u8>, SyntheticError> {
    let gop = o.fps.to_string();
    let status = tokio::process::Command::new(&o.ffmpeg)
        .args(["-v", "error", "-y", "-nostdin", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={}x{}:rate={}", size.0, size.1, o.fps))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t"])
        .arg(secs.to_string())
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            &gop,
            "-keyint_min",
            &gop,
            "-sc_threshold",
            "0",
        ])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv"])
        .arg(out)
        .stdin(Stdio::null())
        .status()
        .await
        .map_err(|e| SyntheticError::Spawn {
            program: o.ffmpeg.display().to_string(),
            source: e,
        })?;
    if !status.success() {
        return Err(SyntheticError::NotReady(format!(
            "ffmpeg could not encode the broken stream ({status})"
        )));
    }
    tokio::fs::read(out).await.map_err(|e| SyntheticError::Io {
        context: format!("cannot read {}", out.display()),
        source: e,
    })
}

fn parse(bytes: &[u8]) -> Result<(Bytes, Vec<Tag>), SyntheticError> {
    let mut r = FlvReader::new();
    r.push(bytes);
    let mut header = Bytes::new();
    let mut tags = Vec::new();
    loop {
        match r.next_item() {
            Ok(Some(Item::Header(h))) => header = Bytes::copy_from_slice(&h.to_bytes()),
            Ok(Some(Item::Tag(t))) => tags.push(t),
            Ok(None) => break,
            Err(e) => {
                return Err(SyntheticError::NotReady(format!(
                    "ffmpeg wrote an unreadable FLV: {e}"
                )));
            }
        }
    }
    Ok((header, tags))
}

fn tag_bytes(t: &Tag, ts: i64) -> Bytes {
    let mut v = Vec::with_capacity(t.data.len() + 15);
    Tag { timestamp: ts.clamp(0, i64::from(u32::MAX)) as u32, ..t.clone() }.encode_into(&mut v);
    Bytes::from(v)
}

fn build(o: &BrokenFlvOptions, header: &Bytes, a: &[Tag], b: &[Tag]) -> Vec<(Vec<Send>, bool)> {
    let n = a.len();
    let at = |t: &Tag| Duration::from_millis(u64::from(t.timestamp));
    let offset = |i: usize| -> i64 {
        if i < n / 5 {
            0
        } else if i < 2 * n / 5 {
            30_000
        } else if i < 3 * n / 5 {
            10_000
        } else {
            -i64::from(a[3 * n / 5].timestamp)
        }
    };
    let cut = 4 * n / 5;
    let mut first = vec![Send { at: Duration::ZERO, bytes: header.clone() }];
    for (i, t) in a.iter().enumerate().take(cut + 1) {
        first.push(Send { at: at(t), bytes: tag_bytes(t, i64::from(t.timestamp) + offset(i)) });
    }
    let replay_start = at(&a[cut]);
    let mut second = vec![Send { at: replay_start, bytes: header.clone() }];
    for t in a.iter().filter(|t| t.is_sequence_header()) {
        second.push(Send { at: replay_start, bytes: tag_bytes(t, 0) });
    }
    // The new connection's clock: 5 s ahead of connection 1's reset clock.
    let clock = |i: usize, t: &Tag| i64::from(t.timestamp) + offset(i) + 5_000;
    for (i, t) in a.iter().enumerate().skip(cut + 1 - o.replayed_tags.min(cut)) {
        if t.is_sequence_header() || t.kind == onelive_stream::flv::TagKind::Script {
            continue;
        }
        second.push(Send { at: at(t).max(replay_start), bytes: tag_bytes(t, clock(i, t)) });
    }
    let a_end = a.last().map_or(0, |t| clock(n - 1, t));
    let b_start = a.last().map_or(Duration::ZERO, at);
    for t in b.iter().filter(|t| t.kind != onelive_stream::flv::TagKind::Script) {
        second.push(Send {
            at: b_start + at(t),
            bytes: tag_bytes(t, a_end + 40 + i64::from(t.timestamp)),
        });
    }
    vec![(first, true), (second, false)]
}

async fn serve(State(script): State<Arc<Script>>) -> Response {
    let i = script.served.fetch_add(1, Ordering::SeqCst);
    let Some((sends, abort)) = script.connections.get(i).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let speed = script.speed;
    let base = sends.first().map_or(Duration::ZERO, |s| s.at);
    let start = tokio::time::Instant::now();
    let stream = futures_util::stream::unfold(
        (sends.into_iter(), abort, false),
        move |(mut it, abort, done)| async move {
            if done {
                return None;
            }
            match it.next() {
                Some(s) => {
                    let due = start + (s.at.saturating_sub(base)).div_f64(speed);
                    tokio::time::sleep_until(due).await;
                    Some((Ok::<Bytes, std::io::Error>(s.bytes), (it, abort, false)))
                }
                None if abort => Some((
                    Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "scripted break")),
                    (it, abort, true),
                )),
                None => None,
            }
        },
    );
    (
        [(header::CONTENT_TYPE, "video/x-flv"), (header::CACHE_CONTROL, "no-cache")],
        Body::from_stream(stream),
    )
        .into_response()
}
