//! Real implementations of the [`seams`](crate::seams) over the onelive
//! crates: platform adapters, the ffmpeg recorder, the transmuxer and the
//! webhook dispatcher.

mod platform;

pub use platform::PlatformSource;
