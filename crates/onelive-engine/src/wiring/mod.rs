//! Real implementations of the [`seams`](crate::seams) over the onelive
//! crates: platform adapters, the ffmpeg recorder, the transmuxer and the
//! webhook dispatcher.

use std::path::Path;
use std::sync::Arc;

use crate::{EngineConfig, EngineError, EngineParts};

mod platform;
mod recorder;
mod transmux;
mod webhook;

pub use platform::PlatformSource;
pub use recorder::FfmpegRecorder;
pub use transmux::VerifiedTransmuxer;
pub use webhook::{WebhookDelivery, endpoint_of};

/// Checks that a built-in platform adapter claims every channel URL; the
/// error names the file and the key (`channels[N].url`).
pub fn check_channels(config: &EngineConfig, path: &Path) -> Result<(), EngineError> {
    let registry = onelive_platform::PlatformRegistry::builtin(&config.platforms);
    for (i, c) in config.channels.iter().enumerate() {
        registry.resolve(&c.url).map_err(|e| EngineError::Config {
            path: path.to_path_buf(),
            key: format!("channels[{i}].url"),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// The real parts for a config: the built-in platform adapters, ffmpeg
/// recording, verified transmuxing (onelive-transmux) and the webhook outbox in `state_dir`.
pub async fn real_parts(
    config: &EngineConfig,
    state_dir: &Path,
) -> Result<EngineParts, EngineError> {
    std::fs::create_dir_all(state_dir).map_err(|e| {
        EngineError::io(format!("cannot create state folder {}", state_dir.display()), e)
    })?;
    Ok(EngineParts {
        source: Arc::new(PlatformSource::new(&config.platforms)?),
        recorder: Arc::new(FfmpegRecorder::default().with_engine(config.recording.engine)),
        transmuxer: Arc::new(VerifiedTransmuxer::default()),
        delivery: Arc::new(WebhookDelivery::open(state_dir).await?),
    })
}
