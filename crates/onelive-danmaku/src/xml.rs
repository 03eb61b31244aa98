//! Chat files: the XML that BililiveRecorder writes (read by DanmakuFactory
//! and the common danmaku players), and optional JSON Lines.
//!
//! Layout: an `<i>` root; one record per line: `<d p="time,mode,size,
//! color,sent_ms,0,uid,0" user="name">text</d>`, `<sc>`, `<gift>` and
//! `<guard>` with `ts` in seconds from the part's start.
//!
//! Crash safety: the file always ends with the closing `</i>`. Records are
//! buffered and written at most every [`XmlOptions::flush_interval`] (or
//! [`XmlOptions::flush_records`]) by seeking back over the closing tag and
//! writing the batch plus the closing tag in one write. A process killed
//! between flushes leaves a valid file missing at most the unflushed batch.
//! A torn write (power loss) is cut back to its last whole record by
//! [`repair`].

use crate::error::DanmakuError;
use crate::event::{ChatEvent, Platform, Received};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TAIL: &[u8] = b"</i>\n";

/// What the header of a chat file says about the recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartInfo {
    /// The platform, if known.
    pub platform: Option<Platform>,
    /// The room or channel id.
    pub room_id: String,
    /// The streamer's name.
    pub name: String,
    /// The stream title.
    pub title: String,
    /// When the part started, RFC 3339 (the caller formats it).
    pub start_time: String,
}

/// Writer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlOptions {
    /// Write buffered records at least this often.
    pub flush_interval: Duration,
    /// Write once this many records are buffered.
    pub flush_records: usize,
    /// Also write `<base>.jsonl`, one JSON object per event.
    pub jsonl: bool,
}

impl Default for XmlOptions {
    fn default() -> Self {
        Self { flush_interval: Duration::from_secs(1), flush_records: 256, jsonl: false }
    }
}

/// What a finished part's chat file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartSummary {
    /// The XML file.
    pub path: PathBuf,
    /// The JSON Lines file, when written.
    pub jsonl_path: Option<PathBuf>,
    /// `<d>` records.
    pub comments: u64,
    /// `<sc>` records.
    pub super_chats: u64,
    /// `<gift>` records.
    pub gifts: u64,
    /// `<guard>` records.
    pub guards: u64,
    /// Events received before the part's start (not written).
    pub before_start: u64,
}

/// The chat file of one recorded part.
#[derive(Debug)]
pub struct XmlChatWriter {
    file: File,
    jsonl: Option<File>,
    pending: Vec<u8>,
    pending_jsonl: Vec<u8>,
    pending_records: usize,
    part_start: Instant,
    last_flush: Instant,
    options: XmlOptions,
    summary: PartSummary,
}

/// The chat file path for a video file: same name, `.xml`.
pub fn xml_path_for(video: &Path) -> PathBuf {
    video.with_extension("xml")
}

