//! Native HLS: follow the media playlist, fetch each segment once, write
//! MPEG-TS parts that split at segment boundaries.

use std::time::Duration;

use onelive_stream::StreamError;
use onelive_stream::fmp4::Fmp4Span;
use onelive_stream::hls::{HlsSegment, PlaylistTracker};
use onelive_stream::ts::TsSpan;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::http::{self, Failure};
use super::{NativeEnd, Parts, RECONNECT_WINDOW};
use crate::config::{Container, RecordingConfig};
use crate::recording::EndReason;
use crate::redact::Redactor;

/// Segments a recording starts from behind the live edge (as ffmpeg does).
const LIVE_EDGE_SEGMENTS: usize = 3;
/// Attempts per segment before it is recorded as a gap.
const SEGMENT_ATTEMPTS: u32 = 3;

/// The media timeline of the open part.
enum Timeline {
    /// MPEG-TS segments.
    Ts(TsSpan),
    /// fMP4 fragments after the init section `uri` (`bytes`), written at
    /// the start of every part.
    Mp4 { span: Fmp4Span, uri: String, init: Vec<u8> },
}

struct Part {
    span: Timeline,
    bytes: u64,
}

impl Part {
    fn duration(&self) -> f64 {
        match &self.span {
            Timeline::Ts(s) => s.duration(),
            Timeline::Mp4 { span, .. } => span.duration(),
        }
    }

    fn has_media(&self) -> bool {
        match &self.span {
            Timeline::Ts(s) => s.packets() > 0,
            Timeline::Mp4 { span, .. } => span.fragments() > 0,
        }
    }

    fn reset(&mut self) {
        match &mut self.span {
            Timeline::Ts(s) => s.reset(),
            Timeline::Mp4 { span, .. } => span.reset(),
        }
        self.bytes = 0;
    }
}

/// fMP4 parts are written as `.m4s` (init section + fragments: a fragmented
/// MP4 that ffmpeg, mpv and VLC play and that transmuxes to `.mp4` without a
/// name clash with its own output).
const FMP4_EXTENSION: &str = "m4s";

