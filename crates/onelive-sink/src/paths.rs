//! Path mapping (recorder's view -> this host) and confinement to allowed roots.

use std::path::{Component, Path, PathBuf};

use crate::config::PathsConfig;
use crate::{Error, Result};

/// Maps an event's file path to this host and confines it to the allowed
/// roots.
///
/// ```
/// use onelive_sink::config::{PathMapping, PathsConfig};
/// use onelive_sink::paths::PathPolicy;
///
/// let dir = std::env::temp_dir().join(format!("sink-doc-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("rec")).unwrap();
/// std::fs::write(dir.join("rec/a.mp4"), b"x").unwrap();
/// let policy = PathPolicy::new(
///     &PathsConfig {
///         map: vec![PathMapping { from: "/app/rec".into(), to: dir.join("rec") }],
///         allowed_roots: vec![dir.join("rec")],
///     },
///     &dir,
/// )
/// .unwrap();
/// let file = policy.resolve("/app/rec/a.mp4").unwrap();
/// assert!(file.ends_with("rec/a.mp4"));
/// assert!(policy.resolve("/app/rec/../../etc/passwd").is_err());
/// assert!(policy.resolve("/etc/passwd").is_err());
/// // Doubled slashes keep the mapping: not `/a.mp4`.
/// assert_eq!(policy.map("/app/rec//a.mp4"), dir.join("rec").join("a.mp4"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct PathPolicy {
    maps: Vec<(String, PathBuf)>,
    roots: Vec<PathBuf>,
    base: PathBuf,
}

impl PathPolicy {
    /// Builds the policy; relative `to` folders, roots and incoming paths are
    /// taken relative to `base` (normally the working directory). Each root
    /// must exist.
    pub fn new(config: &PathsConfig, base: &Path) -> Result<Self> {
        let maps = config
            .map
            .iter()
            .map(|m| (m.from.trim_end_matches('/').to_owned(), base.join(&m.to)))
            .collect();
        let mut roots = Vec::new();
        for root in &config.allowed_roots {
            let joined = base.join(root);
            let canonical = joined.canonicalize().map_err(|e| {
                Error::Config(format!("paths.allowed_roots: {}: {e}", joined.display()))
            })?;
            roots.push(canonical);
        }
        Ok(PathPolicy { maps, roots, base: base.to_owned() })
    }

    /// Applies the first matching prefix mapping (whole components only:
    /// `/app/rec` maps `/app/rec/x` but not `/app/recording/x`).
    pub fn map(&self, incoming: &str) -> PathBuf {
        for (from, to) in &self.maps {
            let rest = if from.is_empty() {
                Some(incoming.trim_start_matches('/'))
            } else {
                // `/app/rec//x.mp4` is `/app/rec/x.mp4`: every separating slash
                // goes, or joining the absolute rest would drop the prefix.
                incoming.strip_prefix(from.as_str()).and_then(|r| {
                    if r.is_empty() {
                        Some("")
                    } else {
                        r.strip_prefix('/').map(|r| r.trim_start_matches('/'))
                    }
                })
            };
            if let Some(rest) = rest {
                return if rest.is_empty() { to.clone() } else { to.join(rest) };
            }
        }
        self.base.join(incoming)
    }

    /// Maps `incoming`, resolves symlinks and checks that the result is a
    /// regular file inside an allowed root. Any `..` component is refused
    /// before anything is looked up.
    pub fn resolve(&self, incoming: &str) -> Result<PathBuf> {
        if incoming.is_empty() {
            return Err(Error::PathRefused("the event's file path is empty".into()));
        }
        if incoming.contains('\0') {
            return Err(Error::PathRefused("the event's file path contains a NUL byte".into()));
        }
        if Path::new(incoming).components().any(|c| c == Component::ParentDir) {
            return Err(Error::PathRefused(format!("{incoming:?} contains a '..' component")));
        }
        let mapped = self.map(incoming);
        let canonical = mapped.canonicalize().map_err(|e| {
            Error::PathRefused(format!("{incoming:?} (mapped to {}): {e}", mapped.display()))
        })?;
        if !self.roots.iter().any(|root| canonical.starts_with(root)) {
            return Err(Error::PathRefused(format!(
                "{incoming:?} resolves to {}, outside the allowed roots ({})",
                canonical.display(),
                self.roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ")
            )));
        }
        let meta = std::fs::metadata(&canonical).map_err(|e| {
            Error::PathRefused(format!("{incoming:?} ({}): {e}", canonical.display()))
        })?;
        if !meta.is_file() {
            return Err(Error::PathRefused(format!(
                "{incoming:?} ({}) is not a regular file",
                canonical.display()
            )));
        }
        Ok(canonical)
    }
}
