//! Native HLS (not written yet: falls back to ffmpeg).

use tokio_util::sync::CancellationToken;

use super::{NativeEnd, Parts};
use crate::config::RecordingConfig;

pub(super) async fn record(
    _cfg: &RecordingConfig,
    _parts: &mut Parts<'_>,
    _stop: &CancellationToken,
) -> NativeEnd {
    NativeEnd::Fallback("native HLS is not built yet".into())
}
