//! File output for the generator: every file goes through the one atomic writer
//! ([`crate::fsutil`]: temp file beside the target, fsync, rename); knows no scenario
//! semantics.

use std::io::{self, Write};
use std::path::Path;

use polars::prelude::*;

use super::GenerateError;

/// Writes `target` atomically, filled by `fill`; returns what `fill` returned and the
/// file's size in bytes. Nothing is left at `target` when `fill` fails.
pub(crate) fn write_file<T>(
    target: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<T, GenerateError>,
) -> Result<(T, u64), GenerateError> {
    let io_err = |source: io::Error| GenerateError::Io {
        path: target.to_path_buf(),
        source,
    };
    let mut filled = None;
    let written = crate::fsutil::write_atomic_with(target, |w| {
        let r = fill(w);
        let failed = r.is_err();
        filled = Some(r);
        match failed {
            true => Err(io::Error::other("not written")),
            false => Ok(()),
        }
    });
    match (filled, written) {
        (Some(Err(e)), _) => Err(e),
        (_, Err(e)) => Err(io_err(e)),
        (Some(Ok(v)), Ok(())) => Ok((v, std::fs::metadata(target).map_err(io_err)?.len())),
        (None, Ok(())) => Err(io_err(io::Error::other("nothing was written"))),
    }
}

/// The error of writing `target` through a Write.
pub(crate) fn io_error(target: &Path) -> impl Fn(io::Error) -> GenerateError + '_ {
    |source| GenerateError::Io {
        path: target.to_path_buf(),
        source,
    }
}

/// The error of writing `target` as Parquet.
pub(crate) fn parquet_error(target: &Path) -> impl Fn(PolarsError) -> GenerateError + '_ {
    |source| GenerateError::Parquet {
        path: target.to_path_buf(),
        source,
    }
}

/// Writes `text` to `target` atomically; returns its size in bytes.
pub(crate) fn write_text(target: &Path, text: &str) -> Result<u64, GenerateError> {
    let fill = |w: &mut dyn Write| w.write_all(text.as_bytes()).map_err(io_error(target));
    Ok(write_file(target, fill)?.1)
}

/// Parquet writer settings shared by every generated file (zstd, statistics on).
pub(crate) fn parquet_writer<W: Write>(w: W) -> ParquetWriter<W> {
    ParquetWriter::new(w).with_compression(ParquetCompression::Zstd(None))
}
