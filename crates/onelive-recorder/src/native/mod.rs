//! The native engine: HTTP-FLV and HLS read in-process, repaired by
//! `onelive-stream`, written part by part.

mod flv;
mod hls;
pub(crate) mod http;
mod parts;

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{Container, RecordingConfig, StreamKind};
use crate::recording::{self, Emitter, EndReason, RecordingOutcome, RecordingProgress};

pub(crate) use parts::Parts;

/// How long a lost connection is retried before the source counts as lost
/// (ffmpeg's `-reconnect_delay_max 4` gives up after about as long).
const RECONNECT_WINDOW: Duration = Duration::from_secs(6);

/// How a native recording ended.
pub(crate) enum NativeEnd {
    /// It ended by itself or was stopped.
    Done(EndReason),
    /// The stream is not something the native engine handles; nothing was
    /// written. The reason goes into an `error` event.
    Fallback(String),
}

/// Runs the native engine; falls back to ffmpeg (with an `error` event)
/// for streams it cannot handle.
pub(crate) async fn run(
    cfg: RecordingConfig,
    emitter: Emitter,
    stop: CancellationToken,
    progress: watch::Sender<RecordingProgress>,
) -> RecordingOutcome {
    let container = cfg.effective_container();
    let mut parts = Parts::new(&cfg, &emitter, &progress);
    let end = match (cfg.source.kind, container) {
        (StreamKind::Flv, Container::Flv) => flv::record(&cfg, &mut parts, &stop).await,
        (StreamKind::Hls, Container::Ts) => hls::record(&cfg, &mut parts, &stop).await,
        (kind, container) => NativeEnd::Fallback(format!(
            "it writes {kind:?} streams only as .{}, not .{}",
            Container::for_kind(kind).extension(),
            container.extension()
        )),
    };
    let outcome = parts.into_outcome();
    match end {
        NativeEnd::Done(reason) => RecordingOutcome { reason, ..outcome },
        NativeEnd::Fallback(why) => {
            emitter
                .error(format!(
                    "the native engine cannot record this stream ({why}); recording it with ffmpeg"
                ))
                .await;
            let mut cfg = cfg;
            cfg.first_part = outcome.next_part;
            // ffmpeg gets the source the native engine used, with its
            // headers. A platform that gives a resolver has single-use URLs
            // (the native engine's request spent this one): ffmpeg gets a
            // fresh one, headers included.
            if let Some(resolver) = &cfg.resolver {
                match resolver.resolve().await {
                    Ok(fresh) => cfg.source = fresh,
                    Err(e) => {
                        emitter
                            .error(format!(
                                "cannot re-resolve the stream for ffmpeg ({e}); \
                                 ffmpeg gets the URL the native engine used"
                            ))
                            .await;
                    }
                }
            }
            let mut rest = recording::run(cfg, emitter, stop, progress).await;
            let mut files = outcome.files;
            files.append(&mut rest.files);
            let mut discarded = outcome.discarded;
            discarded.append(&mut rest.discarded);
            RecordingOutcome { files, discarded, ..rest }
        }
    }
}
