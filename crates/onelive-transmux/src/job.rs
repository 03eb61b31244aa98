//! Jobs, metadata and the single-file transmux.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use onelive_events::{LiveInfo, VideoFileFinishData};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::process::Command;
use uuid::Uuid;

use crate::error::TransmuxError;
use crate::probe::{MediaInfo, probe};

/// The container of the transmuxed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// MP4 with `+faststart` (the index at the front, for streaming).
    #[default]
    Mp4,
    /// Matroska.
    Mkv,
}

impl OutputFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Mp4 => "mp4",
            OutputFormat::Mkv => "mkv",
        }
    }

    fn ffmpeg_format(self) -> &'static str {
        match self {
            OutputFormat::Mp4 => "mp4",
            OutputFormat::Mkv => "matroska",
        }
    }
}

/// What is written into the output's tags.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecordingMetadata {
    /// Live title (`title` tag).
    pub title: String,
    /// Streamer name (`artist` tag).
    pub uname: String,
    /// Channel id.
    pub channel: String,
    /// Platform name.
    pub platform: String,
    /// Live session start (`date` tag, RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub start_time: Option<OffsetDateTime>,
}

/// The `comment` tag: one `key: value` per line, for `title`, `user_name`,
/// `channel`, `platform` and `start_time` (RFC 3339, empty when unknown).
/// Line breaks inside values become spaces so that each key stays on one line.
///
/// ```
/// use onelive_transmux::{RecordingMetadata, metadata_comment};
/// let meta = RecordingMetadata {
///     title: "late\nnight".into(), uname: "alice".into(), channel: "42".into(),
///     platform: "bilibili".into(),
///     start_time: Some(time::macros::datetime!(2026-11-27 20:00:00 UTC)),
/// };
/// assert_eq!(
///     metadata_comment(&meta),
///     "title: late night\nuser_name: alice\nchannel: 42\nplatform: bilibili\nstart_time: 2026-11-27T20:00:00Z"
/// );
/// ```
pub fn metadata_comment(meta: &RecordingMetadata) -> String {
    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    format!(
        "title: {}\nuser_name: {}\nchannel: {}\nplatform: {}\nstart_time: {}",
        one_line(&meta.title),
        one_line(&meta.uname),
        one_line(&meta.channel),
        one_line(&meta.platform),
        rfc3339(meta.start_time)
    )
}

fn rfc3339(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

/// One transmux job. Plain serde data, so a caller can persist and resume it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransmuxJob {
    /// Job id (for the caller's bookkeeping).
    pub id: Uuid,
    /// The recording (`.ts`/`.flv`).
    pub input: PathBuf,
    /// The output path; `None`: the input path with the format's extension.
    #[serde(default)]
    pub output: Option<PathBuf>,
    /// MP4 or MKV.
    #[serde(default)]
    pub format: OutputFormat,
    /// Tags to write.
    #[serde(default)]
    pub metadata: RecordingMetadata,
    /// Delete the input once the output is verified (and announced).
    #[serde(default)]
    pub delete_source: bool,
    /// Live session id, copied into the events.
    #[serde(default)]
    pub session_id: Option<Uuid>,
    /// Channel metadata, copied into the events.
    #[serde(default)]
    pub live_info: Option<LiveInfo>,
}

impl TransmuxJob {
    /// A job with a new id, default output path and empty metadata.
    pub fn new(input: impl Into<PathBuf>, format: OutputFormat) -> Self {
        TransmuxJob {
            id: Uuid::new_v4(),
            input: input.into(),
            output: None,
            format,
            metadata: RecordingMetadata::default(),
            delete_source: false,
            session_id: None,
            live_info: None,
        }
    }

