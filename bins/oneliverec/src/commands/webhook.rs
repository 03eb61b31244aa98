//! `oneliverec webhook test <URL>`: sends a signed `test` event now.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use onelive_engine::{Secret, WebhookConfig};
use onelive_webhook::{Dispatcher, DispatcherConfig};

/// Arguments of `oneliverec webhook`.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    #[command(subcommand)]
    pub command: WebhookCommand,
}

/// `oneliverec webhook` subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// POST a `test` event to a URL and print the answer.
    Test {
        /// The webhook URL.
        url: String,
        /// Signing secret (`whsec_...`), to check the receiver's verification.
        #[arg(long, env = "ONELIVEREC_WEBHOOK_SECRET")]
        secret: Option<String>,
        /// Extra header, `Name: value` (repeatable).
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
    },
}

/// `oneliverec webhook`.
pub fn webhook(args: WebhookArgs) -> anyhow::Result<ExitCode> {
    let WebhookCommand::Test { url, secret, headers } = args.command;
    let mut config = WebhookConfig {
        id: Some("cli-test".into()),
        url,
        events: Vec::new(),
        secret: secret.map(Secret::new),
        secrets: Vec::new(),
        headers: Default::default(),
        enabled: true,
    };
    for h in headers {
        let (name, value) =
            h.split_once(':').with_context(|| format!("header {h:?} is not `Name: value`"))?;
        config.headers.insert(name.trim().to_owned(), Secret::new(value.trim()));
    }
    let endpoint = onelive_engine::wiring::endpoint_of(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    runtime.block_on(async move {
        let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
        let dispatcher = Dispatcher::open(DispatcherConfig::new(dir.path().join("outbox.sqlite")))
            .await
            .context("cannot open a temporary outbox")?;
        let outcome = dispatcher.send_test_to(&endpoint).await.context("test delivery")?;
        let _ = dispatcher.shutdown(std::time::Duration::from_secs(1)).await;
        let target = onelive_engine::config::redact_query(&config.url);
        match (outcome.success, outcome.status) {
            (true, status) => {
                println!(
                    "delivered to {target}: HTTP {} in {} ms",
                    status.map(|s| s.to_string()).unwrap_or_default(),
                    outcome.latency.as_millis()
                );
                Ok(ExitCode::SUCCESS)
            }
            (false, Some(status)) => {
                eprintln!("oneliverec: {target} answered HTTP {status}: {}", outcome.body_excerpt);
                Ok(ExitCode::from(1))
            }
            (false, None) => {
                eprintln!(
                    "oneliverec: {target}: {}",
                    outcome.error.unwrap_or_else(|| "failed".into())
                );
                Ok(ExitCode::from(1))
            }
        }
    })
}
