//! The crate's single error type.

/// Why a webhook body could not be turned into an [`Event`](crate::Event).
///
/// Every variant names the offending field as a JSON path (for example
/// `data.filesize` or `data.live_info.status`) so that a receiver can answer
/// a producer with a precise message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is not JSON at all, or not a JSON object.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(String),
    /// A field is present but has the wrong type or an invalid value.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// JSON path of the field, e.g. `data.duration`.
        field: String,
        /// What was wrong with it.
        reason: String,
    },
    /// Unknown event type name given to [`EventType::from_str`](std::str::FromStr).
    #[error("unknown event type `{0}`")]
    UnknownEventType(String),
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidField { field: field.into(), reason: reason.into() }
    }
}
