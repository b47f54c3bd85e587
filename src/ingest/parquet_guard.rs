//! A cheap structural check of a Parquet file's footer before polars reads it. Parquet
//! metadata is Thrift (compact protocol); a corrupt footer can declare lists and strings
//! of billions of elements, and decoding it then asks the allocator for ~100 GB, which
//! aborts the process (no panic to catch). This walks the footer without allocating and
//! rejects any length that the bytes left cannot hold. It checks shape only, not meaning.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const MAGIC: &[u8; 4] = b"PAR1";
const MAX_DEPTH: u32 = 64;

/// Ok when `path` is framed like Parquet and its footer is well-formed Thrift.
pub fn check_parquet(path: &Path) -> Result<(), String> {
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let size = f.metadata().map_err(|e| e.to_string())?.len();
    if size < 12 {
        return Err("too short to be a Parquet file".into());
    }
    let mut head = [0u8; 4];
    f.read_exact(&mut head).map_err(|e| e.to_string())?;
    let mut tail = [0u8; 8];
    f.seek(SeekFrom::End(-8)).map_err(|e| e.to_string())?;
    f.read_exact(&mut tail).map_err(|e| e.to_string())?;
    if &head != MAGIC || &tail[4..] != MAGIC {
        return Err("not a Parquet file (no PAR1 magic)".into());
    }
    let len = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as u64;
    if len == 0 || len + 12 > size {
        return Err("the footer length does not fit in the file".into());
    }
    let mut footer = vec![0u8; len as usize];
    f.seek(SeekFrom::End(-8 - len as i64))
        .map_err(|e| e.to_string())?;
    f.read_exact(&mut footer).map_err(|e| e.to_string())?;
    check_footer(&footer)
}

/// Walks one Thrift compact-protocol struct (the FileMetaData) and checks that it ends
/// exactly at the end of the footer.
pub fn check_footer(bytes: &[u8]) -> Result<(), String> {
    let mut w = Walker { b: bytes, pos: 0 };
    w.skip_struct(0)?;
    if w.pos != bytes.len() {
        return Err("the footer has trailing bytes".into());
    }
    Ok(())
}

struct Walker<'a> {
    b: &'a [u8],
    pos: usize,
}

const BAD: &str = "the footer is not valid Parquet metadata";

impl Walker<'_> {
    fn left(&self) -> usize {
        self.b.len() - self.pos
    }
    fn byte(&mut self) -> Result<u8, String> {
        let v = *self.b.get(self.pos).ok_or(BAD)?;
        self.pos += 1;
        Ok(v)
    }
    fn skip(&mut self, n: u64) -> Result<(), String> {
        if n > self.left() as u64 {
            return Err(BAD.into());
        }
        self.pos += n as usize;
        Ok(())
    }
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift.min(63);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(BAD.into())
    }
    fn skip_struct(&mut self, depth: u32) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(BAD.into());
        }
        loop {
            let h = self.byte()?;
            if h == 0 {
                return Ok(());
            }
            if h >> 4 == 0 {
                self.varint()?; // explicit field id
            }
            self.skip_value(h & 0x0f, depth, true)?;
        }
    }
    fn skip_value(&mut self, ty: u8, depth: u32, in_field: bool) -> Result<(), String> {
        match ty {
            // Booleans live in the field header; as list elements they take one byte.
            1 | 2 => {
                if !in_field {
                    self.skip(1)?;
                }
                Ok(())
            }
            3 => self.skip(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.skip(8),
            8 => {
                let n = self.varint()?;
                self.skip(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                let mut n = u64::from(h >> 4);
                if n == 15 {
                    n = self.varint()?;
                }
                if n > self.left() as u64 {
                    return Err(BAD.into());
                }
                for _ in 0..n {
                    self.skip_value(h & 0x0f, depth + 1, false)?;
                }
                Ok(())
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                if n.saturating_mul(2) > self.left() as u64 {
                    return Err(BAD.into());
                }
                for _ in 0..n {
                    self.skip_value(kv >> 4, depth + 1, false)?;
                    self.skip_value(kv & 0x0f, depth + 1, false)?;
                }
                Ok(())
            }
            12 => self.skip_struct(depth + 1),
            _ => Err(BAD.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_declared_lists_are_rejected() {
        // Field 1, type list; list header says 15 = "size follows", element type i32,
        // size 2^32 as a varint: far more than the bytes left.
        let footer = [0x19, 0xf5, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00];
        assert!(check_footer(&footer).is_err());
    }

    #[test]
    fn well_formed_structs_pass() {
        // Field 1 (i32) = 3, field 2 (binary) = "ab", stop.
        let footer = [0x15, 0x06, 0x18, 0x02, b'a', b'b', 0x00];
        assert!(check_footer(&footer).is_ok());
    }

    #[test]
    fn real_parquet_files_pass() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/coverage.parquet");
        assert_eq!(check_parquet(&dir), Ok(()));
    }
}