pub(super) async fn record(
    cfg: &RecordingConfig,
    parts: &mut Parts<'_>,
    stop: &CancellationToken,
) -> NativeEnd {
    let redactor = Redactor::new(&cfg.source.url, &cfg.source.headers);
    let Ok(base) = url::Url::parse(&cfg.source.url) else {
        return NativeEnd::Fallback("the playlist URL does not parse".into());
    };
    let mut tracker = PlaylistTracker::new(LIVE_EDGE_SEGMENTS);
    let mut part = Part { span: Timeline::Ts(TsSpan::new()), bytes: 0 };
    let mut fmp4 = false;
    let mut last_progress = Instant::now();
    let mut failing_since: Option<Instant> = None;
    let mut last_error = String::new();
    let mut gap = false;
    let end = 'outer: loop {
        if stop.is_cancelled() {
            break NativeEnd::Done(EndReason::Stopped);
        }
        let reload_started = Instant::now();
        let text = tokio::select! {
            _ = stop.cancelled() => break NativeEnd::Done(EndReason::Stopped),
            _ = tokio::time::sleep_until(last_progress + cfg.stall_timeout) => {
                if failing_since.is_some() {
                    // Reloads have been failing: the source is gone, not stalled.
                    parts.emitter().error(format!("lost the stream source: {last_error}")).await;
                    break NativeEnd::Done(EndReason::SourceLost { stderr: last_error });
                }
                break stalled(cfg, parts, "the playlist does not answer").await;
            }
            r = fetch(cfg, base.as_str(), &redactor) => r,
        };
        let update = match text.and_then(|t| {
            tracker.update(&t).map_err(|e| match e {
                StreamError::Playlist(m) => {
                    Failure::Network(format!("the playlist does not parse: {m}"))
                }
                other => Failure::Status(0, other.to_string()),
            })
        }) {
            Ok(u) => {
                failing_since = None;
                u
            }
            Err(Failure::Status(0, why)) if !parts.any_created() => break NativeEnd::Fallback(why),
            Err(Failure::Status(0, why)) => {
                parts.emitter().error(format!("lost the stream source: {why}")).await;
                break NativeEnd::Done(EndReason::SourceLost { stderr: why });
            }
            Err(f) => {
                last_error = f.message().to_owned();
                let since = *failing_since.get_or_insert_with(Instant::now);
                if !cfg.reconnect || since.elapsed() >= RECONNECT_WINDOW.min(cfg.stall_timeout) {
                    parts.emitter().error(format!("lost the stream source: {last_error}")).await;
                    break NativeEnd::Done(EndReason::SourceLost { stderr: last_error.clone() });
                }
                if !pause(stop, Duration::from_millis(500)).await {
                    break NativeEnd::Done(EndReason::Stopped);
                }
                continue;
            }
        };
        if !parts.any_created() && update.new_segments.iter().any(|s| s.init.is_some()) {
            if cfg.container == Some(Container::Ts) {
                break NativeEnd::Fallback(
                    "the segments are fMP4 (EXT-X-MAP) and the config asks for .ts, a remux".into(),
                );
            }
            if !fmp4 {
                fmp4 = true;
                parts.set_extension(FMP4_EXTENSION);
            }
        }
        if update.reset || update.missed > 0 {
            gap = true;
        }
        let found = !update.new_segments.is_empty();
        for seg in &update.new_segments {
            if stop.is_cancelled() {
                break 'outer NativeEnd::Done(EndReason::Stopped);
            }
            // A break in the timeline starts a new part: each file keeps
            // monotonic timestamps.
            if (seg.discontinuity || gap) && part.bytes > 0 {
                close(parts, &mut part).await;
            }
            // A new init section (EXT-X-MAP changed: new codec parameters)
            // starts a new part that begins with it.
            if fmp4 {
                let Some(uri) = &seg.init else {
                    parts
                        .emitter()
                        .error(format!(
                            "segment {} has no EXT-X-MAP in an fMP4 stream; recorded as a gap",
                            seg.sequence
                        ))
                        .await;
                    gap = true;
                    continue;
                };
                let current = match &part.span {
                    Timeline::Mp4 { uri: u, .. } => Some(u.as_str()),
                    Timeline::Ts(_) => None,
                };
                if current != Some(uri.as_str()) {
                    close(parts, &mut part).await;
                    match init_section(cfg, &base, uri, &redactor).await {
                        Ok((span, init)) => {
                            part.span = Timeline::Mp4 { span, uri: uri.clone(), init };
                        }
                        Err(why) if !parts.any_created() => break 'outer NativeEnd::Fallback(why),
                        Err(why) => {
                            parts.emitter().error(format!("{why}; recorded as a gap")).await;
                            part.span = Timeline::Ts(TsSpan::new());
                            gap = true;
                            continue;
                        }
                    }
                }
            }
            gap = false;
            if part.bytes > 0 && split_due(cfg, &part) {
                close(parts, &mut part).await;
            }
            if parts.limit_reached(part.duration()) {
                break 'outer NativeEnd::Done(EndReason::LimitReached);
            }
            let bytes = tokio::select! {
                _ = stop.cancelled() => break 'outer NativeEnd::Done(EndReason::Stopped),
                _ = tokio::time::sleep_until(last_progress + cfg.stall_timeout) => break 'outer stalled(cfg, parts, "a segment does not arrive").await,
                b = segment(cfg, &base, seg, &redactor) => b,
            };
            let mut bytes = match bytes {
                Ok(b) => b,
                Err(why) => {
                    parts
                        .emitter()
                        .error(format!(
                            "segment {} failed {SEGMENT_ATTEMPTS} times ({why}); recorded as a gap",
                            seg.sequence
                        ))
                        .await;
                    gap = true;
                    continue;
                }
            };
            if fmp4 {
                if !Fmp4Span::looks_like_fmp4(&bytes) {
                    parts
                        .emitter()
                        .error(format!("segment {} is not fMP4; recorded as a gap", seg.sequence))
                        .await;
                    gap = true;
                    continue;
                }
            } else if !TsSpan::looks_like_ts(&bytes) {
                if !parts.any_created() {
                    break 'outer NativeEnd::Fallback("the segments are not MPEG-TS".into());
                }
                parts
                    .emitter()
                    .error(format!("segment {} is not MPEG-TS; recorded as a gap", seg.sequence))
                    .await;
                gap = true;
                continue;
            }
            // Read (and for fMP4 rebase) before anything is written: a
            // segment that does not parse is a gap, not a broken file.
            let opening = !parts.is_open();
            if opening {
                part.reset();
            }
            match &mut part.span {
                Timeline::Ts(s) => s.push(&bytes),
                Timeline::Mp4 { span, .. } => {
                    if let Err(e) = span.push(&mut bytes) {
                        parts
                            .emitter()
                            .error(format!("segment {}: {e}; recorded as a gap", seg.sequence))
                            .await;
                        gap = true;
                        continue;
                    }
                }
            }
            if opening {
                if let Err(end) = parts.open().await {
                    break 'outer NativeEnd::Done(end);
                }
                if let Timeline::Mp4 { init, .. } = &part.span {
                    part.bytes += init.len() as u64;
                    if let Err(end) = parts.write(init, 0.0).await {
                        break 'outer NativeEnd::Done(end);
                    }
                }
            }
            part.bytes += bytes.len() as u64;
            if let Err(end) = parts.write(&bytes, part.duration()).await {
                break 'outer NativeEnd::Done(end);
            }
            last_progress = Instant::now();
            if let Err(end) = parts.disk_ok().await {
                break 'outer NativeEnd::Done(end);
            }
        }
        if update.ended {
            break NativeEnd::Done(EndReason::StreamEnded);
        }
        if last_progress.elapsed() >= cfg.stall_timeout {
            break stalled(cfg, parts, "the playlist has no new segments").await;
        }
        // Reload after one target duration (half when nothing was new).
        let target = Duration::from_secs_f64(update.target_duration.clamp(0.5, 10.0));
        let wait = if found { target } else { target / 2 };
        if !pause(stop, wait.saturating_sub(reload_started.elapsed())).await {
            break NativeEnd::Done(EndReason::Stopped);
        }
    };
    if let NativeEnd::Fallback(_) = end {
        return end;
    }
    close(parts, &mut part).await;
    end
}

