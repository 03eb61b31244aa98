//! `hls`: the little of HLS master playlists the adapters need, public so
//! that custom adapters parse master playlists the way the built-ins do.
//!
//! ```
//! use onelive_platform::hls;
//!
//! let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080\n1080/index.m3u8\n\
//!               #EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=854x480\n480/index.m3u8\n";
//! assert!(hls::is_playlist(master));
//! let entries = hls::parse_master(master, "https://cdn.example.tv/live/master.m3u8");
//! assert_eq!(entries[0].uri, "https://cdn.example.tv/live/1080/index.m3u8");
//! let variants = hls::ranked_variants(entries, &Default::default());
//! assert_eq!((variants[0].quality.as_str(), variants[0].source), ("1080p", true));
//! ```

/// One `#EXT-X-STREAM-INF` entry of a master playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsEntry {
    /// Absolute URI of the media playlist.
    pub uri: String,
    /// A quality name: `IVS-NAME`, `STABLE-VARIANT-ID`, the `VIDEO` group's
    /// `NAME`, else `<height>p`, else `variant<N>`.
    pub name: String,
    /// `BANDWIDTH`, bits per second.
    pub bandwidth: Option<u64>,
    /// Width from `RESOLUTION`.
    pub width: Option<u32>,
    /// Height from `RESOLUTION`.
    pub height: Option<u32>,
    /// `CODECS`.
    pub codecs: Option<String>,
    /// True when marked as source (`IVS-VARIANT-SOURCE="source"` or the
    /// `VIDEO` group is `chunked`).
    pub source: bool,
}

impl HlsEntry {
    /// This entry as a stream variant; the recorder sends `headers` with it.
    pub fn into_variant(
        self,
        headers: &std::collections::BTreeMap<String, String>,
    ) -> crate::adapter::StreamVariant {
        let mut v = crate::adapter::StreamVariant::new(
            self.uri,
            crate::adapter::StreamKind::Hls,
            self.name,
        );
        v.source = self.source;
        v.width = self.width;
        v.height = self.height;
        v.bitrate_kbps = self.bandwidth.map(|b| (b / 1000) as u32);
        v.codec = self.codecs;
        v.headers = headers.clone();
        v
    }
}

/// The entries of a master playlist that marks no source rendition, as
/// variants: highest bitrate first, and that one marked as the source.
pub fn ranked_variants(
    entries: Vec<HlsEntry>,
    headers: &std::collections::BTreeMap<String, String>,
) -> Vec<crate::adapter::StreamVariant> {
    let mut variants: Vec<_> = entries
        .into_iter()
        .map(|e| crate::adapter::StreamVariant { source: false, ..e.into_variant(headers) })
        .collect();
    variants.sort_by_key(|v| std::cmp::Reverse(v.bitrate_kbps.unwrap_or(0)));
    if let Some(first) = variants.first_mut() {
        first.source = true;
    }
    variants
}

/// Parses `key=value` attribute lists, honouring quoted values.
fn attributes(list: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_owned();
        rest = &rest[eq + 1..];
        let value;
        if let Some(stripped) = rest.strip_prefix('"') {
            let end = stripped.find('"').unwrap_or(stripped.len());
            value = stripped[..end].to_owned();
            rest = stripped.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].to_owned();
            rest = &rest[end..];
        }
        rest = rest.trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

fn get<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Resolves `uri` against `base`.
pub fn resolve(base: &str, uri: &str) -> String {
    match url::Url::parse(base).and_then(|b| b.join(uri)) {
        Ok(u) => u.to_string(),
        Err(_) => uri.to_owned(),
    }
}

/// True when `text` is an HLS playlist.
pub fn is_playlist(text: &str) -> bool {
    text.trim_start_matches('\u{feff}').trim_start().starts_with("#EXTM3U")
}

/// True when a media playlist carries `#EXT-X-ENDLIST`: the stream is
/// finished (VOD, or a live stream that has ended) and no segment will be
/// added.
pub fn has_endlist(text: &str) -> bool {
    text.lines().any(|line| line.trim() == "#EXT-X-ENDLIST")
}

