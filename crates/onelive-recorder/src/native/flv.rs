//! Native HTTP-FLV: read tags as they arrive, repair, write parts.

use onelive_stream::StreamError;
use onelive_stream::flv::{FlvPartWriter, FlvReader, FlvRepairer, Output, RepairConfig};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::http::{self, Failure};
use super::{NativeEnd, Parts, RECONNECT_WINDOW};
use crate::config::RecordingConfig;
use crate::recording::EndReason;
use crate::redact::Redactor;

/// Keyframes the index of one part can hold (18 bytes reserved each:
/// 54 KiB, one hour of 1 s GOPs; longer parts get a thinned index).
const KEYFRAME_CAPACITY: usize = 3600;

/// Tags are gathered and written in one go once this many bytes are
/// waiting, or [`FLUSH_INTERVAL`] after the last write: a CDN sends one tag
/// per TCP write (70 a second), and a file write per tag costs more CPU than
/// the rest of the engine. At 3 Mbit/s this is about 0.17 s of stream.
const FLUSH_BYTES: usize = 64 * 1024;
/// The longest tags wait in memory before they are written.
const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1000);

/// How one connection ended.
enum ConnEnd {
    /// The origin closed the stream cleanly.
    Eof,
    /// The connection broke (reset, timeout, corrupt bytes): reconnect.
    Broken(String),
    /// The recording is over.
    Done(NativeEnd),
}

struct State {
    repair: FlvRepairer,
    writer: Option<FlvPartWriter>,
    outs: Vec<Output>,
    buf: Vec<u8>,
    last_progress: Instant,
    last_flush: Instant,
}

pub(super) async fn record(
    cfg: &RecordingConfig,
    parts: &mut Parts<'_>,
    stop: &CancellationToken,
) -> NativeEnd {
    let mut redactor = Redactor::new(&cfg.source.url, &cfg.source.headers);
    let mut source = cfg.source.clone();
    let mut st = State {
        repair: FlvRepairer::new(RepairConfig {
            split_after_ms: cfg.split.max_duration.map(|d| d.as_millis() as u64),
            split_after_bytes: cfg.split.max_bytes,
            ..RepairConfig::default()
        }),
        writer: None,
        outs: Vec::new(),
        buf: Vec::with_capacity(FLUSH_BYTES),
        last_progress: Instant::now(),
        last_flush: Instant::now(),
    };
    let mut lost_since: Option<Instant> = None;
    let mut last_error = String::new();
    let end = loop {
        if stop.is_cancelled() {
            break NativeEnd::Done(EndReason::Stopped);
        }
        if let Some(since) = lost_since {
            if !cfg.reconnect || since.elapsed() >= RECONNECT_WINDOW.min(cfg.stall_timeout) {
                parts.emitter().error(format!("lost the stream source: {last_error}")).await;
                break NativeEnd::Done(EndReason::SourceLost { stderr: last_error });
            }
            // Back off a little between attempts (not a test wait: a live
            // reconnect must not hammer the CDN).
            tokio::select! {
                _ = stop.cancelled() => break NativeEnd::Done(EndReason::Stopped),
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            }
            // Single-use stream URLs (Huya): ask for a fresh one.
            if let Some(resolver) = &cfg.resolver {
                match resolver.resolve().await {
                    Ok(fresh) => {
                        redactor = Redactor::new(&fresh.url, &fresh.headers);
                        source = fresh;
                    }
                    Err(e) => {
                        last_error = format!("cannot re-resolve the stream: {e}");
                        continue;
                    }
                }
            }
        }
        let resp = tokio::select! {
            _ = stop.cancelled() => break NativeEnd::Done(EndReason::Stopped),
            _ = tokio::time::sleep_until(st.last_progress + cfg.stall_timeout) => {
                if lost_since.is_some() {
                    // Reconnects have been failing: the source is gone, not stalled.
                    parts.emitter().error(format!("lost the stream source: {last_error}")).await;
                    break NativeEnd::Done(EndReason::SourceLost { stderr: last_error });
                }
                break stalled(cfg, parts).await;
            }
            r = http::get_from(cfg, &source, &source.url, &redactor) => r,
        };
        let resp = match resp {
            Ok(r) => r,
            Err(Failure::Status(code, m))
                if (400..500).contains(&code) && code != 408 && code != 429 =>
            {
                // The stream is gone (offline, expired URL).
                parts.emitter().error(format!("lost the stream source: {m}")).await;
                break NativeEnd::Done(EndReason::SourceLost { stderr: m });
            }
            Err(f) => {
                last_error = f.message().to_owned();
                lost_since.get_or_insert_with(Instant::now);
                continue;
            }
        };
        match connection(cfg, parts, stop, &mut st, resp, &source.url, &redactor).await {
            ConnEnd::Eof => break NativeEnd::Done(EndReason::StreamEnded),
            ConnEnd::Done(end) => break end,
            ConnEnd::Broken(why) => {
                tracing::info!(error = %why, "FLV connection lost, reconnecting");
                last_error = why;
                lost_since = Some(Instant::now());
            }
        }
    };
    if let NativeEnd::Fallback(_) = end {
        return end;
    }
    close_part(parts, &mut st).await;
    end
}

