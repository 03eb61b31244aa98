//! Registers the StreamHut adapter next to the built-ins, resolves the URL
//! given as the first argument, and, when it is live, prints its live info
//! and streams as JSON. A `[platforms]` config written as JSON (e.g. host overrides)
//! can be given as the second argument.

use std::sync::Arc;

use custom_adapter::StreamHut;
use onelive_platform::{Platforms, PlatformsConfig};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: custom-adapter <URL> [platforms.json]");
        return std::process::ExitCode::from(2);
    };
    let config: PlatformsConfig = match args.next().map(std::fs::read_to_string) {
        None => PlatformsConfig::default(),
        Some(Ok(text)) => match toml_free_parse(&text) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("custom-adapter: invalid config: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        Some(Err(e)) => {
            eprintln!("custom-adapter: cannot read config: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut platforms = match Platforms::from_config(&config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("custom-adapter: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    platforms.register(Arc::new(StreamHut));
    let channel = match platforms.resolve(&url) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("custom-adapter: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let info = match platforms.live_info(&channel).await {
        Ok(i) => i,
        Err(e) => {
            eprintln!("custom-adapter: {e}");
            return std::process::ExitCode::from(3);
        }
    };
    let variants = if info.is_live() {
        platforms.stream_variants(&channel).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let out = serde_json::json!({"channel": channel, "live_info": info, "variants": variants});
    println!("{out}");
    std::process::ExitCode::SUCCESS
}

/// The config as JSON (this example avoids a TOML dependency).
fn toml_free_parse(text: &str) -> Result<PlatformsConfig, serde_json::Error> {
    serde_json::from_str(text)
}
