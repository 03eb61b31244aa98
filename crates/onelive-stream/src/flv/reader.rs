//! The incremental tag reader.

use bytes::{Buf, BytesMut};

use super::{FlvHeader, Tag, TagKind};
use crate::StreamError;

/// What the reader hands out, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// The file header (first item of a stream).
    Header(FlvHeader),
    /// One tag.
    Tag(Tag),
}

/// An incremental FLV reader: [`push`](Self::push) bytes as they arrive,
/// then take items with [`next_item`](Self::next_item) until it returns
/// `Ok(None)` (more bytes needed).
///
/// Tag bodies are handed out without copying. Back pointers
/// (`PreviousTagSize`) are skipped without being trusted, as CDNs get them
/// wrong. A new connection needs a new reader (or [`reset`](Self::reset)).
#[derive(Debug, Default)]
pub struct FlvReader {
    buf: BytesMut,
    header_done: bool,
    /// Bytes still to skip before the next tag header (back pointer,
    /// extended header).
    skip: usize,
    /// Stream offset of `buf[0]`.
    offset: u64,
    failed: Option<StreamError>,
}

impl FlvReader {
    /// A reader waiting for the FLV header.
    pub fn new() -> Self {
        FlvReader::default()
    }

    /// Forgets everything: the next bytes start a new stream (with a header).
    pub fn reset(&mut self) {
        *self = FlvReader::default();
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes received but not handed out yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes of the stream consumed so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    fn advance(&mut self, n: usize) {
        self.buf.advance(n);
        self.offset += n as u64;
    }

    /// The next complete item, `Ok(None)` when more bytes are needed, or the
    /// error that makes the rest of the stream unreadable (returned again on
    /// every later call).
    pub fn next_item(&mut self) -> Result<Option<Item>, StreamError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if !self.header_done {
            if self.buf.len() < 9 {
                let seen = &self.buf[..];
                if !b"FLV\x01".starts_with(&seen[..seen.len().min(4)]) {
                    return Err(self
                        .fail(StreamError::NotFlv { found: seen[..seen.len().min(4)].to_vec() }));
                }
                return Ok(None);
            }
            if &self.buf[..4] != b"FLV\x01" {
                return Err(self.fail(StreamError::NotFlv { found: self.buf[..4].to_vec() }));
            }
            let flags = self.buf[4];
            let data_offset =
                u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]);
            self.header_done = true;
            self.advance(9);
            // The header may announce a longer header; then PreviousTagSize0.
            self.skip = (data_offset.saturating_sub(9) as usize).min(1 << 16) + 4;
            return Ok(Some(Item::Header(FlvHeader {
                has_audio: flags & 0x04 != 0,
                has_video: flags & 0x01 != 0,
            })));
        }
        if self.skip > 0 {
            let n = self.skip.min(self.buf.len());
            self.advance(n);
            self.skip -= n;
            if self.skip > 0 {
                return Ok(None);
            }
        }
        let Some(&type_byte) = self.buf.first() else {
            return Ok(None);
        };
        let Some(kind) = TagKind::from_byte(type_byte) else {
            let offset = self.offset;
            return Err(self.fail(StreamError::CorruptTag { offset, tag_type: type_byte }));
        };
        if self.buf.len() < 11 {
            return Ok(None);
        }
        let h = &self.buf[..11];
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        let timestamp = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        if self.buf.len() < 11 + len {
            self.buf.reserve(11 + len - self.buf.len());
            return Ok(None);
        }
        self.advance(11);
        let data = self.buf.split_to(len).freeze();
        self.offset += len as u64;
        self.skip = 4;
        Ok(Some(Item::Tag(Tag { kind, timestamp, data })))
    }

    fn fail(&mut self, e: StreamError) -> StreamError {
        self.failed = Some(e.clone());
        self.buf = BytesMut::new();
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn stream(tags: &[Tag]) -> Vec<u8> {
        let mut v = FlvHeader { has_audio: true, has_video: true }.to_bytes().to_vec();
        for t in tags {
            t.encode_into(&mut v);
        }
        v
    }

    #[test]
    fn reads_tags_split_at_every_byte() {
        let tags = vec![
            Tag {
                kind: TagKind::Video,
                timestamp: 0,
                data: Bytes::from_static(&[0x17, 0, 0, 0, 0, 1]),
            },
            Tag {
                kind: TagKind::Audio,
                timestamp: 0x0123_4567,
                data: Bytes::from_static(&[0xaf, 1, 9]),
            },
        ];
        let bytes = stream(&tags);
        let mut r = FlvReader::new();
        let mut got = Vec::new();
        for b in &bytes {
            r.push(std::slice::from_ref(b));
            while let Some(item) = r.next_item().unwrap() {
                got.push(item);
            }
        }
        assert_eq!(got[0], Item::Header(FlvHeader { has_audio: true, has_video: true }));
        assert_eq!(got[1..], [Item::Tag(tags[0].clone()), Item::Tag(tags[1].clone())]);
        assert_eq!(r.position(), bytes.len() as u64);
    }

    #[test]
    fn rejects_what_is_not_flv_at_once() {
        let mut r = FlvReader::new();
        r.push(b"#EXTM3U\n");
        assert!(matches!(r.next_item(), Err(StreamError::NotFlv { .. })));
        let mut r = FlvReader::new();
        r.push(b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00\x07\x00");
        assert!(matches!(r.next_item(), Ok(Some(Item::Header(_)))));
        let e = r.next_item().unwrap_err();
        assert_eq!(e, StreamError::CorruptTag { offset: 13, tag_type: 7 });
        assert_eq!(r.next_item().unwrap_err(), e);
    }
}
