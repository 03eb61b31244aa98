//! The error type of the crate.

/// Why a stream could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The bytes do not start with an FLV signature (`FLV`, version 1).
    #[error("not an FLV stream: the first bytes are {found:02x?}, not \"FLV\" version 1")]
    NotFlv {
        /// The first bytes seen (at most 4).
        found: Vec<u8>,
    },
    /// A tag header is not an audio, video or script tag: the stream is
    /// corrupt at this byte offset.
    #[error(
        "corrupt FLV at byte {offset}: tag type {tag_type} is not audio (8), video (9) or script (18)"
    )]
    CorruptTag {
        /// Offset of the tag header in the stream.
        offset: u64,
        /// The tag type byte found.
        tag_type: u8,
    },
    /// The HLS playlist could not be parsed.
    #[error("invalid HLS playlist: {0}")]
    Playlist(String),
    /// The playlist is encrypted (`EXT-X-KEY` with this method).
    #[error("the HLS stream is encrypted ({0}); the native engine does not decrypt")]
    Encrypted(String),
    /// An fMP4 init section or media segment does not parse.
    #[error("invalid fMP4 {0}")]
    Fmp4(String),
    /// The playlist is a master (multivariant) playlist, not a media playlist.
    #[error("the URL is an HLS master playlist, not a media playlist; pick a variant first")]
    MasterPlaylist,
}
