//! The protocol of a live stream, shared by the platform adapters that find
//! streams and the recorders that read them.

use serde::{Deserialize, Serialize};

/// The protocol of a stream URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    /// An HLS playlist (`.m3u8`).
    Hls,
    /// HTTP-FLV.
    Flv,
}

impl StreamKind {
    /// `"hls"` or `"flv"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Hls => "hls",
            StreamKind::Flv => "flv",
        }
    }
}

impl std::fmt::Display for StreamKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::StreamKind;

    #[test]
    fn names_match_the_serde_form() {
        for kind in [StreamKind::Hls, StreamKind::Flv] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }
}
