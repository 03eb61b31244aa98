//! `live_info`: the metadata of a channel's live session.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Whether a channel is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveStatus {
    /// The channel is broadcasting.
    Live,
    /// The channel is not broadcasting.
    #[default]
    Offline,
}

impl LiveStatus {
    /// The wire name: `"live"` or `"offline"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LiveStatus::Live => "live",
            LiveStatus::Offline => "offline",
        }
    }
}

impl std::fmt::Display for LiveStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Metadata of a live channel, the seed's `live_info` object.
///
/// All nine keys are always serialized; `live_id` and `start_time` are `null`
/// when unknown. When parsing, absent keys take their default (empty string,
/// empty list, `offline`, `null`) so that events from older producers still
/// parse; a key with the wrong type is an error.
///
/// ```
/// use onelive_events::{LiveInfo, LiveStatus};
///
/// // `#[non_exhaustive]`: a new key will not break you. Start from the
/// // default and set what you know.
/// let mut info = LiveInfo::default();
/// info.uid = "12345".into();
/// info.uname = "streamer".into();
/// info.title = "late night coding".into();
/// info.status = LiveStatus::Live;
/// let json = serde_json::to_value(&info).unwrap();
/// assert_eq!(json["status"], "live");
/// assert!(json["live_id"].is_null());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveInfo {
    /// The streamer's user id on the platform.
    #[serde(default)]
    pub uid: String,
    /// The streamer's display name.
    #[serde(default)]
    pub uname: String,
    /// Avatar image URL.
    #[serde(default)]
    pub avatar: String,
    /// Live title.
    #[serde(default)]
    pub title: String,
    /// Cover (thumbnail) image URL.
    #[serde(default)]
    pub cover: String,
    /// Categories, most general first (e.g. `["Games", "Minecraft"]`).
    #[serde(default)]
    pub categories: Vec<String>,
    /// `live` or `offline`.
    #[serde(default)]
    pub status: LiveStatus,
    /// The platform's id of this live session, when it has one.
    #[serde(default)]
    pub live_id: Option<String>,
    /// When the live session started (RFC 3339), when known.
    #[serde(default, with = "crate::timestamp::option_seconds")]
    pub start_time: Option<OffsetDateTime>,
}

impl LiveInfo {
    /// True when the status is [`LiveStatus::Live`].
    pub fn is_live(&self) -> bool {
        self.status == LiveStatus::Live
    }
}
