//! The files of a native recording: naming, events, progress, disk guard.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::RecordingConfig;
use crate::disk::free_bytes;
use crate::recording::{
    Emitter, EndReason, FinishedFile, RecordingOutcome, RecordingProgress, low_disk_message,
    unique_path,
};
use crate::template::TemplateValues;

/// The part being written.
struct Open {
    path: PathBuf,
    file: tokio::fs::File,
    bytes: u64,
}

/// Owns the output files of one native recording.
pub(crate) struct Parts<'a> {
    cfg: &'a RecordingConfig,
    emitter: &'a Emitter,
    progress: &'a watch::Sender<RecordingProgress>,
    part: u32,
    current: Option<Open>,
    files: Vec<FinishedFile>,
    discarded: Vec<PathBuf>,
    finished_bytes: u64,
    /// Media seconds of the finished files.
    recorded: f64,
    last_disk_check: Instant,
    /// The file extension when it is not the container's (fMP4 HLS: `m4s`).
    extension: Option<&'static str>,
}

impl<'a> Parts<'a> {
    pub(crate) fn new(
        cfg: &'a RecordingConfig,
        emitter: &'a Emitter,
        progress: &'a watch::Sender<RecordingProgress>,
    ) -> Self {
        Parts {
            cfg,
            emitter,
            progress,
            part: cfg.first_part,
            current: None,
            files: Vec::new(),
            discarded: Vec::new(),
            finished_bytes: 0,
            recorded: 0.0,
            last_disk_check: Instant::now(),
            extension: None,
        }
    }

    /// Names the next parts `.<ext>` (what the stream is, when it is not
    /// the configured container's).
    pub(crate) fn set_extension(&mut self, ext: &'static str) {
        self.extension = Some(ext);
    }

    pub(crate) fn emitter(&self) -> &Emitter {
        self.emitter
    }

    /// True once a file was created (no fallback to ffmpeg after that).
    pub(crate) fn any_created(&self) -> bool {
        self.current.is_some() || !self.files.is_empty() || !self.discarded.is_empty()
    }

    pub(crate) fn is_open(&self) -> bool {
        self.current.is_some()
    }

    /// Media seconds finished plus `current` seconds of the open part.
    pub(crate) fn total_media(&self, current: f64) -> f64 {
        self.recorded + current
    }

    /// `stop_after` is reached with `current` seconds in the open part.
    pub(crate) fn limit_reached(&self, current: f64) -> bool {
        self.cfg.stop_after.is_some_and(|s| self.total_media(current) >= s.as_secs_f64())
    }

    /// Opens the next part's file and announces it.
    pub(crate) async fn open(&mut self) -> Result<(), EndReason> {
        let ctx = &self.emitter.ctx;
        let info = &ctx.live_info;
        let relative = self.cfg.template.render(&TemplateValues {
            platform: &ctx.platform,
            channel: &ctx.channel,
            uname: &info.uname,
            title: &info.title,
            start_time: ctx.session_start,
            part: self.part,
            ext: self.extension.unwrap_or_else(|| self.cfg.effective_container().extension()),
        });
        let path = unique_path(&self.cfg.output_dir.join(relative)).await;
        if let Some(parent) = path.parent()
            && let Err(e) = tokio::fs::create_dir_all(parent).await
        {
            let message = format!("cannot create directory {}: {e}", parent.display());
            self.emitter.error(message.clone()).await;
            return Err(EndReason::StartFailed { message });
        }
        let file =
            match tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await {
                Ok(f) => f,
                Err(e) => {
                    let message = format!("cannot create {}: {e}", path.display());
                    self.emitter.error(message.clone()).await;
                    return Err(EndReason::StartFailed { message });
                }
            };
        self.emitter.created(&path).await;
        let part = self.part;
        self.progress.send_modify(|p| {
            p.part = part;
            p.current_file = Some(path.clone());
            p.current_file_bytes = 0;
            p.media_time = Duration::ZERO;
        });
        self.current = Some(Open { path, file, bytes: 0 });
        Ok(())
    }

