//! The `data` objects of every event type.

use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

use crate::LiveInfo;

/// Serializes a duration in seconds as a JSON integer when it is whole
/// (`3600`, as in the seed) and as a JSON float otherwise (`12.48`).
fn serialize_seconds<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.is_finite() && value.fract() == 0.0 && *value >= 0.0 && *value <= MAX_EXACT {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        serializer.serialize_u64(*value as u64)
    } else {
        serializer.serialize_f64(*value)
    }
}

/// `data` of `live_start` and `live_end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveData {
    /// Platform name, e.g. `bilibili`.
    pub platform: String,
    /// Channel identifier on that platform, e.g. a room id.
    pub channel: String,
    /// The channel's page URL.
    #[serde(default)]
    pub url: String,
    /// Metadata of the live session.
    #[serde(default)]
    pub live_info: LiveInfo,
    /// onelive extension: one id per live session, shared by the session's
    /// `live_start`, `live_end` and file events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
}

/// `data` of `video_file_create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoFileCreateData {
    /// Platform name.
    pub platform: String,
    /// Channel identifier.
    pub channel: String,
    /// Path of the file being written.
    pub path: String,
    /// onelive extension: the live session this file belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    /// onelive extension: the channel's metadata when the file was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_info: Option<LiveInfo>,
}

/// `data` of `video_file_finish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoFileFinishData {
    /// Platform name.
    pub platform: String,
    /// Channel identifier.
    pub channel: String,
    /// Path of the finished file.
    pub path: String,
    /// Size of the file in bytes (a JSON integer).
    pub filesize: u64,
    /// Duration of the video in seconds (a JSON number).
    #[serde(serialize_with = "serialize_seconds")]
    pub duration: f64,
    /// onelive extension: the live session this file belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    /// onelive extension: the channel's metadata when the file was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_info: Option<LiveInfo>,
    /// onelive extension: the part's chat (danmaku) file, same name with
    /// `.xml`, when chat was captured; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub danmaku_path: Option<String>,
}

/// `data` of `video_transmux_finish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoTransmuxFinishData {
    /// Platform name.
    pub platform: String,
    /// Channel identifier.
    pub channel: String,
    /// The recording that was transmuxed (`.ts`/`.flv`).
    pub input: String,
    /// The transmuxed file (`.mp4`/`.mkv`).
    pub output: String,
    /// onelive extension: the live session this file belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    /// onelive extension: the channel's metadata when the file was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_info: Option<LiveInfo>,
}

/// `data` of `title_change` and `category_change`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveInfoChangeData {
    /// Platform name.
    pub platform: String,
    /// Channel identifier.
    pub channel: String,
    /// Metadata before the change.
    #[serde(default)]
    pub old_live_info: LiveInfo,
    /// Metadata after the change.
    #[serde(default)]
    pub new_live_info: LiveInfo,
    /// onelive extension: the live session during which it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
}

/// `data` of `error`.
///
/// Errors that concern no channel (a webhook endpoint that keeps failing, a
/// full disk) carry empty `platform` and `channel` strings, so that the keys
/// are always present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorData {
    /// Platform name, or `""` for an application-wide error.
    #[serde(default)]
    pub platform: String,
    /// Channel identifier, or `""` for an application-wide error.
    #[serde(default)]
    pub channel: String,
    /// Human-readable description of what went wrong.
    pub error: String,
    /// onelive extension: the live session during which it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
}

/// `data` of `test` (onelive extension: "send test webhook").
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestData {
    /// A free text, e.g. `"test event from onelive"`.
    #[serde(default)]
    pub message: String,
}

/// `with_session_id` for the data types that carry the onelive `session_id`.
macro_rules! with_session_id {
    ($($t:ty),*) => {$(
        impl $t {
            /// Sets the onelive `session_id` (`None` leaves it out).
            #[must_use]
            pub fn with_session_id(mut self, session_id: impl Into<Option<Uuid>>) -> Self {
                self.session_id = session_id.into();
                self
            }
        }
    )*};
}
with_session_id!(
    LiveData,
    VideoFileCreateData,
    VideoFileFinishData,
    VideoTransmuxFinishData,
    LiveInfoChangeData,
    ErrorData
);

/// `with_live_info` for the file events, whose `live_info` is optional.
macro_rules! with_live_info {
    ($($t:ty),*) => {$(
        impl $t {
            /// Sets the onelive `live_info` (the channel's metadata when the file was opened).
            #[must_use]
            pub fn with_live_info(mut self, live_info: impl Into<Option<LiveInfo>>) -> Self {
                self.live_info = live_info.into();
                self
            }
        }
    )*};
}
with_live_info!(VideoFileCreateData, VideoFileFinishData, VideoTransmuxFinishData);

