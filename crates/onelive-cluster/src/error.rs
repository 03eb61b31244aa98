//! The crate's one error type.

/// Why a lease is no longer held (see [`ClusterError::Fenced`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FenceReason {
    /// The node has not renewed the lease in time by its own clock (a long
    /// pause, an unreachable database): it must stop without asking.
    Expired,
    /// The node no longer holds the lease (released, or found lost at an
    /// earlier renewal).
    NotHeld,
    /// The database gives the channel to another claim: `owner` (none when
    /// the lease expired and was not claimed again yet) at `epoch`.
    TakenOver {
        /// The owner in the database now, if any.
        owner: Option<String>,
        /// The epoch in the database now.
        epoch: i64,
    },
    /// The channel was removed or disabled.
    Removed,
}

impl std::fmt::Display for FenceReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Expired => f.write_str("the lease was not renewed in time"),
            Self::NotHeld => f.write_str("this node does not hold it"),
            Self::TakenOver { owner: Some(owner), epoch } => {
                write!(f, "node `{owner}` owns it now at epoch {epoch}")
            }
            Self::TakenOver { owner: None, epoch } => {
                write!(f, "it expired in the database (epoch {epoch} now)")
            }
            Self::Removed => f.write_str("the channel was removed or disabled"),
        }
    }
}

/// Everything that can go wrong in cluster mode.
///
/// Database errors carry the server's message as text; they never carry the
/// connection URL (which may hold a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// A [`ClusterOptions`](crate::ClusterOptions) value is out of range.
    #[error("invalid cluster option `{option}`: {reason}")]
    InvalidOption {
        /// The option (`url`, `node_id`, `lease`, `max_recordings`).
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The database could not be reached or refused the login.
    #[error("cannot connect to the cluster database: {0}")]
    Connect(String),
    /// The schema migrations failed.
    #[error("cluster database migration failed: {0}")]
    Migration(String),
    /// A query failed.
    #[error("cluster database error while {context}: {reason}")]
    Database {
        /// What the node was doing.
        context: &'static str,
        /// The server's or the client's message.
        reason: String,
    },
    /// The fencing check failed: the node must not (or no longer) record
    /// the channel.
    #[error("lease of channel `{key}` at epoch {epoch} is lost: {reason}")]
    Fenced {
        /// The channel key.
        key: String,
        /// The epoch of the lease that was checked.
        epoch: i64,
        /// Why.
        reason: FenceReason,
    },
    /// No channel with this key.
    #[error("unknown channel `{0}`")]
    UnknownChannel(String),
    /// A stored value cannot be read back.
    #[error("unreadable {what} of channel `{key}` in the cluster database: {reason}")]
    Corrupt {
        /// The channel key.
        key: String,
        /// Which value.
        what: &'static str,
        /// The decoding error.
        reason: String,
    },
}

/// Text of a client error: the server's message for a database error, else
/// the error and its sources (none of which holds the connection URL).
pub(crate) fn pg_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.to_string();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

pub(crate) fn db_err(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> ClusterError {
    move |e| ClusterError::Database { context, reason: pg_text(&e) }
}