impl XmlChatWriter {
    /// Creates (or truncates) `path` and writes the header. Offsets are
    /// measured from `part_start`, the instant of the part's first frame.
    pub fn create(
        path: &Path,
        part_start: Instant,
        info: &PartInfo,
        options: XmlOptions,
    ) -> Result<Self, DanmakuError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DanmakuError::io(dir, e))?;
        }
        let mut file = File::create(path).map_err(|e| DanmakuError::io(path, e))?;
        let mut head = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<i>\n");
        for (tag, value) in [
            ("chatserver", "chat.bilibili.com"),
            ("chatid", "0"),
            ("mission", "0"),
            ("maxlimit", "1000"),
            ("state", "0"),
            ("real_name", "0"),
            ("source", "0"),
        ] {
            head.push_str(&format!("  <{tag}>{value}</{tag}>\n"));
        }
        head.push_str("  <OneliveRecordInfo version=\"");
        head.push_str(env!("CARGO_PKG_VERSION"));
        head.push_str("\" platform=\"");
        head.push_str(info.platform.map(Platform::as_str).unwrap_or(""));
        for (name, value) in [
            ("roomid", &info.room_id),
            ("name", &info.name),
            ("title", &info.title),
            ("start_time", &info.start_time),
        ] {
            head.push_str("\" ");
            head.push_str(name);
            head.push_str("=\"");
            escape_into(&mut head, value);
        }
        head.push_str("\"/>\n");
        file.write_all(head.as_bytes())
            .and_then(|()| file.write_all(TAIL))
            .map_err(|e| DanmakuError::io(path, e))?;
        let jsonl_path = options.jsonl.then(|| path.with_extension("jsonl"));
        let jsonl = match &jsonl_path {
            Some(p) => Some(File::create(p).map_err(|e| DanmakuError::io(p, e))?),
            None => None,
        };
        Ok(Self {
            file,
            jsonl,
            pending: Vec::new(),
            pending_jsonl: Vec::new(),
            pending_records: 0,
            part_start,
            last_flush: Instant::now(),
            options,
            summary: PartSummary { path: path.to_path_buf(), jsonl_path, ..PartSummary::default() },
        })
    }

    /// The part's start instant.
    pub fn part_start(&self) -> Instant {
        self.part_start
    }

    /// Buffers one event (signals go to JSON Lines only); writes the buffer
    /// when a flush is due.
    pub fn write(&mut self, received: &Received) -> Result<(), DanmakuError> {
        let Some(offset) = received.at.checked_duration_since(self.part_start) else {
            self.summary.before_start += 1;
            return Ok(());
        };
        let t = offset.as_secs_f64();
        let mut line = String::with_capacity(160);
        match &received.event {
            ChatEvent::Comment(c) => {
                line.push_str(&format!(
                    "  <d p=\"{t:.3},{},{},{},{},0,",
                    c.mode,
                    c.size,
                    c.color,
                    c.sent_at_ms.unwrap_or(0)
                ));
                escape_into(&mut line, &c.sender.id);
                line.push_str(",0\" user=\"");
                escape_into(&mut line, &c.sender.name);
                if let Some(bits) = c.bits {
                    line.push_str(&format!("\" bits=\"{bits}"));
                }
                line.push_str("\">");
                escape_into(&mut line, &c.text);
                line.push_str("</d>\n");
                self.summary.comments += 1;
            }
            ChatEvent::SuperChat(s) => {
                line.push_str(&format!("  <sc ts=\"{t:.3}\" user=\""));
                escape_into(&mut line, &s.sender.name);
                line.push_str("\" uid=\"");
                escape_into(&mut line, &s.sender.id);
                line.push_str(&format!("\" price=\"{}\" time=\"{}\">", s.price, s.keep_seconds));
                escape_into(&mut line, &s.text);
                line.push_str("</sc>\n");
                self.summary.super_chats += 1;
            }
            ChatEvent::Gift(g) => {
                line.push_str(&format!("  <gift ts=\"{t:.3}\" user=\""));
                escape_into(&mut line, &g.sender.name);
                line.push_str("\" uid=\"");
                escape_into(&mut line, &g.sender.id);
                line.push_str("\" giftname=\"");
                escape_into(&mut line, &g.name);
                line.push_str(&format!("\" giftcount=\"{}\"/>\n", g.count));
                self.summary.gifts += 1;
            }
            ChatEvent::Guard(g) => {
                line.push_str(&format!("  <guard ts=\"{t:.3}\" user=\""));
                escape_into(&mut line, &g.sender.name);
                line.push_str("\" uid=\"");
                escape_into(&mut line, &g.sender.id);
                line.push_str(&format!("\" level=\"{}\" count=\"{}\"/>\n", g.level, g.count));
                self.summary.guards += 1;
            }
            ChatEvent::Signal { .. } => {}
        }
        self.pending.extend_from_slice(line.as_bytes());
        if self.jsonl.is_some() {
            let record =
                serde_json::json!({ "t": (t * 1000.0).round() / 1000.0, "event": &received.event });
            self.pending_jsonl.extend_from_slice(record.to_string().as_bytes());
            self.pending_jsonl.push(b'\n');
        }
        self.pending_records += 1;
        if self.pending_records >= self.options.flush_records {
            self.flush()?;
        } else {
            self.flush_if_due()?;
        }
        Ok(())
    }

    /// Writes the buffer if the flush interval has passed.
    pub fn flush_if_due(&mut self) -> Result<(), DanmakuError> {
        if self.pending_records > 0 && self.last_flush.elapsed() >= self.options.flush_interval {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes buffered records, keeping the file valid XML.
    pub fn flush(&mut self) -> Result<(), DanmakuError> {
        self.last_flush = Instant::now();
        if self.pending_records == 0 {
            return Ok(());
        }
        self.pending.extend_from_slice(TAIL);
        let path = &self.summary.path;
        self.file
            .seek(SeekFrom::End(-(TAIL.len() as i64)))
            .and_then(|_| self.file.write_all(&self.pending))
            .map_err(|e| DanmakuError::io(path, e))?;
        self.pending.clear();
        self.pending_records = 0;
        if let (Some(f), Some(p)) = (&mut self.jsonl, &self.summary.jsonl_path) {
            f.write_all(&self.pending_jsonl).map_err(|e| DanmakuError::io(p, e))?;
            self.pending_jsonl.clear();
        }
        Ok(())
    }

    /// Writes what is buffered, syncs the file to disk and closes it.
    pub fn finish(mut self) -> Result<PartSummary, DanmakuError> {
        self.flush()?;
        let path = &self.summary.path;
        self.file.sync_all().map_err(|e| DanmakuError::io(path, e))?;
        if let (Some(f), Some(p)) = (&self.jsonl, &self.summary.jsonl_path) {
            f.sync_all().map_err(|e| DanmakuError::io(p, e))?;
        }
        Ok(self.summary)
    }
}

/// Characters XML 1.0 forbids, plus the C1 controls and non-characters
/// BililiveRecorder also strips (players choke on them).
fn forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}'
        | '\u{7F}'..='\u{9F}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Appends `s` escaped for both text and attribute values: `& < > " '`,
/// line breaks and tabs as character references (a record stays on one
/// line), forbidden characters dropped. Rust strings hold no surrogates;
/// lone surrogate escapes were replaced when the JSON was parsed.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if forbidden(c) => {}
            c => out.push(c),
        }
    }
}

/// What [`repair`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairOutcome {
    /// The file was already whole.
    Intact,
    /// A torn tail was cut off (bytes removed) and the root closed.
    Repaired {
        /// Bytes removed from the end.
        removed: u64,
    },
}

/// Makes a chat file left by a crash valid again: keeps every whole record
/// line, drops a torn last line, and closes the root. Refuses files that do
/// not start like one of ours.
pub fn repair(path: &Path) -> Result<RepairOutcome, DanmakuError> {
    let bytes = std::fs::read(path).map_err(|e| DanmakuError::io(path, e))?;
    let head = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<i>\n";
    if !bytes.starts_with(head) {
        return Err(DanmakuError::Repair {
            path: path.to_path_buf(),
            detail: "does not start with onelive's chat file header".into(),
        });
    }
    let mut keep = head.len();
    let mut at = head.len();
    let mut whole = false;
    while at < bytes.len() {
        let Some(nl) = bytes[at..].iter().position(|b| *b == b'\n') else {
            break;
        };
        let line = &bytes[at..at + nl];
        if line == b"</i>" {
            whole = at + nl + 1 == bytes.len();
            break;
        }
        if !complete_record(line) {
            break;
        }
        at += nl + 1;
        keep = at;
    }
    if whole {
        return Ok(RepairOutcome::Intact);
    }
    let mut fixed = bytes[..keep].to_vec();
    fixed.extend_from_slice(TAIL);
    std::fs::write(path, &fixed).map_err(|e| DanmakuError::io(path, e))?;
    Ok(RepairOutcome::Repaired { removed: (bytes.len() as u64).saturating_sub(keep as u64) })
}

/// A line we wrote whole: valid UTF-8, `<tag …/>` or `<tag …>…</tag>`.
fn complete_record(line: &[u8]) -> bool {
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    let line = line.trim_start_matches(' ');
    let Some(rest) = line.strip_prefix('<') else {
        return false;
    };
    let tag: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if tag.is_empty() {
        return false;
    }
    line.ends_with("/>") || line.ends_with(&format!("</{tag}>"))
}
