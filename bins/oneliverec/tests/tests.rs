//! `oneliverec` run as a process.

mod platform_commands;
