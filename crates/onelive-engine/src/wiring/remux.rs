//! A direct ffmpeg remux, used while no transmux crate is wired in:
//! `ffmpeg -c copy` into a temporary file, checked with ffprobe, renamed.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use tokio::process::Command;

use crate::EngineError;
use crate::seams::Transmuxer;

/// Remuxes with ffmpeg (`-c copy`) and verifies the output with ffprobe.
#[derive(Debug, Clone)]
pub struct FfmpegRemux {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
}

impl Default for FfmpegRemux {
    fn default() -> Self {
        FfmpegRemux { ffmpeg: PathBuf::from("ffmpeg"), ffprobe: PathBuf::from("ffprobe") }
    }
}

async fn probe_duration(ffprobe: &PathBuf, path: &std::path::Path) -> Result<f64, String> {
    let out = Command::new(ffprobe)
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1"])
        .arg(path)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run ffprobe: {e}"))?;
    if !out.status.success() {
        return Err(format!("ffprobe refused {}: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("ffprobe found no duration in {}", path.display()))
}

#[async_trait]
impl Transmuxer for FfmpegRemux {
    async fn transmux(&self, input: PathBuf, format: &str, delete_source: bool) -> Result<PathBuf, EngineError> {
        let output = input.with_extension(format);
        let tmp = input.with_extension(format!("part.{format}"));
        let mut cmd = Command::new(&self.ffmpeg);
        cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
            .arg(&input)
            .args(["-map", "0", "-c", "copy"]);
        if format == "mp4" {
            cmd.args(["-movflags", "+faststart"]);
        }
        let out = tokio::time::timeout(
            Duration::from_secs(3600),
            cmd.arg(&tmp).kill_on_drop(true).output(),
        )
        .await
        .map_err(|_| EngineError::Transmux(format!("ffmpeg took over an hour on {}", input.display())))?
        .map_err(|e| EngineError::Transmux(format!("cannot run ffmpeg: {e}")))?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&tmp);
            return Err(EngineError::Transmux(format!(
                "ffmpeg failed on {}: {}",
                input.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let (src, dst) = (probe_duration(&self.ffprobe, &input).await, probe_duration(&self.ffprobe, &tmp).await);
        let dst = dst.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            EngineError::Transmux(e)
        })?;
        if let Ok(src) = src {
            if (src - dst).abs() > 2.0 + src * 0.02 {
                let _ = std::fs::remove_file(&tmp);
                return Err(EngineError::Transmux(format!(
                    "{} lasts {dst:.1}s but its source {src:.1}s; the source is kept",
                    output.display()
                )));
            }
        }
        std::fs::rename(&tmp, &output)
            .map_err(|e| EngineError::Transmux(format!("cannot rename {}: {e}", tmp.display())))?;
        if delete_source {
            if let Err(e) = std::fs::remove_file(&input) {
                tracing::warn!(path = %input.display(), error = %e, "cannot delete the transmuxed source");
            }
        }
        Ok(output)
    }
}
