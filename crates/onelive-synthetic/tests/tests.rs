//! Integration tests of the synthetic origin (real ffmpeg, loopback only).

mod danmaku;
mod origin;
