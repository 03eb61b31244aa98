//! ffmpeg command lines, progress parsing, ffprobe, and process shutdown.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

use crate::config::{RecordingConfig, StreamKind};
use crate::redact::Redactor;

/// The ffmpeg arguments of one part. `input` is the URL ffmpeg opens (the
/// stream URL, or a loopback handoff to it); `limit` is the `-t` of this part.
pub(crate) fn record_args(
    cfg: &RecordingConfig,
    input: &str,
    output: &Path,
    limit: Option<Duration>,
) -> Vec<String> {
    let src = &cfg.source;
    let mut args: Vec<String> = [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "warning",
        "-progress",
        "pipe:1",
        "-n",
        "-rw_timeout",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(cfg.io_timeout.as_micros().max(1).to_string());
    if cfg.reconnect {
        for a in ["-reconnect", "1", "-reconnect_on_network_error", "1"] {
            args.push(a.to_owned());
        }
        if src.kind == StreamKind::Flv {
            args.push("-reconnect_streamed".into());
            args.push("1".into());
        }
        args.push("-reconnect_delay_max".into());
        args.push("4".into());
    }
    if let Some(probe) = cfg.probe_duration {
        args.push("-analyzeduration".into());
        args.push(probe.as_micros().max(1).to_string());
    }
    // With headers, the loopback proxy of `handoff` sends them and the
    // User-Agent: they never appear here.
    if !crate::handoff::proxied(cfg)
        && let Some(ua) = &src.user_agent
    {
        args.push("-user_agent".into());
        args.push(ua.clone());
    }
    args.push("-i".into());
    args.push(input.to_owned());
    // `-flush_packets 1`: bytes reach the file at once (ffmpeg otherwise
    // buffers up to 256 KiB), so the file on disk is what was received.
    for a in ["-map", "0:v?", "-map", "0:a?", "-c", "copy", "-flush_packets", "1"] {
        args.push(a.to_owned());
    }
    if let Some(t) = limit {
        args.push("-t".into());
        args.push(format!("{:.3}", t.as_secs_f64()));
    }
    if let Some(bytes) = cfg.split.max_bytes {
        args.push("-fs".into());
        args.push(bytes.to_string());
    }
    args.push("-f".into());
    args.push(cfg.effective_container().ffmpeg_format().into());
    args.push(output.to_string_lossy().into_owned());
    args
}

/// The command line as it may be logged: URL query values and known
/// secrets are redacted.
pub(crate) fn loggable_command(program: &Path, args: &[String], redactor: &Redactor) -> String {
    let mut out = vec![program.display().to_string()];
    for a in args {
        let redacted = redactor.redact(a);
        if redacted.contains(' ') || redacted.is_empty() {
            out.push(format!("'{redacted}'"));
        } else {
            out.push(redacted);
        }
    }
    out.join(" ")
}

/// One `-progress` block of ffmpeg.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProgressBlock {
    pub(crate) total_size: u64,
    pub(crate) out_time: Duration,
    pub(crate) bitrate_kbps: f64,
    pub(crate) end: bool,
}

/// Feeds one `key=value` line; returns the block when `progress=` ends it.
pub(crate) fn parse_progress_line(
    current: &mut ProgressBlock,
    line: &str,
) -> Option<ProgressBlock> {
    let (key, value) = line.trim().split_once('=')?;
    let value = value.trim();
    match key {
        "total_size" => {
            if let Ok(v) = value.parse() {
                current.total_size = v;
            }
        }
        "out_time_us" => {
            if let Ok(v) = value.parse::<i64>() {
                current.out_time = Duration::from_micros(u64::try_from(v).unwrap_or(0));
            }
        }
        "bitrate" => {
            if let Ok(v) = value.trim_end_matches("kbits/s").trim().parse() {
                current.bitrate_kbps = v;
            }
        }
        "progress" => {
            current.end = value == "end";
            return Some(*current);
        }
        _ => {}
    }
    None
}

/// What ffprobe says about a media file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Probe {
    pub(crate) duration: f64,
    pub(crate) streams: usize,
}