    /// A job for a finished recording, its metadata taken from the event.
    pub fn from_finished_file(file: &VideoFileFinishData, format: OutputFormat) -> Self {
        let info = file.live_info.clone().unwrap_or_default();
        let mut job = TransmuxJob::new(&file.path, format);
        job.metadata = RecordingMetadata {
            title: info.title.clone(),
            uname: info.uname.clone(),
            channel: file.channel.clone(),
            platform: file.platform.clone(),
            start_time: info.start_time,
        };
        job.session_id = file.session_id;
        job.live_info = file.live_info.clone();
        job
    }

    /// The output path this job writes.
    pub fn output_path(&self) -> PathBuf {
        self.output.clone().unwrap_or_else(|| self.input.with_extension(self.format.extension()))
    }
}

/// Tools and checks of a transmux.
#[derive(Debug, Clone, PartialEq)]
pub struct TransmuxOptions {
    /// The ffmpeg executable.
    pub ffmpeg: PathBuf,
    /// The ffprobe executable.
    pub ffprobe: PathBuf,
    /// Allowed difference of output and input duration, in seconds (at least;
    /// 1 % of the input's duration is allowed when larger).
    pub duration_tolerance: f64,
}

impl Default for TransmuxOptions {
    fn default() -> Self {
        TransmuxOptions {
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
            duration_tolerance: 1.0,
        }
    }
}

/// A verified transmux.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransmuxReport {
    /// The recording.
    pub input: PathBuf,
    /// The verified output.
    pub output: PathBuf,
    /// Input duration in seconds (ffprobe).
    pub input_duration: f64,
    /// Output duration in seconds (ffprobe).
    pub output_duration: f64,
    /// Output size in bytes.
    pub output_size: u64,
    /// Whether the input was deleted.
    pub source_deleted: bool,
}

/// Transmuxes one file, verifies the output, then deletes the source when
/// `job.delete_source` is set. On any failure the source is kept and a
/// partial output is removed.
///
/// ```no_run
/// use onelive_transmux::{OutputFormat, TransmuxJob, TransmuxOptions, transmux};
/// # async fn demo() -> Result<(), onelive_transmux::TransmuxError> {
/// let job = TransmuxJob::new("rec/part001.ts", OutputFormat::Mp4);
/// let report = transmux(&job, &TransmuxOptions::default()).await?;
/// println!("{} -> {}", report.input.display(), report.output.display());
/// # Ok(()) }
/// ```
pub async fn transmux(
    job: &TransmuxJob,
    options: &TransmuxOptions,
) -> Result<TransmuxReport, TransmuxError> {
    let mut report = convert(job, options).await?;
    if job.delete_source {
        delete_source(&mut report).await?;
    }
    Ok(report)
}

/// Deletes the input of a verified transmux.
pub(crate) async fn delete_source(report: &mut TransmuxReport) -> Result<(), TransmuxError> {
    tokio::fs::remove_file(&report.input).await.map_err(|e| TransmuxError::Io {
        context: format!("cannot delete the source {}", report.input.display()),
        source: e,
    })?;
    report.source_deleted = true;
    Ok(())
}

/// Transmux and verification, without deleting the source.
pub(crate) async fn convert(
    job: &TransmuxJob,
    options: &TransmuxOptions,
) -> Result<TransmuxReport, TransmuxError> {
    let input = &job.input;
    let invalid = |reason: String| TransmuxError::InvalidInput { path: input.clone(), reason };
    let meta = tokio::fs::metadata(input).await.map_err(|e| invalid(e.to_string()))?;
    if !meta.is_file() || meta.len() == 0 {
        return Err(invalid("not a non-empty file".into()));
    }
    let source = probe(&options.ffprobe, input).await.map_err(invalid)?;
    if !source.has_video && !source.has_audio {
        return Err(invalid("no audio or video stream".into()));
    }
    let output = job.output_path();
    if output == *input {
        return Err(invalid("the output path is the input path".into()));
    }
    if tokio::fs::metadata(&output).await.is_ok() {
        return Err(TransmuxError::OutputExists { path: output });
    }
    let temp = temp_path(&output);
    let result = run_and_verify(job, options, &source, &temp).await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(e);
    }
    let (output_duration, output_size) = result.unwrap_or_default();
    if let Err(e) = tokio::fs::rename(&temp, &output).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(TransmuxError::Io {
            context: format!("cannot move the output to {}", output.display()),
            source: e,
        });
    }
    Ok(TransmuxReport {
        input: input.clone(),
        output,
        input_duration: source.duration,
        output_duration,
        output_size,
        source_deleted: false,
    })
}