    /// Appends bytes to the open part; `media` is its media time so far.
    pub(crate) async fn write(&mut self, bytes: &[u8], media: f64) -> Result<(), EndReason> {
        let Some(open) = self.current.as_mut() else {
            return Ok(());
        };
        if !bytes.is_empty() {
            if let Err(e) = open.file.write_all(bytes).await {
                let message = format!("cannot write {}: {e}", open.path.display());
                self.emitter.error(message.clone()).await;
                return Err(self.disk_or(message));
            }
            open.bytes += bytes.len() as u64;
        }
        let (size, finished) = (open.bytes, self.finished_bytes);
        self.progress.send_modify(|p| {
            p.current_file_bytes = size;
            p.bytes_written = finished + size;
            p.media_time = Duration::from_secs_f64(media.max(0.0));
            p.bitrate_kbps = if media > 0.0 { size as f64 * 8.0 / media / 1000.0 } else { 0.0 };
        });
        Ok(())
    }

    /// Writes `bytes` at `offset` of the open part (the FLV metadata).
    pub(crate) async fn patch(&mut self, offset: u64, bytes: &[u8]) -> Result<(), String> {
        let Some(open) = self.current.as_mut() else {
            return Ok(());
        };
        let f = &mut open.file;
        let r: std::io::Result<()> = async {
            f.flush().await?;
            f.seek(SeekFrom::Start(offset)).await?;
            f.write_all(bytes).await?;
            f.seek(SeekFrom::End(0)).await?;
            Ok(())
        }
        .await;
        r.map_err(|e| format!("cannot write the metadata of {}: {e}", open.path.display()))
    }

    /// Closes the open part: announces it with its size and `duration`, or
    /// removes it when it holds no media.
    pub(crate) async fn close(&mut self, duration: f64, has_media: bool) {
        let Some(mut open) = self.current.take() else {
            return;
        };
        let _ = open.file.flush().await;
        let _ = open.file.sync_data().await;
        drop(open.file);
        let size = tokio::fs::metadata(&open.path).await.map(|m| m.len()).unwrap_or(open.bytes);
        if has_media && size > 0 && duration > 0.0 {
            let file = FinishedFile { path: open.path, size, duration };
            self.recorded += duration;
            self.finished_bytes += size;
            self.emitter.finished(&file).await;
            self.files.push(file);
        } else {
            let _ = tokio::fs::remove_file(&open.path).await;
            self.emitter
                .error(format!(
                    "removed {} (no media in it); it is not announced",
                    open.path.display()
                ))
                .await;
            self.discarded.push(open.path);
        }
        self.part += 1;
        let (finished, count) = (self.finished_bytes, self.files.len());
        self.progress.send_modify(|p| {
            p.current_file = None;
            p.current_file_bytes = 0;
            p.bytes_written = finished;
            p.files_finished = u32::try_from(count).unwrap_or(u32::MAX);
        });
    }

    /// The disk guard, checked at most every 2 s.
    pub(crate) async fn disk_ok(&mut self) -> Result<(), EndReason> {
        if self.last_disk_check.elapsed() < Duration::from_secs(2) {
            return Ok(());
        }
        self.last_disk_check = Instant::now();
        self.check_disk_now().await
    }

    pub(crate) async fn check_disk_now(&mut self) -> Result<(), EndReason> {
        if let Ok(free) = free_bytes(&self.cfg.output_dir)
            && free < self.cfg.min_free_bytes
        {
            self.emitter.error(low_disk_message(self.cfg, free)).await;
            return Err(EndReason::LowDiskSpace { free_bytes: free });
        }
        Ok(())
    }

    fn disk_or(&self, message: String) -> EndReason {
        match free_bytes(&self.cfg.output_dir) {
            Ok(free) if free < self.cfg.min_free_bytes.max(1 << 20) => {
                EndReason::LowDiskSpace { free_bytes: free }
            }
            _ => EndReason::StartFailed { message },
        }
    }

    pub(crate) fn into_outcome(self) -> RecordingOutcome {
        self.progress.send_modify(|p| p.current_file = None);
        RecordingOutcome {
            reason: EndReason::Stopped,
            files: self.files,
            discarded: self.discarded,
            next_part: self.part,
        }
    }
}
