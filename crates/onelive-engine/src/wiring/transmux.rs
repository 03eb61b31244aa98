//! [`Transmuxer`] over onelive-transmux (verified stream copy with tags).

use std::path::PathBuf;

use async_trait::async_trait;
use onelive_transmux::{TransmuxJob, TransmuxOptions, transmux};

use crate::EngineError;
use crate::seams::Transmuxer;

/// Transmuxes with onelive-transmux: ffmpeg stream copy into a temporary
/// file, checked with ffprobe, tagged with the live metadata.
#[derive(Debug, Clone, Default)]
pub struct VerifiedTransmuxer {
    options: TransmuxOptions,
}

impl VerifiedTransmuxer {
    /// Uses these ffmpeg/ffprobe settings.
    pub fn new(options: TransmuxOptions) -> Self {
        VerifiedTransmuxer { options }
    }
}

#[async_trait]
impl Transmuxer for VerifiedTransmuxer {
    async fn transmux(&self, job: &TransmuxJob) -> Result<PathBuf, EngineError> {
        Ok(transmux(job, &self.options).await?.output)
    }
}
