//! The `rclone` action: upload a file to any rclone remote with the real
//! `rclone` program (`copyto`), progress from its JSON stats log, and the
//! share link from `rclone link` when the remote gives one.

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncBufReadExt;

use crate::Error;
use crate::config::RcloneConfig;
use crate::progress::ProgressReporter;

fn rclone_err(what: impl std::fmt::Display) -> Error {
    Error::Action(format!("rclone: {what}"))
}

/// `remote:path` without the parameters of a connection string
/// (`:webdav,url='…',pass=…:dir` shows as `:webdav:dir`), for results and logs.
pub(crate) fn shown_remote(remote: &str) -> String {
    let Some(rest) = remote.strip_prefix(':') else {
        return remote.to_owned();
    };
    let backend: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    let path = rest.rsplit_once(':').map_or("", |(_, p)| p);
    format!(":{backend}:{path}")
}

/// The destination of `file`: `{remote}/{file name}`.
fn destination(remote: &str, name: &str) -> String {
    if remote.ends_with(':') || remote.ends_with('/') {
        format!("{remote}{name}")
    } else {
        format!("{remote}/{name}")
    }
}

fn base_command(config: &RcloneConfig) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(&config.rclone);
    if let Some(c) = &config.config {
        command.arg("--config").arg(c);
    }
    command.stdin(Stdio::null()).kill_on_drop(true);
    command
}

/// Uploads `file`; returns the share link, or `remote:path` when the
/// remote gives no link.
pub(crate) async fn upload(
    config: &RcloneConfig,
    file: &Path,
    progress: &dyn ProgressReporter,
) -> Result<String, Error> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| rclone_err(format!("{} has no file name", file.display())))?;
    let size = std::fs::metadata(file)
        .map_err(|e| rclone_err(format!("cannot stat {}: {e}", file.display())))?
        .len();
    let target = destination(config.remote.expose(), &name);
    let shown = shown_remote(&target);
    let mut command = base_command(config);
    command
        .arg("copyto")
        .arg(file)
        .arg(&target)
        .args(["--use-json-log", "--stats", "500ms", "--stats-log-level", "NOTICE"])
        .args(["--retries", "1", "--low-level-retries", "3"])
        .args(&config.extra_args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| rclone_err(format!("cannot start {:?}: {e}", config.rclone)))?;
    let mut bar = progress.start(&name, size);
    let mut sent = 0u64;
    let mut last_error = String::new();
    if let Some(stderr) = child.stderr.take() {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if let Some(bytes) = v["stats"]["bytes"].as_u64()
                && bytes > sent
            {
                bar.advance(bytes - sent);
                sent = bytes;
            }
            if v["level"] == "error" {
                last_error = v["msg"].as_str().unwrap_or_default().to_owned();
            }
        }
    }
    let status = child.wait().await.map_err(|e| rclone_err(format!("waiting for rclone: {e}")))?;
    if !status.success() {
        bar.finish(false);
        // rclone's messages name the remote as given: show it without parameters.
        let message =
            last_error.replace(config.remote.expose(), &shown_remote(config.remote.expose()));
        return Err(rclone_err(format!("copyto {shown} failed ({status}): {message}")));
    }
    if sent < size {
        bar.advance(size - sent);
    }
    bar.finish(true);
    if !config.link {
        return Ok(shown);
    }
    let link = base_command(config)
        .arg("link")
        .arg(&target)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .await;
    match link {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if text.is_empty() { Ok(shown) } else { Ok(text) }
        }
        // Many remotes have no public links: the upload still succeeded.
        _ => {
            tracing::info!("rclone: {shown} has no public link; the result is its path");
            Ok(shown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_string_parameters_are_not_shown() {
        assert_eq!(
            shown_remote(":webdav,url='http://127.0.0.1:8080',pass=secret:dir/a.mp4"),
            ":webdav:dir/a.mp4"
        );
        assert_eq!(shown_remote("drive:rec/a.mp4"), "drive:rec/a.mp4");
        assert_eq!(destination("drive:", "a.mp4"), "drive:a.mp4");
        assert_eq!(destination("drive:rec", "a.mp4"), "drive:rec/a.mp4");
    }
}
