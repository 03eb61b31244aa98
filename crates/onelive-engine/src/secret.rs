//! A string that never shows itself in `Debug` or `Display`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret value (cookie, token, webhook secret). `Debug` and `Display`
/// print `<redacted>`; only [`Secret::expose`] gives the value.
///
/// In `oneliverec.toml` a secret is either the value itself or
/// `{ env = "NAME" }`: read from the environment variable `NAME` when the
/// file is loaded, so that the file need not hold it. A secret read from a
/// variable serializes back as `{ env = "NAME" }` (the value never reaches
/// the file when the config is written back); one given as a value
/// serializes as the value.
///
/// ```
/// use onelive_engine::Secret;
/// let s = Secret::new("whsec_abc");
/// assert_eq!(format!("{s:?}"), "<redacted>");
/// assert_eq!(s.expose(), "whsec_abc");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret {
    value: String,
    /// The environment variable it was read from.
    env: Option<String>,
}

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret { value: value.into(), env: None }
    }

    /// Reads the environment variable `name`; an unset or empty variable
    /// is an error that names the variable (never a value).
    pub fn from_env(name: &str) -> Result<Self, String> {
        if name.is_empty() {
            return Err("{ env = \"...\" } names no environment variable".into());
        }
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(Secret { value: v, env: Some(name.to_owned()) }),
            Ok(_) => Err(format!("environment variable {name} is empty")),
            Err(std::env::VarError::NotPresent) => {
                Err(format!("environment variable {name} is not set"))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("environment variable {name} is not valid UTF-8"))
            }
        }
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The environment variable the value was read from, if any.
    pub fn env_name(&self) -> Option<&str> {
        self.env.as_deref()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.env {
            Some(name) => write!(f, "<redacted: ${name}>"),
            None => f.write_str("<redacted>"),
        }
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.env {
            Some(name) => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("env", name)?;
                map.end()
            }
            None => serializer.serialize_str(&self.value),
        }
    }
}

thread_local! {
    /// True while the config file is being read ([`EnvAllowed`]).
    static ENV_ALLOWED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While alive, `{ env = "NAME" }` is accepted on this thread: the config
/// file's parse holds one; every other deserialization (API bodies) refuses it.
pub(crate) struct EnvAllowed(bool);

impl EnvAllowed {
    pub(crate) fn new() -> Self {
        EnvAllowed(ENV_ALLOWED.replace(true))
    }
}

impl Drop for EnvAllowed {
    fn drop(&mut self) {
        ENV_ALLOWED.set(self.0);
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Value(String),
            Env { env: String },
        }
        match Form::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("expected a string or { env = \"VARIABLE\" }"))?
        {
            Form::Value(v) => Ok(Secret::new(v)),
            Form::Env { env } if ENV_ALLOWED.get() => {
                Secret::from_env(&env).map_err(serde::de::Error::custom)
            }
            // Through the HTTP API a caller could name any variable of the
            // recorder's environment and have its value sent to a URL of
            // theirs: only the config file (whose author owns the
            // environment) may name one.
            Form::Env { .. } => Err(serde::de::Error::custom(
                "an environment variable can be named only in the config file; give the value",
            )),
        }
    }
}
