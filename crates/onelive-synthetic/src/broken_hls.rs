//! A scripted live HLS origin that misbehaves like the CDNs do.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::origin::SyntheticError;

/// What the broken HLS stream looks like. Two real encodes (ffmpeg, 1 s
/// MPEG-TS segments) are served as a live playlist that moves on one segment
/// every `1/speed` seconds and lists the last three:
///
/// - segment `missing_segment` of encode A answers 404 every time;
/// - after segment `jump_after`, the playlist's media sequence jumps ahead
///   by two: those two segments are never listed (lost by the origin);
/// - encode B (another resolution) follows after `EXT-X-DISCONTINUITY`;
/// - then `#EXT-X-ENDLIST`.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokenHlsOptions {
    /// Segments (seconds) of encode A.
    pub first_segments: u32,
    /// Segments (seconds) of encode B.
    pub second_segments: u32,
    /// Index in A of the segment that answers 404.
    pub missing_segment: u32,
    /// Index in A after which two segments are skipped.
    pub jump_after: u32,
    /// Playback speed (1.0: real time).
    pub speed: f64,
    /// The ffmpeg executable.
    pub ffmpeg: PathBuf,
}

impl Default for BrokenHlsOptions {
    fn default() -> Self {
        BrokenHlsOptions {
            first_segments: 10,
            second_segments: 3,
            missing_segment: 3,
            jump_after: 5,
            speed: 2.0,
            ffmpeg: PathBuf::from("ffmpeg"),
        }
    }
}

#[derive(Debug)]
struct Seg {
    sequence: u64,
    name: String,
    duration: f64,
    discontinuity: bool,
    missing: bool,
}

#[derive(Debug)]
struct Script {
    dir: PathBuf,
    segments: Vec<Seg>,
    start: Instant,
    speed: f64,
}

/// A running broken HLS origin on loopback. See [`BrokenHlsOptions`].
#[derive(Debug)]
pub struct BrokenHlsOrigin {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    token: CancellationToken,
    task: JoinHandle<()>,
    served: (u32, u32),
}

impl BrokenHlsOrigin {
    /// Encodes the streams with ffmpeg and starts serving on `127.0.0.1:0`.
    pub async fn start(o: BrokenHlsOptions) -> Result<Self, SyntheticError> {
        if o.first_segments < 4
            || o.second_segments == 0
            || o.missing_segment >= o.first_segments
            || o.jump_after + 3 >= o.first_segments
            || o.speed <= 0.0
        {
            return Err(SyntheticError::InvalidOptions(
                "need at least 4 segments in A, the 404 and the jump inside A, speed above 0"
                    .into(),
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| SyntheticError::Io {
            context: "cannot create a temporary directory".into(),
            source: e,
        })?;
        let a = encode(&o.ffmpeg, dir.path(), "a", "320x180", o.first_segments).await?;
        let b = encode(&o.ffmpeg, dir.path(), "b", "480x270", o.second_segments).await?;
        let mut segments = Vec::new();
        let mut sequence = 0;
        for (i, (name, duration)) in a.into_iter().enumerate() {
            let i = i as u32;
            if i > o.jump_after && i <= o.jump_after + 2 {
                sequence += 1;
                continue;
            }
            segments.push(Seg {
                sequence,
                name,
                duration,
                discontinuity: false,
                missing: i == o.missing_segment,
            });
            sequence += 1;
        }
        for (i, (name, duration)) in b.into_iter().enumerate() {
            segments.push(Seg { sequence, name, duration, discontinuity: i == 0, missing: false });
            sequence += 1;
        }
        let served = (o.first_segments - 3, o.second_segments);
        let script = Arc::new(Script {
            dir: dir.path().to_path_buf(),
            segments,
            start: Instant::now(),
            speed: o.speed,
        });
        let listener =
            TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.map_err(|e| {
                SyntheticError::Io { context: "cannot listen on 127.0.0.1".into(), source: e }
            })?;
        let addr = listener.local_addr().map_err(|e| SyntheticError::Io {
            context: "cannot read the listening address".into(),
            source: e,
        })?;
        let app = Router::new().route("/live/{file}", get(serve)).with_state(script);
        let token = CancellationToken::new();
        let shutdown = token.clone();
        let task = tokio::spawn(async move {
            let _ =
                axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
        });
        Ok(BrokenHlsOrigin { addr, _dir: dir, token, task, served })
    }

    /// URL of the media playlist.
    pub fn url(&self) -> String {
        format!("http://{}/live/broken.m3u8", self.addr)
    }

    /// Segments of A and of B a recording can get (A without the 404 one
    /// and the two skipped by the jump).
    pub fn recordable_segments(&self) -> (u32, u32) {
        self.served
    }
}

impl Drop for BrokenHlsOrigin {
    fn drop(&mut self) {
        self.token.cancel();
        self.task.abort();
    }
}

async fn encode(
    ffmpeg: &Path,
    dir: &Path,
    name: &str,
    size: &str,
    secs: u32,
) -> Result<Vec<(String, f64)>, SyntheticError> {
    let playlist = dir.join(format!("{name}.m3u8"));
    let status = tokio::process::Command::new(ffmpeg)
        .args(["-v", "error", "-y", "-nostdin", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=15"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t"])
        .arg(secs.to_string())
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "15",
            "-keyint_min",
            "15",
            "-sc_threshold",
            "0",
        ])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k"])
        .args(["-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod", "-hls_segment_filename"])
        .arg(dir.join(format!("{name}%03d.ts")))
        .arg(&playlist)
        .stdin(Stdio::null())
        .status()
        .await
        .map_err(|e| SyntheticError::Spawn { program: ffmpeg.display().to_string(), source: e })?;
    if !status.success() {
        return Err(SyntheticError::NotReady(format!(
            "ffmpeg could not encode the HLS stream ({status})"
        )));
    }
    let text = tokio::fs::read_to_string(&playlist).await.map_err(|e| SyntheticError::Io {
        context: format!("cannot read {}", playlist.display()),
        source: e,
    })?;
    let mut out = Vec::new();
    let mut duration = 0.0;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.trim_end_matches(',').parse().unwrap_or(1.0);
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((line.to_owned(), duration));
        }
    }
    Ok(out)
}

async fn serve(State(s): State<Arc<Script>>, UrlPath(file): UrlPath<String>) -> Response {
    if file == "broken.m3u8" {
        // One more segment every 1/speed seconds; the last three listed.
        let available =
            ((s.start.elapsed().as_secs_f64() * s.speed) as usize + 1).min(s.segments.len());
        // The last three, contiguous in media sequence (a jump is seen
        // between two reloads, as on a CDN that lost segments).
        let mut from = available.saturating_sub(1);
        while from > 0
            && available - from < 3
            && s.segments[from - 1].sequence + 1 == s.segments[from].sequence
        {
            from -= 1;
        }
        let listed = &s.segments[from..available];
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{}\n",
            listed.first().map_or(0, |x| x.sequence)
        );
        for seg in listed {
            if seg.discontinuity {
                text.push_str("#EXT-X-DISCONTINUITY\n");
            }
            text.push_str(&format!("#EXTINF:{:.6},\n{}\n", seg.duration, seg.name));
        }
        if available == s.segments.len() {
            text.push_str("#EXT-X-ENDLIST\n");
        }
        return (
            [
                (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            text,
        )
            .into_response();
    }
    let Some(seg) = s.segments.iter().find(|x| x.name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if seg.missing {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(s.dir.join(&seg.name)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "video/mp2t")], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
