//! `oneliverec` run as a process.

mod e2e_blip;
mod e2e_canonical;
mod e2e_changes;
mod e2e_cli;
mod e2e_config;
mod e2e_demo;
mod e2e_docker_entrypoint;
mod e2e_douyin;
mod e2e_grafana;
mod e2e_ops;
mod e2e_pipeline;
mod e2e_probe;
mod e2e_secrets;
mod e2e_signals;
mod e2e_support;
mod e2e_webui;
mod grafana_dashboard;
mod platform_commands;
#[path = "../../../crates/onelive-engine/tests/sequences.rs"]
mod sequences;
