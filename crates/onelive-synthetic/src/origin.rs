//! The origin: the HLS generator process, the HTTP server, and their controls.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::server;

/// Name of the media playlist in the served directory.
pub(crate) const PLAYLIST: &str = "stream.m3u8";
/// Name of the ffmpeg log of the HLS generator.
const HLS_LOG: &str = "hls-ffmpeg.log";
/// How long [`SyntheticOrigin::start`] waits for the first playlist.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// What the synthetic stream looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticOptions {
    /// Picture width in pixels (even).
    pub width: u32,
    /// Picture height in pixels (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// HLS target segment length in seconds (also the key-frame interval).
    pub segment_seconds: u32,
    /// How many segments the rolling playlist lists.
    pub playlist_size: u32,
    /// After this much stream time the stream ends (HLS gets
    /// `#EXT-X-ENDLIST`, each FLV response ends). `None`: runs until stopped.
    pub duration: Option<Duration>,
    /// Video bitrate in kbit/s.
    pub video_bitrate_kbps: u32,
    /// The ffmpeg executable.
    pub ffmpeg: PathBuf,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        SyntheticOptions {
            width: 320,
            height: 180,
            fps: 15,
            segment_seconds: 1,
            playlist_size: 6,
            duration: None,
            video_bitrate_kbps: 300,
            ffmpeg: PathBuf::from("ffmpeg"),
        }
    }
}

impl SyntheticOptions {
    fn validate(&self) -> Result<(), SyntheticError> {
        let bad = |what: &str| Err(SyntheticError::InvalidOptions(what.to_owned()));
        if self.width == 0
            || self.height == 0
            || !self.width.is_multiple_of(2)
            || !self.height.is_multiple_of(2)
        {
            return bad("width and height must be even and non-zero");
        }
        if self.fps == 0 || self.fps > 120 {
            return bad("fps must be between 1 and 120");
        }
        if self.segment_seconds == 0 {
            return bad("segment_seconds must be at least 1");
        }
        if self.playlist_size < 2 {
            return bad("playlist_size must be at least 2");
        }
        if self.video_bitrate_kbps == 0 {
            return bad("video_bitrate_kbps must be non-zero");
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return bad("duration must be non-zero when set");
        }
        Ok(())
    }

    /// The lavfi inputs and the encoder options shared by HLS and FLV.
    pub(crate) fn encode_args(&self) -> Vec<String> {
        let gop = (self.fps * self.segment_seconds).to_string();
        let mut args: Vec<String> = vec![
            "-hide_banner".into(),
            "-loglevel".into(),
            "error".into(),
            "-nostdin".into(),
            "-re".into(),
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("testsrc=size={}x{}:rate={}", self.width, self.height, self.fps),
            "-re".into(),
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            "sine=frequency=440:sample_rate=44100".into(),
        ];
        if let Some(d) = self.duration {
            args.push("-t".into());
            args.push(format!("{:.3}", d.as_secs_f64()));
        }
        let bitrate = format!("{}k", self.video_bitrate_kbps);
        for a in [
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-pix_fmt",
            "yuv420p",
            "-g",
            &gop,
            "-keyint_min",
            &gop,
            "-sc_threshold",
            "0",
            "-b:v",
            &bitrate,
            "-c:a",
            "aac",
            "-b:a",
            "64k",
        ] {
            args.push(a.to_owned());
        }
        args
    }
}

/// Errors of the synthetic origin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyntheticError {
    /// The options make no sense.
    #[error("invalid synthetic stream options: {0}")]
    InvalidOptions(String),
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// ffmpeg could not be started (not installed, not executable).
    #[error("cannot run ffmpeg ({program}): {source}")]
    Spawn {
        /// The executable that was tried.
        program: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// ffmpeg exited or did not produce a playlist in time.
    #[error("the HLS generator did not start: {0}")]
    NotReady(String),
}

/// Whether the origin answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginState {
    /// Requests are answered and streams flow.
    Serving,
    /// Connections stay open but nothing is answered or sent (a stalled origin).
    Frozen,
    /// The generator is dead and the port is closed (a dead origin).
    Stopped,
}

/// State shared between the origin handle and the HTTP handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) dir: PathBuf,
    pub(crate) options: SyntheticOptions,
    pub(crate) state: watch::Sender<OriginState>,
}

/// A running synthetic live channel. See the [crate docs](crate).
#[derive(Debug)]
pub struct SyntheticOrigin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    // Keeps the served directory alive; removed on drop.
    _dir: tempfile::TempDir,
    hls: Option<Child>,
    server: Option<(CancellationToken, JoinHandle<()>)>,
}

