//! `[cluster]`: cluster mode's section of `oneliverec.toml`, and the
//! fencing check a watcher makes before a part starts.
//!
//! ```toml
//! [cluster]
//! backend = "postgres"
//! url = { env = "ONELIVE_CLUSTER_URL" }   # or a literal "postgres://..."
//! node_id = "rec-1"                       # default: host name + random suffix
//! lease = "15s"
//! max_recordings = 20                     # default: watch.max_concurrent_recordings
//! ```
//!
//! Without `[cluster]` nothing changes: one node, the local config. The
//! section is parsed and checked here; the engine does not start a
//! [`ClusterNode`] from it yet (see docs/cluster.md).

use std::sync::Arc;

use async_trait::async_trait;
use onelive_cluster::{ClusterError, ClusterNode, ClusterOptions, DEFAULT_LEASE};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{EngineError, HumanDuration, Secret};

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The shared database: only `"postgres"`.
    pub backend: ClusterBackend,
    /// Its connection URL, a secret: a literal or `{ env = "NAME" }`.
    pub url: SecretSource,
    /// This node's id (default: host name + random suffix, new at each
    /// start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// How long a lease lasts unrenewed (renewed every third of it).
    #[serde(default = "default_lease")]
    pub lease: HumanDuration,
    /// Channels this node records at most (default:
    /// `watch.max_concurrent_recordings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_recordings: Option<usize>,
}

fn default_lease() -> HumanDuration {
    HumanDuration(DEFAULT_LEASE)
}

/// `cluster.backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterBackend {
    /// PostgreSQL (onelive-cluster).
    Postgres,
}

/// A secret written in the config either as itself or as the name of the
/// environment variable that holds it (`{ env = "NAME" }`). Writing the
/// config back keeps the reference, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value, written in the file.
    Value(Secret),
    /// The name of an environment variable.
    Env(String),
}

impl SecretSource {
    /// The secret: the value, or the variable's content. `key` names the
    /// config key in the error.
    pub fn resolve(&self, key: &str) -> Result<Secret, String> {
        match self {
            Self::Value(s) => Ok(s.clone()),
            Self::Env(name) => match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v)),
                Ok(_) => Err(format!("environment variable {name} (for {key}) is empty")),
                Err(std::env::VarError::NotPresent) => {
                    Err(format!("environment variable {name} (for {key}) is not set"))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(format!("environment variable {name} (for {key}) is not UTF-8"))
                }
            },
        }
    }
}

