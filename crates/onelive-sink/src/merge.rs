//! The `merge` action: one file per live session, from its parts, with
//! ffmpeg's concat demuxer and stream copy, verified with ffprobe.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::Error;
use crate::config::MergeConfig;

fn merge_err(what: impl std::fmt::Display) -> Error {
    Error::Action(format!("merge: {what}"))
}

/// What must match between parts for a stream copy concatenation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StreamShape {
    codec_type: String,
    codec_name: String,
    width: Option<u64>,
    height: Option<u64>,
    pix_fmt: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u64>,
}

impl std::fmt::Display for StreamShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.codec_type, self.codec_name)?;
        if let (Some(w), Some(h)) = (self.width, self.height) {
            write!(f, " {w}x{h}")?;
        }
        if let Some(p) = &self.pix_fmt {
            write!(f, " {p}")?;
        }
        if let Some(r) = &self.sample_rate {
            write!(f, " {r} Hz")?;
        }
        if let Some(c) = self.channels {
            write!(f, " {c}ch")?;
        }
        Ok(())
    }
}

/// One probed file.
#[derive(Debug, Clone)]
struct Probe {
    streams: Vec<StreamShape>,
    duration: f64,
}

fn shapes_text(streams: &[StreamShape]) -> String {
    streams.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

async fn probe(ffprobe: &str, file: &Path) -> Result<Probe, Error> {
    let output = tokio::process::Command::new(ffprobe)
        .args(["-v", "error", "-show_entries"])
        .arg("stream=codec_type,codec_name,width,height,pix_fmt,sample_rate,channels:format=duration")
        .args(["-of", "json"])
        .arg(file)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| merge_err(format!("cannot run {ffprobe:?}: {e}")))?;
    if !output.status.success() {
        return Err(merge_err(format!(
            "ffprobe cannot read {}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| merge_err(format!("ffprobe output for {}: {e}", file.display())))?;
    let text =
        |s: &serde_json::Value, k: &str| s.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let streams: Vec<StreamShape> = v["streams"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|s| matches!(s["codec_type"].as_str(), Some("video" | "audio")))
                .map(|s| StreamShape {
                    codec_type: text(s, "codec_type").unwrap_or_default(),
                    codec_name: text(s, "codec_name").unwrap_or_default(),
                    width: s["width"].as_u64(),
                    height: s["height"].as_u64(),
                    pix_fmt: text(s, "pix_fmt"),
                    sample_rate: text(s, "sample_rate"),
                    channels: s["channels"].as_u64(),
                })
                .collect()
        })
        .unwrap_or_default();
    if streams.is_empty() {
        return Err(merge_err(format!("{} has no audio or video stream", file.display())));
    }
    let duration = v["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse::<f64>().ok())
        .ok_or_else(|| merge_err(format!("ffprobe reports no duration for {}", file.display())))?;
    Ok(Probe { streams, duration })
}

/// `dir/stem.merged.ext` next to the first part.
fn merged_path(first: &Path) -> PathBuf {
    let stem = first.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = first.extension().map(|e| e.to_string_lossy().into_owned());
    let name = match ext {
        Some(ext) => format!("{stem}.merged.{ext}"),
        None => format!("{stem}.merged"),
    };
    first.with_file_name(name)
}

/// A line of a concat demuxer list: `file '...'` with `'` escaped.
fn concat_line(path: &Path) -> String {
    format!("file '{}'\n", path.to_string_lossy().replace('\'', "'\\''"))
}

/// Concatenates one run of compatible parts; returns the verified output.
async fn concat_run(config: &MergeConfig, parts: &[(PathBuf, Probe)]) -> Result<PathBuf, Error> {
    let first = &parts[0].0;
    let output = merged_path(first);
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Written under a hidden name (same extension, so ffmpeg picks the
    // format), renamed once verified: a half-written file is never the output.
    let partial = output.with_file_name(format!(".{name}"));
    let list = output.with_file_name(format!(".{name}.concat.txt"));
    let text: String = parts.iter().map(|(p, _)| concat_line(p)).collect();
    tokio::fs::write(&list, text)
        .await
        .map_err(|e| merge_err(format!("cannot write {}: {e}", list.display())))?;
    let result = tokio::process::Command::new(&config.ffmpeg)
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
        ])
        .arg("-i")
        .arg(&list)
        .args(["-map", "0", "-c", "copy"])
        .arg(&partial)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    let _ = tokio::fs::remove_file(&list).await;
    let out = result.map_err(|e| merge_err(format!("cannot run {:?}: {e}", config.ffmpeg)))?;
    if !out.status.success() {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(merge_err(format!(
            "ffmpeg failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    // Verify: the same streams, and the duration is the sum within 1 s.
    let expected: f64 = parts.iter().map(|(_, p)| p.duration).sum();
    let got = match probe(&config.ffprobe, &partial).await {
        Ok(p) => p,
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
    let problem = if got.streams != parts[0].1.streams {
        Some(format!(
            "the result has streams [{}], the parts [{}]",
            shapes_text(&got.streams),
            shapes_text(&parts[0].1.streams)
        ))
    } else if (got.duration - expected).abs() > 1.0 {
        Some(format!("the result lasts {:.2} s, the parts {expected:.2} s together", got.duration))
    } else {
        None
    };
    if let Some(problem) = problem {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(merge_err(format!("verification failed: {problem}; parts kept")));
    }
    tokio::fs::rename(&partial, &output)
        .await
        .map_err(|e| merge_err(format!("cannot rename to {}: {e}", output.display())))?;
    Ok(output)
}

/// What a merge produced.
#[derive(Debug)]
pub(crate) struct Merged {
    /// The summary stored as the job's result.
    pub(crate) summary: String,
    /// The output files (one per compatible run), for the next steps.
    pub(crate) files: Vec<String>,
}

/// Merges `parts` (in part order, already confined): consecutive parts with
/// the same streams are concatenated; a change of codec or parameters
/// starts a new output, and the summary says why.
pub(crate) async fn merge(config: &MergeConfig, parts: &[PathBuf]) -> Result<Merged, Error> {
    if parts.is_empty() {
        return Err(merge_err("the session has no recorded parts"));
    }
    let mut probed = Vec::with_capacity(parts.len());
    for p in parts {
        probed.push((p.clone(), probe(&config.ffprobe, p).await?));
    }
    let mut runs: Vec<Vec<(PathBuf, Probe)>> = Vec::new();
    let mut notes = Vec::new();
    for (i, item) in probed.into_iter().enumerate() {
        match runs.last_mut() {
            Some(run) if run[0].1.streams == item.1.streams => run.push(item),
            Some(run) => {
                notes.push(format!(
                    "part {} ([{}]) differs from part {} ([{}])",
                    i + 1,
                    shapes_text(&item.1.streams),
                    i,
                    shapes_text(&run[run.len() - 1].1.streams)
                ));
                runs.push(vec![item]);
            }
            None => runs.push(vec![item]),
        }
    }
    let mut files = Vec::new();
    let mut lines = Vec::new();
    for run in &runs {
        if run.len() == 1 {
            files.push(run[0].0.to_string_lossy().into_owned());
            lines.push(format!("{} kept as it is (nothing to merge it with)", run[0].0.display()));
            continue;
        }
        let output = concat_run(config, run).await?;
        let seconds: f64 = run.iter().map(|(_, p)| p.duration).sum();
        lines.push(format!(
            "merged {} part(s) into {} ({seconds:.1} s)",
            run.len(),
            output.display()
        ));
        if config.delete_parts {
            for (p, _) in run {
                tokio::fs::remove_file(p).await.map_err(|e| {
                    merge_err(format!("merged and verified, but deleting {}: {e}", p.display()))
                })?;
            }
        }
        files.push(output.to_string_lossy().into_owned());
    }
    let mut summary = lines.join("; ");
    if !notes.is_empty() {
        summary.push_str(&format!(" (not one file: {})", notes.join("; ")));
    }
    Ok(Merged { summary, files })
}

/// Checks that a program runs (`program version_arg`), for a clear
/// startup error.
pub(crate) fn check_program(
    program: &str,
    version_arg: &str,
    needed_by: &str,
) -> Result<(), Error> {
    match std::process::Command::new(program)
        .arg(version_arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => {
            Err(Error::Config(format!("{needed_by} needs {program:?}, which exited with {s}")))
        }
        Err(e) => {
            Err(Error::Config(format!("{needed_by} needs {program:?}, which cannot run: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_lines_escape_quotes_and_names_keep_the_extension() {
        assert_eq!(concat_line(Path::new("/r/it's.mp4")), "file '/r/it'\\''s.mp4'\n");
        assert_eq!(merged_path(Path::new("/r/a 1.mp4")), Path::new("/r/a 1.merged.mp4"));
    }
}
