//! What a node needs to join the cluster.

use std::time::Duration;

use crate::ClusterError;

/// The default lease: 15 seconds.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);
/// The default number of channels one node records at most: 32.
pub const DEFAULT_MAX_RECORDINGS: usize = 32;
/// The shortest lease accepted (tests use short ones; production uses
/// seconds).
pub const MIN_LEASE: Duration = Duration::from_millis(200);
/// The longest lease accepted.
pub const MAX_LEASE: Duration = Duration::from_secs(3600);

/// A node's cluster settings: the `[cluster]` section of the engine's
/// config, resolved (the URL read from its environment variable).
///
/// Its `Debug` output hides the URL, which may hold a password.
#[derive(Clone)]
pub struct ClusterOptions {
    url: String,
    node_id: String,
    lease: Duration,
    max_recordings: usize,
}

impl std::fmt::Debug for ClusterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterOptions")
            .field("url", &"<secret>")
            .field("node_id", &self.node_id)
            .field("lease", &self.lease)
            .field("max_recordings", &self.max_recordings)
            .finish()
    }
}

impl ClusterOptions {
    /// Options for the database at `url` (a `postgres://` URL or a libpq
    /// `key=value` string), with a node id from [`default_node_id`], the
    /// [`DEFAULT_LEASE`] and [`DEFAULT_MAX_RECORDINGS`].
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            node_id: default_node_id(),
            lease: DEFAULT_LEASE,
            max_recordings: DEFAULT_MAX_RECORDINGS,
        }
    }

    /// Sets the node id: 1 to 128 ASCII letters, digits, `.`, `_` or `-`.
    pub fn with_node_id(mut self, node_id: impl Into<String>) -> Self {
        self.node_id = node_id.into();
        self
    }

    /// Sets the lease duration ([`MIN_LEASE`] to [`MAX_LEASE`]). Leases are
    /// renewed every third of it.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets how many channels this node owns at most (at least 1).
    pub fn with_max_recordings(mut self, max: usize) -> Self {
        self.max_recordings = max;
        self
    }

    /// The node id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The lease duration.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The capacity.
    pub fn max_recordings(&self) -> usize {
        self.max_recordings
    }

    /// Checks every option, and that the URL parses (without connecting).
    pub fn validate(&self) -> Result<(), ClusterError> {
        self.pg_config().map(|_| ())
    }

    pub(crate) fn pg_config(&self) -> Result<tokio_postgres::Config, ClusterError> {
        validate_node_id(&self.node_id)?;
        if self.lease < MIN_LEASE || self.lease > MAX_LEASE {
            return Err(ClusterError::InvalidOption {
                option: "lease",
                reason: format!(
                    "{} ms is outside {} ms ..= {} s",
                    self.lease.as_millis(),
                    MIN_LEASE.as_millis(),
                    MAX_LEASE.as_secs()
                ),
            });
        }
        if self.max_recordings == 0 || i32::try_from(self.max_recordings).is_err() {
            return Err(ClusterError::InvalidOption {
                option: "max_recordings",
                reason: format!("{} is not between 1 and {}", self.max_recordings, i32::MAX),
            });
        }
        if self.url.trim().is_empty() {
            return Err(ClusterError::InvalidOption {
                option: "url",
                reason: "it is empty".into(),
            });
        }
        // The parser's messages name the offending part, never the value of
        // a password; still, say only what kind of problem it is.
        self.url.parse::<tokio_postgres::Config>().map_err(|e| ClusterError::InvalidOption {
            option: "url",
            reason: format!(
                "not a PostgreSQL connection URL ({})",
                redacted(&e.to_string(), &self.url)
            ),
        })
    }
}

/// Removes any long enough piece of `secret` from `text`.
fn redacted(text: &str, secret: &str) -> String {
    let mut out = text.to_owned();
    for piece in secret.split(['/', ':', '@', '?', '&', '=', ' ']) {
        if piece.len() >= 4 {
            out = out.replace(piece, "<redacted>");
        }
    }
    out
}

fn validate_node_id(id: &str) -> Result<(), ClusterError> {
    let bad = |reason: String| ClusterError::InvalidOption { option: "node_id", reason };
    if id.is_empty() || id.len() > 128 {
        return Err(bad(format!("it must have 1 to 128 characters, not {}", id.len())));
    }
    if let Some(c) =
        id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(bad(format!("{c:?} is not allowed (letters, digits, `.`, `_`, `-`)")));
    }
    Ok(())
}

/// The default node id: the host name (reduced to the allowed characters)
/// and a random suffix of 6 hex digits, such as `rec-box-3fa91c`.
pub fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let mut host: String = host
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .take(100)
        .collect();
    if host.is_empty() {
        host.push_str("node");
    }
    format!("{host}-{:06x}", rand::random::<u32>() & 0x00ff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_node_ids_are_valid_and_differ() {
        let a = default_node_id();
        let b = default_node_id();
        validate_node_id(&a).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn bad_options_are_named() {
        let base = ClusterOptions::new("postgres://u:hunter22@127.0.0.1:1/db").with_node_id("n1");
        base.validate().unwrap();
        let err = base.clone().with_node_id("has space").validate().unwrap_err();
        assert!(matches!(err, ClusterError::InvalidOption { option: "node_id", .. }), "{err}");
        let err = base.clone().with_node_id("").validate().unwrap_err();
        assert!(matches!(err, ClusterError::InvalidOption { option: "node_id", .. }), "{err}");
        let err = base.clone().with_lease(Duration::from_millis(10)).validate().unwrap_err();
        assert!(matches!(err, ClusterError::InvalidOption { option: "lease", .. }), "{err}");
        let err = base.clone().with_max_recordings(0).validate().unwrap_err();
        assert!(
            matches!(err, ClusterError::InvalidOption { option: "max_recordings", .. }),
            "{err}"
        );
    }

    #[test]
    fn a_bad_url_is_refused_without_showing_its_password() {
        let opts =
            ClusterOptions::new("postgres://u:hunter22@127.0.0.1:notaport/db").with_node_id("n1");
        let err = opts.validate().unwrap_err();
        assert!(matches!(err, ClusterError::InvalidOption { option: "url", .. }), "{err}");
        assert!(!err.to_string().contains("hunter22"), "{err}");
        assert!(!format!("{opts:?}").contains("hunter22"));
        let err = ClusterOptions::new("  ").with_node_id("n1").validate().unwrap_err();
        assert!(matches!(err, ClusterError::InvalidOption { option: "url", .. }), "{err}");
    }
}
