//! ffprobe.

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

/// What ffprobe says about a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MediaInfo {
    pub(crate) duration: f64,
    pub(crate) has_video: bool,
    pub(crate) has_audio: bool,
    pub(crate) audio_codecs: Vec<String>,
}

/// Probes a file; `Err` carries ffprobe's message.
pub(crate) async fn probe(ffprobe: &Path, file: &Path) -> Result<MediaInfo, String> {
    let out = Command::new(ffprobe)
        .args(["-v", "error", "-show_entries", "format=duration:stream=codec_type,codec_name"])
        .args(["-of", "json"])
        .arg(file)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", ffprobe.display()))?;
    if !out.status.success() {
        let err = crate::job::last_lines(&String::from_utf8_lossy(&out.stderr), 3);
        return Err(format!("ffprobe cannot read it: {err}"));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("ffprobe output is not JSON: {e}"))?;
    let mut info = MediaInfo {
        duration: json["format"]["duration"].as_str().and_then(|d| d.parse().ok()).unwrap_or(0.0),
        ..MediaInfo::default()
    };
    for stream in json["streams"].as_array().into_iter().flatten() {
        match stream["codec_type"].as_str() {
            Some("video") => info.has_video = true,
            Some("audio") => {
                info.has_audio = true;
                if let Some(c) = stream["codec_name"].as_str() {
                    info.audio_codecs.push(c.to_owned());
                }
            }
            _ => {}
        }
    }
    if info.duration <= 0.0 {
        return Err("ffprobe reports no duration".into());
    }
    Ok(info)
}
