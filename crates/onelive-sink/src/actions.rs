//! The actions a rule runs: `pixeldrain`, `exec`, `forward`.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use onelive_events::Event;
use std::io::Read;
use tokio::io::AsyncWriteExt;

use crate::config::{ExecConfig, ForwardConfig, PixeldrainConfig};
use crate::progress::{ProgressHandle, ProgressReporter};
use crate::{Error, template};

/// Read buffer of the upload stream.
const UPLOAD_CHUNK: usize = 512 * 1024;

fn action_err(what: impl std::fmt::Display) -> Error {
    Error::Action(what.to_string())
}

/// `scheme://host[:port]` of a URL, for logs (paths and queries may carry tokens).
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}/…", u.scheme()),
            (Some(h), None) => format!("{}://{h}/…", u.scheme()),
            _ => format!("{}:…", u.scheme()),
        },
        Err(_) => "<invalid url>".into(),
    }
}

/// Cuts a server answer to something fit for a log line.
fn snippet(text: &str) -> String {
    let t = text.trim();
    if t.len() <= 300 {
        return t.to_owned();
    }
    let mut end = 300;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &t[..end])
}

fn pixeldrain_url(api: &str, segments: &[&str]) -> Result<reqwest::Url, Error> {
    let mut url = reqwest::Url::parse(api).map_err(|e| action_err(format!("api {api:?}: {e}")))?;
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| action_err(format!("api {api:?} cannot be a base URL")))?;
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    Ok(url)
}

/// Streams a file in chunks read by a blocking thread one step ahead of the
/// network (at most 2 chunks buffered), so disk reads overlap socket writes.
pub(crate) fn read_ahead(
    mut file: impl Read + Send + 'static,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut buf = vec![0u8; UPLOAD_CHUNK];
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        break; // the request was dropped
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// Uploads `file` with `PUT {api}/file/{name}`; returns the share link.
///
/// The file is opened anew by each call, so a retry re-reads it from the
/// start. With `delete_after_upload`, the file is deleted only when the
/// server's reported size equals the local one.
pub(crate) async fn pixeldrain(
    client: &reqwest::Client,
    config: &PixeldrainConfig,
    file: &Path,
    progress: &dyn ProgressReporter,
) -> Result<String, Error> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| action_err(format!("{} has no file name", file.display())))?;
    let handle = std::fs::File::open(file)
        .map_err(|e| action_err(format!("cannot open {}: {e}", file.display())))?;
    let size = handle
        .metadata()
        .map_err(|e| action_err(format!("cannot stat {}: {e}", file.display())))?
        .len();
    let url = pixeldrain_url(&config.api, &["file", &name])?;

    let bar: Arc<Mutex<Box<dyn ProgressHandle>>> =
        Arc::new(Mutex::new(progress.start(&name, size)));
    let stream_bar = Arc::clone(&bar);
    let stream = read_ahead(handle).inspect(move |chunk| {
        if let (Ok(chunk), Ok(mut bar)) = (chunk, stream_bar.lock()) {
            bar.advance(chunk.len() as u64);
        }
    });
    let answer = client
        .put(url)
        .basic_auth("", Some(config.api_key.expose()))
        .header(http::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    let finish = |ok: bool| {
        if let Ok(mut b) = bar.lock() {
            b.finish(ok);
        }
    };
    let response = match answer {
        Ok(r) => r,
        Err(e) => {
            finish(false);
            return Err(action_err(format!("upload of {name} failed: {}", e.without_url())));
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if status != http::StatusCode::OK && status != http::StatusCode::CREATED {
        finish(false);
        return Err(action_err(format!(
            "Pixeldrain answered {status} for {name}: {}",
            snippet(&text)
        )));
    }
    let id = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            finish(false);
            action_err(format!(
                "Pixeldrain answered {status} without a file id: {}",
                snippet(&text)
            ))
        })?;
    finish(true);
    let link = format!("https://pixeldrain.com/u/{id}");
    tracing::info!("SUCCESS: {name} -> {link}");

    if config.delete_after_upload {
        let info_url = pixeldrain_url(&config.api, &["file", &id, "info"])?;
        let info = client
            .get(info_url)
            .basic_auth("", Some(config.api_key.expose()))
            .send()
            .await
            .map_err(|e| {
                action_err(format!("uploaded {link}, but verifying it failed: {}", e.without_url()))
            })?;
        let info_status = info.status();
        let body = info.text().await.unwrap_or_default();
        let remote = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("size").and_then(serde_json::Value::as_u64));
        match remote {
            Some(remote) if remote == size => {
                tokio::fs::remove_file(file).await.map_err(|e| {
                    action_err(format!(
                        "uploaded and verified {link}, but deleting {} failed: {e}",
                        file.display()
                    ))
                })?;
                tracing::info!("deleted {} after verified upload ({size} bytes)", file.display());
            }
            Some(remote) => {
                return Err(action_err(format!(
                    "uploaded {link}, but the server reports {remote} bytes, not {size}; file kept"
                )));
            }
            None => {
                return Err(action_err(format!(
                    "uploaded {link}, but its info ({info_status}) has no size; file kept: {}",
                    snippet(&body)
                )));
            }
        }
    }
    Ok(link)
}

