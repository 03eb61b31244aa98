//! The envelope `{id, ts, type, data}`.

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, EventData, EventType, timestamp};

/// One webhook event: the envelope `{"id", "ts", "type", "data"}`.
///
/// Serialization writes exactly the four keys; `ts` is UTC with nine
/// fractional digits, as OneLiveRec writes it. Parsing accepts any RFC 3339
/// offset and precision, ignores unknown keys, and keeps unknown event types
/// in [`EventData::Unknown`].
///
/// Build and serialize an event:
///
/// ```
/// use onelive_events::{Event, EventData, VideoTransmuxFinishData};
///
/// let event = Event::new(EventData::VideoTransmuxFinish(VideoTransmuxFinishData::new(
///     "bilibili",
///     "21452505",
///     "rec/part1.ts",
///     "rec/part1.mp4",
/// )));
/// let body = event.to_json();
/// assert!(body.contains(r#""type":"video_transmux_finish""#));
/// assert_eq!(Event::from_json(body.as_bytes()).unwrap(), event);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique id of the event (new events: UUIDv7, time-ordered). Stable
    /// across delivery retries, so receivers can drop duplicates.
    pub id: Uuid,
    /// When the event happened.
    pub ts: OffsetDateTime,
    /// The event's `type` and `data`.
    pub data: EventData,
}

impl Event {
    /// A new event stamped with a fresh UUIDv7 and the current time.
    pub fn new(data: EventData) -> Self {
        Event { id: Uuid::now_v7(), ts: OffsetDateTime::now_utc(), data }
    }

    /// The event's known type, `None` for an unknown one.
    pub fn event_type(&self) -> Option<EventType> {
        self.data.event_type()
    }

    /// The event's `type` string as on the wire.
    pub fn type_name(&self) -> &str {
        self.data.type_name()
    }

    /// The `ts` field as written on the wire (`2026-03-11T05:22:38.393477700Z`).
    pub fn ts_string(&self) -> String {
        timestamp::format_nanos(self.ts)
    }

    /// Serializes the event to its JSON wire form.
    pub fn to_json(&self) -> String {
        // Serializing our own types into a String cannot fail: every map key is
        // a string and every number is finite or written as null by serde_json.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Serializes the event to a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Parses a webhook body.
    ///
    /// ```
    /// use onelive_events::{Event, EventData};
    ///
    /// let body = br#"{"id":"398ea849-7c4b-45c4-bd2f-093df217266c",
    ///   "ts":"2026-03-11T05:22:38.393477700Z","type":"video_file_finish",
    ///   "data":{"platform":"twitch","channel":"somechannel",
    ///           "path":"rec/a.ts","filesize":1073741824,"duration":3600}}"#;
    /// let event = Event::from_json(body).unwrap();
    /// match event.data {
    ///     EventData::VideoFileFinish(d) => {
    ///         assert_eq!(d.filesize, 1_073_741_824);
    ///         assert_eq!(d.duration, 3600.0);
    ///     }
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// ```
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        let value: Value = serde_json::from_slice(body).map_err(|e| Error::Json(e.to_string()))?;
        Self::from_value(value)
    }

