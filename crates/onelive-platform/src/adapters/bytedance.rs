//! The stream ladder ByteDance's live rooms share (Douyin and TikTok):
//! `pull_data.stream_data`, a JSON string holding
//! `data.<sdk_key>.main.{flv, hls, sdk_params}`, named by
//! `pull_data.options.qualities[]{name, sdk_key, level}`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::adapter::{StreamKind, StreamVariant};
use crate::json as j;

/// A value that is either JSON or a string holding JSON.
fn nested(value: Option<&Value>) -> Option<Value> {
    match value? {
        Value::String(text) => serde_json::from_str(text).ok(),
        Value::Null => None,
        other => Some(other.clone()),
    }
}

/// `avc`/`hevc` from ByteDance's `VCodec` names.
fn codec_name(vcodec: &str) -> Option<String> {
    match vcodec.to_ascii_lowercase().as_str() {
        "" => None,
        "h264" | "264" | "avc" => Some("avc".to_owned()),
        "h265" | "265" | "hevc" | "bytevc1" => Some("hevc".to_owned()),
        other => Some(other.to_owned()),
    }
}

/// `(width, height)` from `"1920x1080"`.
fn resolution(text: &str) -> (Option<u32>, Option<u32>) {
    match text.split_once('x') {
        Some((w, h)) => (w.trim().parse().ok(), h.trim().parse().ok()),
        None => (None, None),
    }
}

/// The variants of `pull_data` (an object with `stream_data` and
/// `options`), source (`origin`) first, then by the platform's level,
/// height and bitrate; FLV before HLS within a quality. Audio-only (`ao`)
/// entries are left out. Every variant gets `headers`.
pub(crate) fn ladder(pull_data: &Value, headers: &BTreeMap<String, String>) -> Vec<StreamVariant> {
    let Some(stream_data) = nested(pull_data.get("stream_data")) else { return Vec::new() };
    let Some(Value::Object(qualities)) = stream_data.get("data") else { return Vec::new() };
    let options = j::array(pull_data, "/options/qualities");
    let option_for = |key: &str| options.iter().find(|o| j::string_or_empty(o, "/sdk_key") == key);
    let mut ranked = Vec::new();
    for (key, entry) in qualities {
        if key == "ao" {
            continue;
        }
        let Some(main) = entry.get("main") else { continue };
        let params = nested(main.get("sdk_params")).unwrap_or(Value::Null);
        let (width, height) = resolution(&j::string_or_empty(&params, "/resolution"));
        let bitrate = j::int(&params, "/vbitrate").filter(|b| *b > 0).map(|b| (b / 1000) as u32);
        let codec = codec_name(&j::string_or_empty(&params, "/VCodec"));
        let option = option_for(key);
        let name = option
            .and_then(|o| j::string(o, "/name"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| key.clone());
        let level = option.and_then(|o| j::int(o, "/level")).unwrap_or(-1);
        let source = key == "origin";
        let mut group = Vec::new();
        for (field, kind) in [("flv", StreamKind::Flv), ("hls", StreamKind::Hls)] {
            let Some(url) = j::string(main, &format!("/{field}")).filter(|u| !u.is_empty()) else {
                continue;
            };
            let mut v = StreamVariant::new(url, kind, name.clone());
            v.source = source;
            v.width = width;
            v.height = height;
            v.bitrate_kbps = bitrate;
            v.codec = codec.clone();
            v.headers = headers.clone();
            group.push(v);
        }
        ranked.push(((source, level, height.unwrap_or(0), bitrate.unwrap_or(0)), group));
    }
    ranked.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
    ranked.into_iter().flat_map(|(_, group)| group).collect()
}

/// The older per-resolution maps (`flv_pull_url`, `hls_pull_url_map`:
/// `FULL_HD1`, `HD1`, `SD1`, `SD2`), for rooms without `stream_data`.
/// `FULL_HD1` is the source.
pub(crate) fn resolution_maps(
    stream_url: &Value,
    headers: &BTreeMap<String, String>,
) -> Vec<StreamVariant> {
    const ORDER: [&str; 5] = ["FULL_HD1", "HD1", "SD1", "SD2", "LD1"];
    let mut variants = Vec::new();
    for key in ORDER {
        for (map, kind) in
            [("flv_pull_url", StreamKind::Flv), ("hls_pull_url_map", StreamKind::Hls)]
        {
            if let Some(url) =
                j::string(stream_url, &format!("/{map}/{key}")).filter(|u| !u.is_empty())
            {
                let mut v = StreamVariant::new(url, kind, key);
                v.source = key == "FULL_HD1";
                v.headers = headers.clone();
                variants.push(v);
            }
        }
    }
    variants
}