/// Probes a file: `Err` with ffprobe's message when it cannot be read.
pub(crate) async fn probe(ffprobe: &Path, file: &Path) -> Result<Probe, String> {
    let out = Command::new(ffprobe)
        .args(["-v", "error", "-show_entries", "format=duration:stream=codec_type", "-of", "json"])
        .arg(file)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", ffprobe.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("ffprobe failed ({}): {}", out.status, last_lines(&err, 3)));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("ffprobe output is not JSON: {e}"))?;
    let streams = json["streams"].as_array().map(Vec::len).unwrap_or(0);
    let duration =
        json["format"]["duration"].as_str().and_then(|d| d.parse::<f64>().ok()).unwrap_or(0.0);
    Ok(Probe { duration, streams })
}

/// The last `n` non-empty lines of a text, joined with ` | `.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Stops ffmpeg so that it finalizes its output: `q` on stdin, then SIGTERM
/// after `quit_timeout`, a second SIGTERM one second later (ffmpeg only
/// aborts a blocked network read on the second signal), then SIGKILL after
/// `term_timeout`.
pub(crate) async fn shutdown(child: &mut Child, quit_timeout: Duration, term_timeout: Duration) {
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"q").await;
        let _ = stdin.flush().await;
        drop(stdin);
    }
    if tokio::time::timeout(quit_timeout, child.wait()).await.is_ok() {
        return;
    }
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    if tokio::time::timeout(term_timeout, child.wait()).await.is_ok() {
        return;
    }
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StreamSource;

    #[test]
    fn progress_blocks_are_parsed() {
        let mut b = ProgressBlock::default();
        for l in ["total_size=1234", "out_time_us=2500000", "bitrate= 300.5kbits/s"] {
            assert_eq!(parse_progress_line(&mut b, l), None);
        }
        let block = parse_progress_line(&mut b, "progress=continue").unwrap();
        assert_eq!(block.total_size, 1234);
        assert_eq!(block.out_time, Duration::from_millis(2500));
        assert!((block.bitrate_kbps - 300.5).abs() < 1e-9);
        assert!(!block.end);
        assert!(parse_progress_line(&mut b, "progress=end").unwrap().end);
        let _ = parse_progress_line(&mut b, "out_time_us=N/A");
        assert_eq!(b.out_time, Duration::from_millis(2500));
    }

    #[test]
    fn headers_stay_off_the_command_line_and_the_logged_line_hides_url_tokens() {
        let source = StreamSource::new(
            "https://cdn.example/live.flv?token=s3cr3t-token&uid=1",
            StreamKind::Flv,
        )
        .with_cookie("SESSDATA=cookie-value-123")
        .with_header("Authorization", "Bearer bearer-abcdef")
        .with_header("Referer", "https://live.example/1");
        let mut cfg = RecordingConfig::new(source, "/tmp/x");
        cfg.source.user_agent = Some("agent/1".into());
        let args = record_args(
            &cfg,
            &cfg.source.url,
            Path::new("/tmp/x/a.flv"),
            Some(Duration::from_secs(4)),
        );
        // Headers (and the User-Agent) go through the loopback proxy, never argv.
        for secret in ["cookie-value-123", "bearer-abcdef", "live.example", "agent/1"] {
            assert!(!args.iter().any(|a| a.contains(secret)), "{secret} in {args:?}");
        }
        assert!(!args.iter().any(|a| a == "-headers" || a == "-user_agent"), "{args:?}");
        // Without headers the User-Agent is an argument.
        cfg.source.headers.clear();
        let args = record_args(&cfg, &cfg.source.url, Path::new("/tmp/x/a.flv"), None);
        assert!(args.windows(2).any(|w| w[0] == "-user_agent" && w[1] == "agent/1"), "{args:?}");
        // The logged line redacts the URL's query.
        let redactor = Redactor::new(&cfg.source.url, &cfg.source.headers);
        let line = loggable_command(Path::new("ffmpeg"), &args, &redactor);
        assert!(!line.contains("s3cr3t-token"), "{line}");
        assert!(line.contains("token=[REDACTED]"), "{line}");
        // Debug of the source is redacted too.
        let debug = format!("{:?}", cfg.source);
        assert!(!debug.contains("s3cr3t-token"), "{debug}");
    }
}