impl Serialize for SecretSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(s) => s.serialize(serializer),
            Self::Env(name) => {
                use serde::ser::SerializeMap;
                let mut m = serializer.serialize_map(Some(1))?;
                m.serialize_entry("env", name)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretSource;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"a string or { env = "VARIABLE" }"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretSource, E> {
                Ok(SecretSource::Value(Secret::new(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretSource, A::Error> {
                let mut env: Option<String> = None;
                while let Some(k) = map.next_key::<String>()? {
                    if k != "env" {
                        return Err(de::Error::unknown_field(&k, &["env"]));
                    }
                    if env.is_some() {
                        return Err(de::Error::duplicate_field("env"));
                    }
                    env = Some(map.next_value()?);
                }
                match env {
                    Some(name) if !name.trim().is_empty() => Ok(SecretSource::Env(name)),
                    Some(_) => Err(de::Error::custom("the variable name in `env` is empty")),
                    None => Err(de::Error::missing_field("env")),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl ClusterConfig {
    /// The node's [`ClusterOptions`], checked: the URL resolved and
    /// parsed, the node id, lease and capacity in range. Errors name the
    /// `cluster.*` key; none shows the URL. `default_cap` is used when
    /// `max_recordings` is not set.
    pub fn options(
        &self,
        path: &std::path::Path,
        default_cap: usize,
    ) -> Result<ClusterOptions, EngineError> {
        let err = |key: &str, reason: String| EngineError::Config {
            path: path.to_path_buf(),
            key: format!("cluster.{key}"),
            reason,
        };
        let url = self.url.resolve("cluster.url").map_err(|r| err("url", r))?;
        let mut opts = ClusterOptions::new(url.expose())
            .with_lease(self.lease.0)
            .with_max_recordings(self.max_recordings.unwrap_or(default_cap));
        if let Some(id) = &self.node_id {
            opts = opts.with_node_id(id);
        }
        opts.validate().map_err(|e| match e {
            ClusterError::InvalidOption { option, reason } => err(option, reason),
            other => err("url", other.to_string()),
        })?;
        Ok(opts)
    }
}

/// The check a watcher makes right before a part starts, and the note it
/// leaves when the part ends. Single-node mode has no gate.
#[async_trait]
pub trait PartGate: Send + Sync + std::fmt::Debug + 'static {
    /// Whether this node may start a part of `channel` (the engine's
    /// channel id) now. An error means: do not start it, stop recording.
    async fn before_part(&self, channel: &str) -> Result<(), EngineError>;
    /// The part ended (or could not start).
    async fn after_part(&self, channel: &str);
}

/// The cluster's [`PartGate`]: the node must hold the channel's lease, the
/// fencing check must pass, and the channel is marked recording (so that
/// rebalancing never takes it away) before the part starts.
#[derive(Debug, Clone)]
pub struct ClusterGate {
    node: Arc<ClusterNode>,
}

impl ClusterGate {
    /// A gate over a connected node.
    pub fn new(node: Arc<ClusterNode>) -> Self {
        Self { node }
    }
}

fn gate_err(e: ClusterError) -> EngineError {
    EngineError::Invalid(format!("cluster: {e}"))
}

#[async_trait]
impl PartGate for ClusterGate {
    async fn before_part(&self, channel: &str) -> Result<(), EngineError> {
        let lease =
            self.node.leases().into_iter().find(|l| l.key() == channel).ok_or_else(|| {
                EngineError::Invalid(format!(
                    "cluster: node {} holds no lease on channel {channel}",
                    self.node.node_id()
                ))
            })?;
        self.node.check(&lease).await.map_err(gate_err)?;
        self.node.set_recording(&lease, true).await.map_err(gate_err)
    }

    async fn after_part(&self, channel: &str) {
        let Some(lease) = self.node.leases().into_iter().find(|l| l.key() == channel) else {
            return;
        };
        if let Err(e) = self.node.set_recording(&lease, false).await {
            tracing::warn!(channel, error = %e, "cannot mark the channel idle in the cluster");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        cluster: ClusterConfig,
    }

    fn parse(text: &str) -> Result<ClusterConfig, String> {
        toml::from_str::<File>(text).map(|f| f.cluster).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_section_parses_with_defaults() {
        let c =
            parse("[cluster]\nbackend = \"postgres\"\nurl = \"postgres://u:pw@127.0.0.1/db\"\n")
                .unwrap();
        assert_eq!(c.backend, ClusterBackend::Postgres);
        assert_eq!(c.lease.0, Duration::from_secs(15));
        let opts = c.options(Path::new("x.toml"), 7).unwrap();
        assert_eq!(opts.max_recordings(), 7);
        assert!(!opts.node_id().is_empty());
        assert!(!format!("{c:?}{opts:?}").contains("pw@"), "the URL shows in Debug");
    }

    #[test]
    fn the_url_comes_from_the_environment_and_stays_a_reference() {
        // A variable name no other test uses.
        let var = "ONELIVE_TEST_CLUSTER_URL_7F3A";
        let text = format!(
            "[cluster]\nbackend = \"postgres\"\nurl = {{ env = \"{var}\" }}\nnode_id = \"rec-1\"\nlease = \"9s\"\nmax_recordings = 3\n"
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.url, SecretSource::Env(var.into()));
        let err = c.options(Path::new("x.toml"), 1).unwrap_err().to_string();
        assert!(
            err.contains("cluster.url") && err.contains(var) && err.contains("not set"),
            "{err}"
        );
        // A variable that is set: its value is read (the test cannot set
        // one: `set_var` is unsafe and the workspace denies unsafe code).
        let path = std::env::var("PATH").unwrap();
        assert_eq!(SecretSource::Env("PATH".into()).resolve("k").unwrap().expose(), path);
        let back = toml::to_string(&File { cluster: c.clone() }).unwrap();
        assert!(back.contains(&format!("env = \"{var}\"")), "{back}");
        assert_eq!(parse(&back).unwrap(), c);
    }

    #[test]
    fn bad_sections_name_the_key() {
        let base = "[cluster]\nbackend = \"postgres\"\nurl = \"postgres://127.0.0.1/db\"\n";
        let err = parse("[cluster]\nbackend = \"mysql\"\nurl = \"x\"\n").unwrap_err();
        assert!(err.contains("mysql") && err.contains("postgres"), "{err}");
        let err = parse("[cluster]\nbackend = \"postgres\"\nurl = { env = \"\" }\n").unwrap_err();
        assert!(err.contains("empty"), "{err}");
        let err = parse("[cluster]\nbackend = \"postgres\"\nurl = { envv = \"X\" }\n").unwrap_err();
        assert!(err.contains("envv"), "{err}");
        let err = parse(&format!("{base}leese = \"5s\"\n")).unwrap_err();
        assert!(err.contains("leese"), "{err}");
        let path = Path::new("x.toml");
        for (extra, key) in [
            ("lease = \"50ms\"\n", "cluster.lease"),
            ("max_recordings = 0\n", "cluster.max_recordings"),
            ("node_id = \"a b\"\n", "cluster.node_id"),
        ] {
            let c = parse(&format!("{base}{extra}")).unwrap();
            let err = c.options(path, 4).unwrap_err();
            assert!(
                matches!(&err, EngineError::Config { key: k, .. } if k == key),
                "{extra}: {err}"
            );
        }
        let c = parse("[cluster]\nbackend = \"postgres\"\nurl = \"postgres://u:hunter22@127.0.0.1:nope/db\"\n")
            .unwrap();
        let err = c.options(path, 4).unwrap_err().to_string();
        assert!(err.contains("cluster.url") && !err.contains("hunter22"), "{err}");
    }
}

#[cfg(test)]
mod gate_tests {
    use super::*;
    use onelive_cluster::ClusterOptions;
    use std::time::Duration;

    async fn node(url: &str, id: &str, lease: Duration) -> Arc<ClusterNode> {
        let opts =
            ClusterOptions::new(url).with_node_id(id).with_lease(lease).with_max_recordings(5);
        Arc::new(ClusterNode::connect(opts).await.unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gate_lets_only_the_lease_holder_start_a_part() {
        let url = onelive_cluster::testing::database("engine_gate").await.unwrap();
        let lease = Duration::from_secs(3);
        let a = node(&url, "a", lease).await;
        a.upsert_channel("chan", &serde_json::json!({})).await.unwrap();
        let gate = ClusterGate::new(a.clone());
        // No lease yet: no part.
        let err = gate.before_part("chan").await.unwrap_err().to_string();
        assert!(err.contains("holds no lease"), "{err}");

        assert_eq!(a.tick().await.claimed.len(), 1);
        gate.before_part("chan").await.unwrap();
        let st = a.status().await.unwrap();
        assert!(st.channels[0].recording, "the part start is not marked");
        gate.after_part("chan").await;
        assert!(!a.status().await.unwrap().channels[0].recording);

        // `a` pauses; `b` takes the channel over; a's gate refuses at once.
        let b = node(&url, "b", lease).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while b.tick().await.claimed.is_empty() {
            assert!(std::time::Instant::now() < deadline, "b never took the channel over");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(gate.before_part("chan").await.is_err());
        ClusterGate::new(b).before_part("chan").await.unwrap();
    }
}
