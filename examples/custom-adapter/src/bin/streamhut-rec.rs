//! `streamhut-rec [CONFIG]`: the real recorder (what `oneliverec run` runs)
//! with the StreamHut adapter registered, so that channels like
//! `https://streamhut.example/live/ada` in `oneliverec.toml` are watched,
//! recorded, transmuxed and announced like the built-in platforms'.
//! SIGINT or SIGTERM stops it gracefully.

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let config = std::env::args().nth(1).unwrap_or_else(|| "oneliverec.toml".into());
    let Ok(mut term) = signal(SignalKind::terminate()) else { return 1.into() };
    let options = onelive_engine::RunOptions::new(config)
        .with_adapter(Arc::new(custom_adapter::StreamHut))
        .with_shutdown(async move {
            tokio::select! { _ = term.recv() => {}, _ = tokio::signal::ctrl_c() => {} }
        });
    match onelive_engine::run(options).await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("streamhut-rec: {e}");
            1.into()
        }
    }
}
