//! Loopback tests: WebSocket servers on 127.0.0.1 speaking each platform's
//! protocol (frames from tests/fixtures, see its README), and the chat files.

mod bilibili;
mod common;
mod douyu;
mod twitch;
mod xml;
