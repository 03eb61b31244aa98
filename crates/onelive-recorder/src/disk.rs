//! Free disk space (statvfs).

use std::path::Path;

/// Bytes available to an unprivileged user on the file system holding `path`.
///
/// ```
/// let free = onelive_recorder::free_bytes(std::path::Path::new("/"))?;
/// assert!(free > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn free_bytes(path: &Path) -> Result<u64, std::io::Error> {
    let stat = nix::sys::statvfs::statvfs(path).map_err(std::io::Error::from)?;
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let (blocks, size) = (stat.blocks_available() as u64, stat.fragment_size() as u64);
    Ok(blocks.saturating_mul(size))
}
