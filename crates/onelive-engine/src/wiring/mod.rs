//! Real implementations of the [`seams`](crate::seams) over the onelive
//! crates: platform adapters, the ffmpeg recorder, the transmuxer, the
//! webhook dispatcher and the chat (danmaku) clients.

use std::path::Path;
use std::sync::Arc;

use onelive_platform::{PlatformAdapter, PlatformRegistry, Platforms};

use crate::{EngineConfig, EngineError, EngineParts};

mod danmaku;
mod platform;
mod recorder;
mod transmux;
mod webhook;

pub use danmaku::DanmakuChat;
pub use platform::PlatformSource;
pub use recorder::FfmpegRecorder;
pub use transmux::VerifiedTransmuxer;
pub use webhook::{WebhookDelivery, endpoint_of};

/// The platform adapters of a config: the built-ins (with the `[platforms]`
/// settings) and `custom` ones, which are tried first. The one registry the
/// channel checks, the watchers and the API's "add channel" all resolve with.
pub fn platforms(
    config: &EngineConfig,
    custom: &[Arc<dyn PlatformAdapter>],
) -> Result<Platforms, EngineError> {
    let mut platforms = Platforms::from_config(&config.platforms)?;
    for adapter in custom {
        platforms.register(adapter.clone());
    }
    Ok(platforms)
}

/// Checks what `run` checks before it starts, beyond the config file's own
/// validation: an adapter of `registry` claims every channel URL, and every
/// webhook is one the dispatcher accepts (its URL passes the SSRF guard,
/// its secret is a valid `whsec_` key, no id is used twice). The errors
/// name the file and the key (`channels[N].url`, `webhooks[N]`).
pub fn check(
    config: &EngineConfig,
    path: &Path,
    registry: &PlatformRegistry,
) -> Result<(), EngineError> {
    // A misspelled `[platforms.bilbili]` would silently drop its cookies.
    if let Some(name) = registry.unknown_sites(&config.platforms).first() {
        let known: Vec<String> = registry.adapters().iter().map(|a| a.name().to_owned()).collect();
        let closest = known
            .iter()
            .map(|k| (strsim::damerau_levenshtein(name, k), k))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, k)| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        return Err(EngineError::Config {
            path: path.to_path_buf(),
            key: format!("platforms.{name}"),
            reason: format!(
                "no platform is named `{name}`{closest}; the platforms are: {}",
                known.join(", ")
            ),
        });
    }
    for (i, c) in config.channels.iter().enumerate() {
        registry.resolve(&c.url).map_err(|e| EngineError::Config {
            path: path.to_path_buf(),
            key: format!("channels[{i}].url"),
            reason: e.to_string(),
        })?;
    }
    let policy = onelive_webhook::SsrfPolicy::default();
    let mut ids = std::collections::BTreeSet::new();
    for (i, w) in crate::config::numbered_webhooks(&config.webhooks).iter().enumerate() {
        let invalid = |reason: String| EngineError::Config {
            path: path.to_path_buf(),
            key: format!("webhooks[{i}]"),
            reason,
        };
        let endpoint = endpoint_of(w).map_err(|e| invalid(e.to_string()))?;
        endpoint.validate(&policy).map_err(|e| invalid(e.to_string()))?;
        if !ids.insert(endpoint.id.clone()) {
            return Err(invalid(format!("the id `{}` is used twice", endpoint.id)));
        }
    }
    Ok(())
}

/// The real parts for a config: the platform adapters (built-ins and
/// `custom`), ffmpeg recording, verified transmuxing (onelive-transmux),
/// the webhook outbox in `state_dir` and the chat clients (used for the
/// channels `[danmaku]` enables).
pub async fn real_parts(
    config: &EngineConfig,
    state_dir: &Path,
    custom: &[Arc<dyn PlatformAdapter>],
) -> Result<EngineParts, EngineError> {
    let platforms = platforms(config, custom)?;
    real_parts_with(config, state_dir, platforms).await
}

/// [`real_parts`] with a [`Platforms`] built by the caller.
pub async fn real_parts_with(
    config: &EngineConfig,
    state_dir: &Path,
    platforms: Platforms,
) -> Result<EngineParts, EngineError> {
    std::fs::create_dir_all(state_dir).map_err(|e| {
        EngineError::io(format!("cannot create state folder {}", state_dir.display()), e)
    })?;
    Ok(EngineParts {
        source: Arc::new(PlatformSource::from_platforms(platforms, config.platforms.clone())),
        recorder: Arc::new(FfmpegRecorder::default().with_engine(config.recording.engine)),
        transmuxer: Arc::new(VerifiedTransmuxer::default()),
        delivery: Arc::new(WebhookDelivery::open(state_dir).await?),
        chat: Some(Arc::new(DanmakuChat::from_platforms(&config.platforms))),
    })
}