    /// Builds an event from an already parsed JSON value.
    pub fn from_value(value: Value) -> Result<Self, Error> {
        let Value::Object(mut obj) = value else {
            return Err(Error::Json(format!("expected a JSON object, found {}", kind(&value))));
        };
        let id = match obj.remove("id") {
            None => return Err(Error::MissingField("id".into())),
            Some(Value::String(s)) => Uuid::parse_str(&s)
                .map_err(|e| Error::invalid("id", format!("not a UUID ({e}): {s:?}")))?,
            Some(other) => {
                return Err(Error::invalid(
                    "id",
                    format!("expected a string, found {}", kind(&other)),
                ));
            }
        };
        let ts = match obj.remove("ts") {
            None => return Err(Error::MissingField("ts".into())),
            Some(Value::String(s)) => timestamp::parse(&s).map_err(|e| Error::invalid("ts", e))?,
            Some(other) => {
                return Err(Error::invalid(
                    "ts",
                    format!("expected a string, found {}", kind(&other)),
                ));
            }
        };
        let event_type = match obj.remove("type") {
            None => return Err(Error::MissingField("type".into())),
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(Error::invalid(
                    "type",
                    format!("expected a string, found {}", kind(&other)),
                ));
            }
        };
        let data = match obj.remove("data") {
            None => return Err(Error::MissingField("data".into())),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(Error::invalid(
                    "data",
                    format!("expected a JSON object, found {}", kind(&other)),
                ));
            }
        };
        let data = parse_data(event_type, data)?;
        Ok(Event { id, ts, data })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn typed<T: DeserializeOwned>(data: Map<String, Value>) -> Result<T, Error> {
    let value = Value::Object(data);
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde reports a missing key at the parent path with this text.
        if let Some(rest) = inner.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or(rest);
            let field =
                if path == "." { format!("data.{name}") } else { format!("data.{path}.{name}") };
            return Error::MissingField(field);
        }
        let field = if path == "." { "data".to_owned() } else { format!("data.{path}") };
        Error::InvalidField { field, reason: inner }
    })
}

fn parse_data(event_type: String, data: Map<String, Value>) -> Result<EventData, Error> {
    let Ok(known) = event_type.parse::<EventType>() else {
        return Ok(EventData::Unknown { event_type, data });
    };
    Ok(match known {
        EventType::AppLaunch => EventData::AppLaunch,
        EventType::AppExit => EventData::AppExit,
        EventType::LiveStart => EventData::LiveStart(typed(data)?),
        EventType::LiveEnd => EventData::LiveEnd(typed(data)?),
        EventType::VideoFileCreate => EventData::VideoFileCreate(typed(data)?),
        EventType::VideoFileFinish => EventData::VideoFileFinish(typed(data)?),
        EventType::VideoTransmuxFinish => EventData::VideoTransmuxFinish(typed(data)?),
        EventType::TitleChange => EventData::TitleChange(typed(data)?),
        EventType::CategoryChange => EventData::CategoryChange(typed(data)?),
        EventType::Error => EventData::Error(typed(data)?),
        EventType::Test => EventData::Test(typed(data)?),
    })
}

/// `EventData` serializes as the event's `data` object (without `type`, which
/// the envelope carries): `{}` for `app_launch`/`app_exit`, the typed fields
/// otherwise, and the raw object of an unknown type.
///
/// ```
/// use onelive_events::{EventData, TestData};
///
/// let data = EventData::Test(TestData::new("hi"));
/// assert_eq!(serde_json::to_string(&data).unwrap(), r#"{"message":"hi"}"#);
/// assert_eq!(serde_json::to_string(&EventData::AppLaunch).unwrap(), "{}");
/// ```
impl Serialize for EventData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EventData::AppLaunch | EventData::AppExit => serializer.serialize_map(Some(0))?.end(),
            EventData::LiveStart(d) | EventData::LiveEnd(d) => d.serialize(serializer),
            EventData::VideoFileCreate(d) => d.serialize(serializer),
            EventData::VideoFileFinish(d) => d.serialize(serializer),
            EventData::VideoTransmuxFinish(d) => d.serialize(serializer),
            EventData::TitleChange(d) | EventData::CategoryChange(d) => d.serialize(serializer),
            EventData::Error(d) => d.serialize(serializer),
            EventData::Test(d) => d.serialize(serializer),
            EventData::Unknown { data, .. } => data.serialize(serializer),
        }
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("id", &self.id.hyphenated().to_string())?;
        map.serialize_entry("ts", &self.ts_string())?;
        map.serialize_entry("type", self.type_name())?;
        map.serialize_entry("data", &self.data)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Event::from_value(value).map_err(serde::de::Error::custom)
    }
}
