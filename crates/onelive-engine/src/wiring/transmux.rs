//! [`Transmuxer`] over onelive-transmux (verified stream copy with tags).

use std::path::PathBuf;

use async_trait::async_trait;
use onelive_transmux::{
    OutputFormat, RecordingMetadata, TransmuxJob as Job, TransmuxOptions, transmux,
};

use crate::seams::Transmuxer;
use crate::{EngineError, TransmuxJob};

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
    async fn transmux(
        &self,
        job: &TransmuxJob,
        format: &str,
        delete_source: bool,
    ) -> Result<PathBuf, EngineError> {
        let format = if format == "mkv" { OutputFormat::Mkv } else { OutputFormat::Mp4 };
        let mut j = Job::new(job.input.clone(), format);
        j.delete_source = delete_source;
        j.session_id = job.session_id;
        j.live_info = job.live_info.clone();
        let info = job.live_info.clone().unwrap_or_default();
        j.metadata = RecordingMetadata {
            title: info.title,
            uname: info.uname,
            channel: job.channel.clone(),
            platform: job.platform.clone(),
            start_time: info.start_time,
        };
        let report = transmux(&j, &self.options).await?;
        Ok(report.output)
    }
}