async fn close_part(parts: &mut Parts<'_>, st: &mut State) {
    let Some(writer) = st.writer.take() else {
        return;
    };
    let duration = writer.duration_ms() as f64 / 1000.0;
    if let Err(e) = parts.write(&st.buf, duration).await {
        tracing::warn!(?e, "cannot write the end of a part");
    }
    st.buf.clear();
    let (summary, meta) = writer.finish();
    if let Err(e) = parts.patch(writer.metadata_offset(), &meta).await {
        parts.emitter().error(e).await;
    }
    parts.close(summary.duration, summary.video_frames + summary.audio_frames > 0).await;
}

/// Reads one connection until it ends.
async fn connection(
    cfg: &RecordingConfig,
    parts: &mut Parts<'_>,
    stop: &CancellationToken,
    st: &mut State,
    mut resp: reqwest::Response,
    url: &str,
    redactor: &Redactor,
) -> ConnEnd {
    let mut reader = FlvReader::new();
    let shown = redactor.redact(url);
    loop {
        let wait = cfg.io_timeout.min(
            cfg.stall_timeout
                .saturating_sub(st.last_progress.elapsed())
                .max(std::time::Duration::from_millis(100)),
        );
        let chunk = tokio::select! {
            _ = stop.cancelled() => return ConnEnd::Done(NativeEnd::Done(EndReason::Stopped)),
            c = tokio::time::timeout(wait, resp.chunk()) => c,
        };
        let chunk = match chunk {
            Err(_) => {
                if st.last_progress.elapsed() >= cfg.stall_timeout {
                    return ConnEnd::Done(stalled(cfg, parts).await);
                }
                return ConnEnd::Broken(format!("{shown}: no data for {} s", wait.as_secs_f64()));
            }
            Ok(Err(e)) => return ConnEnd::Broken(http::describe(&shown, &e, redactor)),
            Ok(Ok(None)) => return ConnEnd::Eof,
            Ok(Ok(Some(c))) => c,
        };
        reader.push(&chunk);
        loop {
            match reader.next_item() {
                Ok(Some(item)) => st.repair.push(item, &mut st.outs),
                Ok(None) => break,
                Err(e @ StreamError::NotFlv { .. }) if !parts.any_created() => {
                    return ConnEnd::Done(NativeEnd::Fallback(e.to_string()));
                }
                Err(e) => return ConnEnd::Broken(e.to_string()),
            }
        }
        if let Err(end) = apply(cfg, parts, st).await {
            return ConnEnd::Done(NativeEnd::Done(end));
        }
        if let Err(end) = parts.disk_ok().await {
            return ConnEnd::Done(NativeEnd::Done(end));
        }
    }
}

async fn stalled(cfg: &RecordingConfig, parts: &Parts<'_>) -> NativeEnd {
    parts
        .emitter()
        .error(format!(
            "recording stalled: no progress for {} s, the connection was closed",
            cfg.stall_timeout.as_secs()
        ))
        .await;
    NativeEnd::Done(EndReason::Stalled { after: cfg.stall_timeout })
}

/// Writes the repairer's output; `Err` ends the recording.
async fn apply(
    cfg: &RecordingConfig,
    parts: &mut Parts<'_>,
    st: &mut State,
) -> Result<(), EndReason> {
    let outs = std::mem::take(&mut st.outs);
    let mut wrote = false;
    for o in &outs {
        match o {
            Output::NewPart { header, reason } => {
                tracing::debug!(?reason, "new FLV part");
                close_part(parts, st).await;
                if parts.limit_reached(0.0) {
                    return Err(EndReason::LimitReached);
                }
                parts.open().await?;
                let mut w = FlvPartWriter::new(*header, KEYFRAME_CAPACITY);
                st.buf.extend_from_slice(&w.start());
                st.writer = Some(w);
            }
            Output::Tag(tag) => {
                if let Some(w) = st.writer.as_mut() {
                    w.write_tag(tag, &mut st.buf);
                    wrote = true;
                }
            }
        }
    }
    st.outs = outs;
    st.outs.clear();
    if let Some(w) = &st.writer {
        let media = w.duration_ms() as f64 / 1000.0;
        if st.buf.len() >= FLUSH_BYTES || st.last_flush.elapsed() >= FLUSH_INTERVAL {
            parts.write(&st.buf, media).await?;
            st.buf.clear();
            st.last_flush = Instant::now();
        }
        if wrote {
            st.last_progress = Instant::now();
        }
        if parts.limit_reached(media) {
            let _ = cfg;
            return Err(EndReason::LimitReached);
        }
    }
    Ok(())
}