impl SyntheticOrigin {
    /// Starts the HLS generator and the HTTP server on `127.0.0.1:0`, and
    /// returns once the first playlist exists (about one segment length).
    pub async fn start(options: SyntheticOptions) -> Result<Self, SyntheticError> {
        Self::start_on(options, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Like [`start`](Self::start), on a chosen loopback address.
    pub async fn start_on(
        options: SyntheticOptions,
        addr: SocketAddr,
    ) -> Result<Self, SyntheticError> {
        options.validate()?;
        let dir = tempfile::Builder::new().prefix("onelive-synthetic-").tempdir().map_err(|e| {
            SyntheticError::Io { context: "cannot create a temporary directory".into(), source: e }
        })?;
        let (state, _) = watch::channel(OriginState::Serving);
        let shared = Arc::new(Shared { dir: dir.path().to_path_buf(), options, state });
        let listener = TcpListener::bind(addr).await.map_err(|e| SyntheticError::Io {
            context: format!("cannot listen on {addr}"),
            source: e,
        })?;
        let addr = listener.local_addr().map_err(|e| SyntheticError::Io {
            context: "cannot read the listening address".into(),
            source: e,
        })?;
        let mut origin = SyntheticOrigin { addr, shared, _dir: dir, hls: None, server: None };
        origin.hls = Some(origin.spawn_hls().await?);
        origin.server = Some(server::spawn(listener, origin.shared.clone()));
        Ok(origin)
    }

    /// The address the origin listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// URL of the live HLS media playlist.
    pub fn hls_url(&self) -> String {
        format!("http://{}/live/{PLAYLIST}", self.addr)
    }

    /// URL of the HTTP-FLV stream (each request gets its own live encoder).
    pub fn flv_url(&self) -> String {
        format!("http://{}/live/stream.flv", self.addr)
    }

    /// The current state.
    pub fn state(&self) -> OriginState {
        *self.shared.state.borrow()
    }

    /// The options the origin was started with.
    pub fn options(&self) -> &SyntheticOptions {
        &self.shared.options
    }

    /// Stalls the origin: open connections and new requests get no answer and
    /// FLV streams stop sending, until [`unfreeze`](Self::unfreeze).
    pub fn freeze(&self) {
        self.set_state(OriginState::Frozen);
    }

    /// Resumes a frozen origin.
    pub fn unfreeze(&self) {
        if self.state() == OriginState::Frozen {
            self.set_state(OriginState::Serving);
        }
    }

    /// Kills the origin: the generator stops, every stream ends, every
    /// connection is closed and the port stops listening.
    pub async fn stop(&mut self) {
        self.set_state(OriginState::Stopped);
        if let Some((token, mut task)) = self.server.take() {
            token.cancel();
            if tokio::time::timeout(Duration::from_secs(3), &mut task).await.is_err() {
                task.abort();
            }
        }
        if let Some(mut child) = self.hls.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Brings a stopped origin back on the same address with a fresh stream
    /// (the HLS media sequence starts again from 0).
    pub async fn restart(&mut self) -> Result<(), SyntheticError> {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await.map_err(|e| SyntheticError::Io {
            context: format!("cannot listen again on {}", self.addr),
            source: e,
        })?;
        clear_dir(&self.shared.dir).await;
        self.set_state(OriginState::Serving);
        self.hls = Some(self.spawn_hls().await?);
        self.server = Some(server::spawn(listener, self.shared.clone()));
        Ok(())
    }

    fn set_state(&self, state: OriginState) {
        self.shared.state.send_replace(state);
    }

    async fn spawn_hls(&self) -> Result<Child, SyntheticError> {
        let o = &self.shared.options;
        let dir = &self.shared.dir;
        let log_path = dir.join(HLS_LOG);
        let log = std::fs::File::create(&log_path).map_err(|e| SyntheticError::Io {
            context: format!("cannot create {}", log_path.display()),
            source: e,
        })?;
        let mut args = o.encode_args();
        for a in [
            "-f".to_owned(),
            "hls".to_owned(),
            "-hls_time".to_owned(),
            o.segment_seconds.to_string(),
            "-hls_list_size".to_owned(),
            o.playlist_size.to_string(),
            "-hls_flags".to_owned(),
            "delete_segments+temp_file+independent_segments".to_owned(),
            "-hls_segment_filename".to_owned(),
            dir.join("seg_%05d.ts").to_string_lossy().into_owned(),
            dir.join(PLAYLIST).to_string_lossy().into_owned(),
        ] {
            args.push(a);
        }
        let mut child = Command::new(&o.ffmpeg)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .map_err(|e| SyntheticError::Spawn {
                program: o.ffmpeg.display().to_string(),
                source: e,
            })?;
        let playlist = dir.join(PLAYLIST);
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if tokio::fs::metadata(&playlist).await.is_ok() {
                return Ok(child);
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = tokio::fs::read_to_string(&log_path).await.unwrap_or_default();
                return Err(SyntheticError::NotReady(format!(
                    "ffmpeg exited ({status}) before writing a playlist: {}",
                    tail(&log, 5)
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.start_kill();
                return Err(SyntheticError::NotReady(format!(
                    "no playlist after {} s",
                    READY_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SyntheticOrigin {
    fn drop(&mut self) {
        // Ends FLV streams (their ffmpeg children are killed when dropped).
        self.shared.state.send_replace(OriginState::Stopped);
        if let Some((token, task)) = self.server.take() {
            token.cancel();
            task.abort();
        }
        if let Some(child) = self.hls.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// The last `n` non-empty lines of a log.
pub(crate) fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Removes the generated playlist and segments (not the directory).
async fn clear_dir(dir: &Path) {
    if let Ok(mut entries) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}
