//! The built-in adapters. Each is also usable on its own.

pub mod bilibili;
mod bytedance;
pub mod douyin;
pub mod douyu;
pub mod generic;
pub mod huya;
pub mod kick;
pub mod soop;
pub mod streamlink;
pub mod tiktok;
pub mod twitch;
pub mod ytdlp;

use std::collections::BTreeMap;

use crate::adapter::PlatformContext;

/// `Referer` and `User-Agent` headers for a stream download.
pub(crate) fn stream_headers(
    ctx: &PlatformContext,
    platform: &str,
    referer: &str,
) -> BTreeMap<String, String> {
    let mut headers = BTreeMap::new();
    headers.insert("Referer".to_owned(), referer.to_owned());
    headers.insert("User-Agent".to_owned(), ctx.config().user_agent_for(platform));
    headers
}

/// md5 as lower-case hex.
pub(crate) fn md5_hex(data: impl AsRef<[u8]>) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(data.as_ref());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unix seconds to a timestamp (None for 0 or out of range).
pub(crate) fn unix_time(secs: i64) -> Option<time::OffsetDateTime> {
    if secs <= 0 {
        return None;
    }
    time::OffsetDateTime::from_unix_timestamp(secs).ok()
}