impl LiveData {
    /// `live_start` / `live_end` data; no `session_id` ([`LiveData::with_session_id`]).
    ///
    /// The data types are `#[non_exhaustive]`: build them with `new` and the
    /// `with_*` methods (fields stay public to read and to set), so that a
    /// field added later breaks no caller.
    ///
    /// ```
    /// use onelive_events::{LiveData, LiveInfo};
    /// let d = LiveData::new("bilibili", "1", "https://live.bilibili.com/1", LiveInfo::default())
    ///     .with_session_id(uuid::Uuid::nil());
    /// assert_eq!(d.session_id, Some(uuid::Uuid::nil()));
    /// ```
    pub fn new(
        platform: impl Into<String>,
        channel: impl Into<String>,
        url: impl Into<String>,
        live_info: LiveInfo,
    ) -> Self {
        LiveData {
            platform: platform.into(),
            channel: channel.into(),
            url: url.into(),
            live_info,
            session_id: None,
        }
    }
}

impl VideoFileCreateData {
    /// `video_file_create` data for the file at `path`.
    pub fn new(
        platform: impl Into<String>,
        channel: impl Into<String>,
        path: impl Into<String>,
    ) -> Self {
        VideoFileCreateData {
            platform: platform.into(),
            channel: channel.into(),
            path: path.into(),
            session_id: None,
            live_info: None,
        }
    }
}

impl VideoFileFinishData {
    /// `video_file_finish` data: the file, its size in bytes and its
    /// duration in seconds.
    pub fn new(
        platform: impl Into<String>,
        channel: impl Into<String>,
        path: impl Into<String>,
        filesize: u64,
        duration: f64,
    ) -> Self {
        VideoFileFinishData {
            platform: platform.into(),
            channel: channel.into(),
            path: path.into(),
            filesize,
            duration,
            session_id: None,
            live_info: None,
            danmaku_path: None,
        }
    }

    /// Sets the chat file written beside the video (`danmaku_path`).
    pub fn with_danmaku_path(mut self, danmaku_path: impl Into<Option<String>>) -> Self {
        self.danmaku_path = danmaku_path.into();
        self
    }
}

impl VideoTransmuxFinishData {
    /// `video_transmux_finish` data: the recording and the transmuxed file.
    ///
    /// ```
    /// use onelive_events::VideoTransmuxFinishData;
    /// let d = VideoTransmuxFinishData::new("bilibili", "1", "rec/a.ts", "rec/a.mp4");
    /// assert_eq!((d.output.as_str(), d.session_id, d.live_info), ("rec/a.mp4", None, None));
    /// ```
    pub fn new(
        platform: impl Into<String>,
        channel: impl Into<String>,
        input: impl Into<String>,
        output: impl Into<String>,
    ) -> Self {
        VideoTransmuxFinishData {
            platform: platform.into(),
            channel: channel.into(),
            input: input.into(),
            output: output.into(),
            session_id: None,
            live_info: None,
        }
    }
}

impl LiveInfoChangeData {
    /// `title_change` / `category_change` data: the metadata before and after.
    pub fn new(
        platform: impl Into<String>,
        channel: impl Into<String>,
        old_live_info: LiveInfo,
        new_live_info: LiveInfo,
    ) -> Self {
        LiveInfoChangeData {
            platform: platform.into(),
            channel: channel.into(),
            old_live_info,
            new_live_info,
            session_id: None,
        }
    }
}

impl ErrorData {
    /// `error` data about a channel (`""` and `""` for an application-wide error).
    pub fn new(
        platform: impl Into<String>,
        channel: impl Into<String>,
        error: impl Into<String>,
    ) -> Self {
        ErrorData {
            platform: platform.into(),
            channel: channel.into(),
            error: error.into(),
            session_id: None,
        }
    }
}

impl TestData {
    /// `test` data with a free text.
    pub fn new(message: impl Into<String>) -> Self {
        TestData { message: message.into() }
    }
}

/// The `type` and `data` of an event.
///
/// `Unknown` keeps an event type this version does not know, with its raw
/// `data`, so that a newer producer's events pass through unchanged.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventData {
    /// `app_launch`: the recorder started. `data` is `{}`.
    AppLaunch,
    /// `app_exit`: the recorder is exiting. `data` is `{}`.
    AppExit,
    /// `live_start`: a watched channel went live.
    LiveStart(LiveData),
    /// `live_end`: a watched channel's live ended.
    LiveEnd(LiveData),
    /// `video_file_create`: a recording file was opened.
    VideoFileCreate(VideoFileCreateData),
    /// `video_file_finish`: a recording file was closed.
    VideoFileFinish(VideoFileFinishData),
    /// `video_transmux_finish`: a recording was transmuxed.
    VideoTransmuxFinish(VideoTransmuxFinishData),
    /// `title_change`: the live title changed.
    TitleChange(LiveInfoChangeData),
    /// `category_change`: the live category changed.
    CategoryChange(LiveInfoChangeData),
    /// `error`: something a human should see went wrong.
    Error(ErrorData),
    /// `test`: a test delivery (onelive extension).
    Test(TestData),
    /// An event type this version of the crate does not know.
    Unknown {
        /// The raw `type` string.
        event_type: String,
        /// The raw `data` object.
        data: serde_json::Map<String, serde_json::Value>,
    },
}

impl EventData {
    /// The wire name of this event's `type`.
    pub fn type_name(&self) -> &str {
        match self.event_type() {
            Some(t) => t.as_str(),
            None => match self {
                EventData::Unknown { event_type, .. } => event_type,
                _ => "",
            },
        }
    }

