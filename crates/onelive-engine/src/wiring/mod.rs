//! Real implementations of the [`seams`](crate::seams) over the onelive
//! crates: platform adapters, the ffmpeg recorder, the transmuxer and the
//! webhook dispatcher.

use std::path::Path;
use std::sync::Arc;

use crate::{EngineConfig, EngineError, EngineParts};

mod platform;
mod recorder;
mod remux;
mod webhook;

pub use platform::PlatformSource;
pub use recorder::FfmpegRecorder;
pub use remux::FfmpegRemux;
pub use webhook::{WebhookDelivery, endpoint_of};

/// The real parts for a config: the built-in platform adapters, ffmpeg
/// recording, ffmpeg transmuxing and the webhook outbox in `state_dir`.
pub async fn real_parts(config: &EngineConfig, state_dir: &Path) -> Result<EngineParts, EngineError> {
    std::fs::create_dir_all(state_dir)
        .map_err(|e| EngineError::io(format!("cannot create state folder {}", state_dir.display()), e))?;
    Ok(EngineParts {
        source: Arc::new(PlatformSource::new(&config.platforms)?),
        recorder: Arc::new(FfmpegRecorder::default()),
        transmuxer: Arc::new(FfmpegRemux::default()),
        delivery: Arc::new(WebhookDelivery::open(state_dir).await?),
    })
}