/// `dir/.name.part` next to the output, so a half-written file never has
/// the final name.
fn temp_path(output: &Path) -> PathBuf {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    output.with_file_name(format!(".{name}.part"))
}

async fn run_and_verify(
    job: &TransmuxJob,
    options: &TransmuxOptions,
    source: &MediaInfo,
    temp: &Path,
) -> Result<(f64, u64), TransmuxError> {
    let args = ffmpeg_args(job, source, temp);
    tracing::info!(input = %job.input.display(), output = %temp.display(), "transmuxing");
    let mut command = Command::new(&options.ffmpeg);
    command.args(&args).stdin(Stdio::null()).kill_on_drop(true);
    // A SIGKILL of the program leaves no ffmpeg writing a file nobody waits for.
    onelive_listen::die_with_parent(&mut command);
    let out = command.output().await.map_err(|e| TransmuxError::Spawn {
        program: options.ffmpeg.display().to_string(),
        source: e,
    })?;
    if !out.status.success() {
        return Err(TransmuxError::Ffmpeg {
            exit_code: out.status.code(),
            stderr: last_lines(&String::from_utf8_lossy(&out.stderr), 6),
        });
    }
    let verify = |reason: String| TransmuxError::Verification { path: job.output_path(), reason };
    let result = probe(&options.ffprobe, temp).await.map_err(verify)?;
    if source.has_video && !result.has_video {
        return Err(verify("the video stream is missing".into()));
    }
    if source.has_audio && !result.has_audio {
        return Err(verify("the audio stream is missing".into()));
    }
    let tolerance = options.duration_tolerance.max(source.duration * 0.01);
    if (result.duration - source.duration).abs() > tolerance {
        return Err(verify(format!(
            "duration {:.3} s differs from the input's {:.3} s by more than {tolerance:.3} s",
            result.duration, source.duration
        )));
    }
    let size = tokio::fs::metadata(temp).await.map(|m| m.len()).unwrap_or(0);
    Ok((result.duration, size))
}

fn ffmpeg_args(job: &TransmuxJob, source: &MediaInfo, temp: &Path) -> Vec<String> {
    let mut args: Vec<String> =
        ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"].map(String::from).into();
    args.push(job.input.to_string_lossy().into_owned());
    for a in ["-map", "0:v?", "-map", "0:a?", "-c", "copy", "-map_metadata", "-1"] {
        args.push(a.to_owned());
    }
    if source.audio_codecs.iter().any(|c| c == "aac") {
        // ADTS AAC (TS) needs an AudioSpecificConfig in MP4/MKV; raw AAC passes through.
        args.push("-bsf:a".into());
        args.push("aac_adtstoasc".into());
    }
    let m = &job.metadata;
    let mut tag = |key: &str, value: String| {
        args.push("-metadata".into());
        args.push(format!("{key}={value}"));
    };
    tag("title", m.title.clone());
    tag("artist", m.uname.clone());
    if m.start_time.is_some() {
        tag("date", rfc3339(m.start_time));
    }
    tag("comment", metadata_comment(m));
    if job.format == OutputFormat::Mp4 {
        args.push("-movflags".into());
        args.push("+faststart".into());
    }
    args.push("-f".into());
    args.push(job.format.ffmpeg_format().into());
    args.push(temp.to_string_lossy().into_owned());
    args
}

pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