fn split_due(cfg: &RecordingConfig, part: &Part) -> bool {
    cfg.split.max_duration.is_some_and(|d| part.duration() >= d.as_secs_f64() - 0.05)
        || cfg.split.max_bytes.is_some_and(|b| part.bytes >= b)
}

async fn close(parts: &mut Parts<'_>, part: &mut Part) {
    if parts.is_open() {
        parts.close(part.duration(), part.has_media()).await;
    }
    part.reset();
}

/// Fetches and reads an fMP4 init section (with the segment retries).
async fn init_section(
    cfg: &RecordingConfig,
    base: &url::Url,
    uri: &str,
    redactor: &Redactor,
) -> Result<(Fmp4Span, Vec<u8>), String> {
    let seg = HlsSegment {
        sequence: 0,
        uri: uri.to_owned(),
        duration: 0.0,
        discontinuity: false,
        init: None,
    };
    let bytes = segment(cfg, base, &seg, redactor)
        .await
        .map_err(|e| format!("the fMP4 init section failed ({e})"))?;
    let span = Fmp4Span::from_init(&bytes).map_err(|e| e.to_string())?;
    Ok((span, bytes))
}

async fn stalled(cfg: &RecordingConfig, parts: &Parts<'_>, why: &str) -> NativeEnd {
    parts
        .emitter()
        .error(format!(
            "recording stalled: no progress for {} s ({why})",
            cfg.stall_timeout.as_secs()
        ))
        .await;
    NativeEnd::Done(EndReason::Stalled { after: cfg.stall_timeout })
}

/// Waits `d` unless stopped first (then `false`). Reload pacing of a live
/// playlist, not a test wait.
async fn pause(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

async fn fetch(cfg: &RecordingConfig, url: &str, redactor: &Redactor) -> Result<Vec<u8>, Failure> {
    let resp = http::get(cfg, url, redactor).await?;
    let shown = redactor.redact(url);
    match tokio::time::timeout(cfg.io_timeout, resp.bytes()).await {
        Ok(Ok(b)) => Ok(b.to_vec()),
        Ok(Err(e)) => Err(Failure::Network(http::describe(&shown, &e, redactor))),
        Err(_) => Err(Failure::Network(format!(
            "{shown}: the body took more than {} s",
            cfg.io_timeout.as_secs_f64()
        ))),
    }
}

async fn segment(
    cfg: &RecordingConfig,
    base: &url::Url,
    seg: &HlsSegment,
    redactor: &Redactor,
) -> Result<Vec<u8>, String> {
    let url = base.join(&seg.uri).map_err(|e| format!("segment URI does not resolve: {e}"))?;
    let mut last = String::new();
    for attempt in 0..SEGMENT_ATTEMPTS {
        match fetch(cfg, url.as_str(), redactor).await {
            Ok(b) => return Ok(b),
            Err(Failure::Status(code, m)) if code == 404 || code == 410 => {
                // Gone: retrying will not bring it back.
                return Err(m);
            }
            Err(f) => last = f.message().to_owned(),
        }
        if attempt + 1 < SEGMENT_ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
    }
    Err(last)
}
