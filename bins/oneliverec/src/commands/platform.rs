//! Platform commands: `platforms`, `parse`, `probe`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use onelive_platform::{PlatformRegistry, Platforms, PlatformsConfig};
use serde::Deserialize;
use serde_json::json;

/// Arguments of `oneliverec platforms`.
#[derive(Debug, Args)]
pub struct PlatformsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `oneliverec parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// A channel URL, as pasted from a browser.
    pub url: String,
    /// A TOML config file; its `[platforms]` section may disable the
    /// streamlink fallback or point at another streamlink.
    #[arg(long, short = 'c', env = "ONELIVEREC_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Arguments of `oneliverec probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// A channel URL.
    pub url: String,
    /// A TOML config file; its `[platforms]` section sets cookies, proxy,
    /// user agent and host overrides.
    #[arg(long, short = 'c', env = "ONELIVEREC_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The part of `oneliverec.toml` these commands read.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    platforms: PlatformsConfig,
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<PlatformsConfig> {
    let Some(path) = path else { return Ok(PlatformsConfig::default()) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let file: ConfigFile =
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?;
    Ok(file.platforms)
}

/// `oneliverec platforms`.
pub fn platforms(args: PlatformsArgs) -> anyhow::Result<ExitCode> {
    let registry = PlatformRegistry::builtin(&PlatformsConfig::default());
    let list: Vec<_> = registry
        .adapters()
        .iter()
        .map(|a| json!({"platform": a.name(), "url_forms": a.url_forms()}))
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for adapter in registry.adapters() {
            println!("{}", adapter.name());
            for form in adapter.url_forms() {
                println!("    {form}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `oneliverec parse`.
pub fn parse(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_ref())?;
    let registry = PlatformRegistry::builtin(&config);
    match registry.resolve(&args.url) {
        Ok(channel) => {
            println!("{}", serde_json::to_string(&channel)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("oneliverec: {error}");
            Ok(ExitCode::from(2))
        }
    }
}

/// `oneliverec probe`.
pub fn probe(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_ref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let platforms = Platforms::from_config(&config)?;
        let channel = match platforms.resolve(&args.url) {
            Ok(channel) => channel,
            Err(error) => {
                eprintln!("oneliverec: {error}");
                return Ok(ExitCode::from(2));
            }
        };
        let info = match platforms.live_info(&channel).await {
            Ok(info) => info,
            Err(error) => {
                eprintln!("oneliverec: {error}");
                return Ok(ExitCode::from(3));
            }
        };
        let (variants, variants_error) = if info.is_live() {
            match platforms.stream_variants(&channel).await {
                Ok(v) => (v, None),
                Err(error) => (Vec::new(), Some(error.to_string())),
            }
        } else {
            (Vec::new(), None)
        };
        let out = json!({
            "platform": channel.platform,
            "channel": channel.channel,
            "url": platforms.channel_url(&channel),
            "live_info": info,
            "variants": variants,
            "variants_error": variants_error,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(if variants_error.is_some() { ExitCode::from(3) } else { ExitCode::SUCCESS })
    })
}
