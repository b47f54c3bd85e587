//! Atomic file output for the generator: temp file beside the target, then rename; knows no scenario semantics.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use tempfile::TempPath;

use super::GenerateError;

/// A file being written under a temporary name in the target's folder; `commit` renames it.
pub(crate) struct AtomicFile {
    writer: BufWriter<File>,
    temp: TempPath,
    target: PathBuf,
}

impl AtomicFile {
    pub(crate) fn create(target: &Path) -> Result<Self, GenerateError> {
        let dir = target.parent().unwrap_or(Path::new("."));
        let mut builder = tempfile::Builder::new();
        builder.prefix(".otaplan-gen-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let tmp = builder
            .tempfile_in(dir)
            .map_err(|source| GenerateError::Io {
                path: target.to_path_buf(),
                source,
            })?;
        let (file, temp) = tmp.into_parts();
        Ok(Self {
            writer: BufWriter::with_capacity(1 << 20, file),
            temp,
            target: target.to_path_buf(),
        })
    }

    pub(crate) fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.writer
    }

    pub(crate) fn io_err(&self, source: std::io::Error) -> GenerateError {
        GenerateError::Io {
            path: self.target.clone(),
            source,
        }
    }

    pub(crate) fn parquet_err(&self, source: PolarsError) -> GenerateError {
        GenerateError::Parquet {
            path: self.target.clone(),
            source,
        }
    }

    /// Flushes, renames into place and returns the file's size in bytes.
    pub(crate) fn commit(mut self) -> Result<u64, GenerateError> {
        self.writer.flush().map_err(|e| self.io_err(e))?;
        let file = self.writer.into_inner().map_err(|e| GenerateError::Io {
            path: self.target.clone(),
            source: e.into_error(),
        })?;
        let bytes = file
            .metadata()
            .map_err(|source| GenerateError::Io {
                path: self.target.clone(),
                source,
            })?
            .len();
        drop(file);
        let target = self.target;
        self.temp.persist(&target).map_err(|e| GenerateError::Io {
            path: target.clone(),
            source: e.error,
        })?;
        Ok(bytes)
    }
}

/// Writes `text` to `target` atomically.
pub(crate) fn write_text(target: &Path, text: &str) -> Result<u64, GenerateError> {
    let mut f = AtomicFile::create(target)?;
    f.writer()
        .write_all(text.as_bytes())
        .map_err(|e| f.io_err(e))?;
    f.commit()
}

/// Parquet writer settings shared by every generated file (zstd, statistics on).
pub(crate) fn parquet_writer<W: Write>(w: W) -> ParquetWriter<W> {
    ParquetWriter::new(w).with_compression(ParquetCompression::Zstd(None))
}