/// What a program run by `exec` produced.
#[derive(Debug)]
pub(crate) struct ExecOutput {
    /// The job's result: the last line printed on stdout, or the exit status.
    pub(crate) summary: String,
    /// The last non-empty line printed on stdout, if any.
    pub(crate) printed: Option<String>,
}

/// Runs a program with the event JSON on stdin and `ONELIVE_*` variables
/// (`ONELIVE_PREVIOUS`: the previous chain step's output).
pub(crate) async fn exec(
    config: &ExecConfig,
    event: &Event,
    event_json: &str,
    file: Option<&Path>,
    previous: Option<&str>,
) -> Result<ExecOutput, Error> {
    let Some((program, args)) = config.command.split_first() else {
        return Err(action_err("exec: command is empty"));
    };
    let (platform, channel) = event.data.channel().unwrap_or(("", ""));
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env("ONELIVE_EVENT_ID", event.id.to_string())
        .env("ONELIVE_TYPE", event.type_name())
        .env("ONELIVE_TS", event.ts_string())
        .env("ONELIVE_PLATFORM", platform)
        .env("ONELIVE_CHANNEL", channel)
        .env("ONELIVE_FILE", file.map(|f| f.as_os_str().to_owned()).unwrap_or_default())
        .env("ONELIVE_PREVIOUS", previous.unwrap_or(""))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child =
        command.spawn().map_err(|e| action_err(format!("exec: cannot start {program:?}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let body = event_json.as_bytes().to_vec();
        tokio::spawn(async move {
            // A program that does not read stdin closes the pipe: not an error.
            let _ = stdin.write_all(&body).await;
        });
    }
    let timeout =
        Duration::try_from_secs_f64(config.timeout_secs).unwrap_or(Duration::from_secs(3600));
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(action_err(format!("exec: {program:?}: {e}"))),
        Err(_) => {
            return Err(action_err(format!(
                "exec: {program:?} timed out after {:.0}s and was killed",
                timeout.as_secs_f64()
            )));
        }
    };
    if output.status.success() {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let printed = stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).map(str::to_owned);
        let summary =
            printed.clone().unwrap_or_else(|| format!("{program} exited with {}", output.status));
        Ok(ExecOutput { summary, printed })
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(action_err(format!(
            "exec: {program:?} failed ({}): {}",
            output.status,
            snippet(&stderr)
        )))
    }
}

/// POSTs the event (or the rendered template) to the configured URL.
pub(crate) async fn forward(
    client: &reqwest::Client,
    config: &ForwardConfig,
    event: &Event,
    event_json: &str,
    file: Option<&str>,
    previous: Option<&str>,
) -> Result<String, Error> {
    let body = match &config.body_template {
        Some(t) => template::render(t, event, file, previous),
        None => event_json.to_owned(),
    };
    let shown = redact_url(config.url.expose());
    let timeout =
        Duration::try_from_secs_f64(config.timeout_secs).unwrap_or(Duration::from_secs(30));
    let mut request = client
        .post(config.url.expose())
        .timeout(timeout)
        .header(http::header::CONTENT_TYPE, &config.content_type)
        .body(body);
    for (name, value) in &config.headers {
        request = request.header(name.as_str(), value.expose());
    }
    let response = request
        .send()
        .await
        .map_err(|e| action_err(format!("forward to {shown} failed: {}", e.without_url())))?;
    let status = response.status();
    if status.is_success() {
        Ok(format!("forwarded to {shown}: {status}"))
    } else {
        let text = response.text().await.unwrap_or_default();
        Err(action_err(format!("forward to {shown}: answered {status}: {}", snippet(&text))))
    }
}
