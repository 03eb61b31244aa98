//! `repair_flv_file`: the native engine's FLV repair applied to a file.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use onelive_stream::flv::{
    FlvPartWriter, FlvReader, FlvRepairer, Output, RepairConfig, RepairStats,
};

use crate::error::RecorderError;

/// One file written by [`repair_flv_file`].
#[derive(Debug, Clone, PartialEq)]
pub struct RepairedFile {
    /// Its path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Media duration in seconds (from the repaired timestamps).
    pub duration: f64,
    /// Video frames in it.
    pub video_frames: u64,
}

/// What [`repair_flv_file`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct RepairReport {
    /// The files written: `output`, then `output-2.flv`, `output-3.flv`...
    /// when the stream changes resolution or codec (each part needs its
    /// own sequence headers).
    pub files: Vec<RepairedFile>,
    /// The repair counters (jumps stitched, duplicates dropped...).
    pub stats: RepairStats,
    /// Why reading stopped early, when the input is cut or corrupt past
    /// some point (everything before it is kept).
    pub truncated: Option<String>,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> RecorderError {
    move |source| RecorderError::Io { context, source }
}

/// Applies the native engine's FLV repair rules to the FLV file `input`
/// (from any recorder) and writes the result to `output`: timestamps start
/// at 0 and never jump, replayed tags are dropped, a seekable `onMetaData`
/// is written. A resolution or codec change continues in `output-2.flv`...
/// Existing outputs are never overwritten.
pub fn repair_flv_file(input: &Path, output: &Path) -> Result<RepairReport, RecorderError> {
    let mut src =
        std::fs::File::open(input).map_err(io(format!("cannot open {}", input.display())))?;
    let mut reader = FlvReader::new();
    let mut repair = FlvRepairer::new(RepairConfig::default());
    let mut outs = Vec::new();
    let mut files = Vec::new();
    let mut current: Option<(FlvPartWriter, std::io::BufWriter<std::fs::File>, PathBuf)> = None;
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = Vec::new();
    let mut truncated = None;
    let mut any_tag = false;
    loop {
        let n = src.read(&mut buf).map_err(io(format!("cannot read {}", input.display())))?;
        if n == 0 {
            if reader.buffered() > 0 {
                truncated =
                    Some(format!("the last {} bytes are an incomplete tag", reader.buffered()));
            }
            break;
        }
        reader.push(&buf[..n]);
        loop {
            match reader.next_item() {
                Ok(Some(item)) => {
                    any_tag |= matches!(item, onelive_stream::flv::Item::Tag(_));
                    repair.push(item, &mut outs);
                }
                Ok(None) => break,
                Err(e) => {
                    if !any_tag {
                        return Err(RecorderError::InvalidInput(format!(
                            "{} is not a readable FLV: {e}",
                            input.display()
                        )));
                    }
                    truncated = Some(e.to_string());
                    break;
                }
            }
        }
        for o in outs.drain(..) {
            match o {
                Output::NewPart { header, .. } => {
                    if let Some(part) = current.take() {
                        files.push(finish(part, &mut bytes)?);
                    }
                    let path = part_path(output, files.len() + 1);
                    let file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&path)
                        .map_err(io(format!("cannot create {}", path.display())))?;
                    let mut w = FlvPartWriter::new(header, 20_000);
                    bytes.extend_from_slice(&w.start());
                    current = Some((w, std::io::BufWriter::new(file), path));
                }
                Output::Tag(t) => {
                    if let Some((w, _, _)) = current.as_mut() {
                        w.write_tag(&t, &mut bytes);
                    }
                }
            }
        }
        if let Some((_, f, path)) = current.as_mut() {
            f.write_all(&bytes).map_err(io(format!("cannot write {}", path.display())))?;
            bytes.clear();
        }
        if truncated.is_some() {
            break;
        }
    }
    if let Some(part) = current.take() {
        files.push(finish(part, &mut bytes)?);
    }
    Ok(RepairReport { files, stats: repair.stats(), truncated })
}

fn part_path(output: &Path, n: usize) -> PathBuf {
    if n == 1 {
        return output.to_path_buf();
    }
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    output.with_file_name(format!("{stem}-{n}.flv"))
}

fn finish(
    (w, mut f, path): (FlvPartWriter, std::io::BufWriter<std::fs::File>, PathBuf),
    bytes: &mut Vec<u8>,
) -> Result<RepairedFile, RecorderError> {
    let (summary, meta) = w.finish();
    let err = || format!("cannot write {}", path.display());
    f.write_all(bytes).map_err(io(err()))?;
    bytes.clear();
    let mut file =
        f.into_inner().map_err(|e| RecorderError::Io { context: err(), source: e.into_error() })?;
    file.seek(SeekFrom::Start(w.metadata_offset())).map_err(io(err()))?;
    file.write_all(&meta).map_err(io(err()))?;
    file.sync_all().map_err(io(err()))?;
    Ok(RepairedFile {
        path,
        size: summary.bytes,
        duration: summary.duration,
        video_frames: summary.video_frames,
    })
}