/// The variants of a master playlist (empty for a media playlist).
pub fn parse_master(text: &str, base_url: &str) -> Vec<HlsEntry> {
    let mut media_names: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(list) = line.trim().strip_prefix("#EXT-X-MEDIA:") {
            let attrs = attributes(list);
            if get(&attrs, "TYPE") == Some("VIDEO")
                && let (Some(group), Some(name)) = (get(&attrs, "GROUP-ID"), get(&attrs, "NAME"))
            {
                media_names.push((group.to_owned(), name.to_owned()));
            }
        }
    }
    let mut entries = Vec::new();
    let mut pending: Option<Vec<(String, String)>> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(list) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            pending = Some(attributes(list));
        } else if !line.is_empty() && !line.starts_with('#') {
            let Some(attrs) = pending.take() else { continue };
            let (width, height) = get(&attrs, "RESOLUTION")
                .and_then(|r| r.split_once('x'))
                .map(|(w, h)| (w.parse().ok(), h.parse().ok()))
                .unwrap_or((None, None));
            let group = get(&attrs, "VIDEO");
            let group_name = group
                .and_then(|g| media_names.iter().find(|(gid, _)| gid == g))
                .map(|(_, n)| n.clone());
            let name = get(&attrs, "IVS-NAME")
                .or_else(|| get(&attrs, "STABLE-VARIANT-ID"))
                .map(str::to_owned)
                .or(group_name)
                .or_else(|| height.map(|h: u32| format!("{h}p")))
                .unwrap_or_else(|| format!("variant{}", entries.len() + 1));
            let source = get(&attrs, "IVS-VARIANT-SOURCE") == Some("source")
                || group == Some("chunked")
                || name.contains("source");
            entries.push(HlsEntry {
                uri: resolve(base_url, line),
                name,
                bandwidth: get(&attrs, "BANDWIDTH").and_then(|b| b.parse().ok()),
                width,
                height,
                codecs: get(&attrs, "CODECS").map(str::to_owned),
                source,
            });
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_twitch_style_master() {
        let text = "#EXTM3U\n#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"chunked\",NAME=\"1080p60 (source)\",AUTOSELECT=YES\n\
#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080,CODECS=\"avc1.64002A,mp4a.40.2\",VIDEO=\"chunked\",FRAME-RATE=60.000\n\
https://cdn.example/source.m3u8\n\
#EXT-X-STREAM-INF:BANDWIDTH=1400000,RESOLUTION=852x480,IVS-NAME=\"480p30\",VIDEO=\"480p30\"\n\
480p.m3u8\n";
        let entries = parse_master(text, "https://usher.example/x/master.m3u8?tok=1");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "1080p60 (source)");
        assert!(entries[0].source);
        assert_eq!(entries[0].height, Some(1080));
        assert_eq!(entries[0].codecs.as_deref(), Some("avc1.64002A,mp4a.40.2"));
        assert_eq!(entries[1].name, "480p30");
        assert!(!entries[1].source);
        assert_eq!(entries[1].uri, "https://usher.example/x/480p.m3u8");
        assert_eq!(entries[1].bandwidth, Some(1_400_000));
    }

    #[test]
    fn media_playlist_has_no_variants() {
        assert!(parse_master("#EXTM3U\n#EXTINF:2,\nseg0.ts\n", "http://a/b.m3u8").is_empty());
        assert!(is_playlist("\u{feff}#EXTM3U\n"));
        assert!(!is_playlist("<html>"));
    }

    #[test]
    fn endlist_marks_a_finished_playlist() {
        assert!(has_endlist("#EXTM3U\n#EXTINF:2,\nseg0.ts\n#EXT-X-ENDLIST\n"));
        assert!(has_endlist("#EXTM3U\r\n#EXTINF:2,\r\nseg0.ts\r\n#EXT-X-ENDLIST"));
        assert!(!has_endlist("#EXTM3U\n#EXTINF:2,\nseg0.ts\n"));
        assert!(!has_endlist("#EXTM3U\n#EXTINF:2,\n#EXT-X-ENDLIST-NOT.ts\n"));
    }
}
