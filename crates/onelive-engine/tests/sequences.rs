//! The event sequences of a recorded live session, one set for the
//! engine's tests and `oneliverec`'s process tests (which include this file
//! by path).

/// A live session recorded in one part, transmuxed and ended, between the
/// engine's start and its shutdown.
pub const SESSION: [&str; 7] = [
    "app_launch",
    "live_start",
    "video_file_create",
    "video_file_finish",
    "video_transmux_finish",
    "live_end",
    "app_exit",
];

/// [`SESSION`] cut by a shutdown while live: no `live_end` (the live did
/// not end; the session continues at the next start).
pub const SESSION_CUT_BY_SHUTDOWN: [&str; 6] = [
    "app_launch",
    "live_start",
    "video_file_create",
    "video_file_finish",
    "video_transmux_finish",
    "app_exit",
];