    /// The known [`EventType`], or `None` for [`EventData::Unknown`].
    pub fn event_type(&self) -> Option<EventType> {
        Some(match self {
            EventData::AppLaunch => EventType::AppLaunch,
            EventData::AppExit => EventType::AppExit,
            EventData::LiveStart(_) => EventType::LiveStart,
            EventData::LiveEnd(_) => EventType::LiveEnd,
            EventData::VideoFileCreate(_) => EventType::VideoFileCreate,
            EventData::VideoFileFinish(_) => EventType::VideoFileFinish,
            EventData::VideoTransmuxFinish(_) => EventType::VideoTransmuxFinish,
            EventData::TitleChange(_) => EventType::TitleChange,
            EventData::CategoryChange(_) => EventType::CategoryChange,
            EventData::Error(_) => EventType::Error,
            EventData::Test(_) => EventType::Test,
            EventData::Unknown { .. } => return None,
        })
    }

    /// `(platform, channel)` for events about a channel, `None` for the
    /// application events (`app_launch`, `app_exit`, `test`) and unknown ones.
    pub fn channel(&self) -> Option<(&str, &str)> {
        match self {
            EventData::LiveStart(d) | EventData::LiveEnd(d) => Some((&d.platform, &d.channel)),
            EventData::VideoFileCreate(d) => Some((&d.platform, &d.channel)),
            EventData::VideoFileFinish(d) => Some((&d.platform, &d.channel)),
            EventData::VideoTransmuxFinish(d) => Some((&d.platform, &d.channel)),
            EventData::TitleChange(d) | EventData::CategoryChange(d) => {
                Some((&d.platform, &d.channel))
            }
            EventData::Error(d) => Some((&d.platform, &d.channel)),
            _ => None,
        }
    }

    /// The path of the file the event is about, as the recorder wrote it:
    /// `path` of `video_file_create` and `video_file_finish`, `output` of
    /// `video_transmux_finish`; `None` for every other type.
    ///
    /// ```
    /// use onelive_events::{EventData, VideoTransmuxFinishData};
    ///
    /// let data = EventData::VideoTransmuxFinish(VideoTransmuxFinishData::new(
    ///     "bilibili",
    ///     "21452505",
    ///     "rec/part1.ts",
    ///     "rec/part1.mp4",
    /// ));
    /// assert_eq!(data.file_path(), Some("rec/part1.mp4"));
    /// assert_eq!(onelive_events::EventData::AppLaunch.file_path(), None);
    /// ```
    pub fn file_path(&self) -> Option<&str> {
        match self {
            EventData::VideoFileCreate(d) => Some(&d.path),
            EventData::VideoFileFinish(d) => Some(&d.path),
            EventData::VideoTransmuxFinish(d) => Some(&d.output),
            _ => None,
        }
    }

    /// The session id (onelive extension), when the event carries one.
    pub fn session_id(&self) -> Option<Uuid> {
        match self {
            EventData::LiveStart(d) | EventData::LiveEnd(d) => d.session_id,
            EventData::VideoFileCreate(d) => d.session_id,
            EventData::VideoFileFinish(d) => d.session_id,
            EventData::VideoTransmuxFinish(d) => d.session_id,
            EventData::TitleChange(d) | EventData::CategoryChange(d) => d.session_id,
            EventData::Error(d) => d.session_id,
            _ => None,
        }
    }
}

macro_rules! event_types {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// The bare event type names, for per-webhook event filters.
        ///
        /// ```
        /// use onelive_events::EventType;
        ///
        /// let t: EventType = "video_transmux_finish".parse().unwrap();
        /// assert_eq!(t, EventType::VideoTransmuxFinish);
        /// assert_eq!(t.to_string(), "video_transmux_finish");
        /// assert!(EventType::ALL.contains(&EventType::LiveStart));
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventType {
            $(#[doc = $doc] $variant,)*
        }

        impl EventType {
            /// Every known event type, in the seed's order (`test` last).
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            /// The wire name, e.g. `"live_start"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                }
            }
        }

        impl std::str::FromStr for EventType {
            type Err = crate::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(EventType::$variant),)*
                    other => Err(crate::Error::UnknownEventType(other.to_owned())),
                }
            }
        }
    };
}

event_types! {
    AppLaunch => "app_launch", "`app_launch`: the recorder started.";
    AppExit => "app_exit", "`app_exit`: the recorder is exiting.";
    LiveStart => "live_start", "`live_start`: a channel went live.";
    LiveEnd => "live_end", "`live_end`: a channel's live ended.";
    VideoFileCreate => "video_file_create", "`video_file_create`: a recording file was opened.";
    VideoFileFinish => "video_file_finish", "`video_file_finish`: a recording file was closed.";
    VideoTransmuxFinish => "video_transmux_finish", "`video_transmux_finish`: a recording was transmuxed.";
    TitleChange => "title_change", "`title_change`: the live title changed.";
    CategoryChange => "category_change", "`category_change`: the live category changed.";
    Error => "error", "`error`: something went wrong.";
    Test => "test", "`test`: a test delivery (onelive extension).";
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
