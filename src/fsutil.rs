//! Atomic file output: everything otaplan writes goes to a temporary file beside the
//! target and is renamed into place, so a reader never sees a half-written file and a
//! failed run leaves the previous output intact.

use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Streams into `path` atomically through `fill`.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".otaplan-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    {
        let mut buf = io::BufWriter::new(tmp.as_file_mut());
        fill(&mut buf)?;
        buf.flush()?;
    }
    // tempfile creates 0600 files; outputs are ordinary files others read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Whether otaplan can write files into `dir`, checked before any work: `dir` (or, when
/// it does not exist yet, its nearest existing ancestor, where it would be created) must
/// be a folder in which a file can be created. Creates and removes one temporary file
/// and nothing else. The error is a sentence about `dir`.
pub fn check_writable_dir(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    if dir.exists() && !dir.is_dir() {
        return Err(format!("{shown} is a file, not a folder"));
    }
    let mut probe_in = dir;
    while !probe_in.exists() {
        probe_in = match probe_in.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
    }
    if !probe_in.is_dir() {
        return Err(format!(
            "{shown} cannot be created: {} is a file, not a folder",
            probe_in.display()
        ));
    }
    // A file of our own (not tempfile's, whose error names the random path).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let probe = probe_in.join(format!(".otaplan-probe-{}-{nanos}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|f| {
            drop(f);
            std::fs::remove_file(&probe)
        })
        .map_err(|e| {
            if probe_in == dir {
                format!("{shown} cannot be written: {e}")
            } else {
                format!(
                    "{shown} cannot be created: {} cannot be written: {e}",
                    probe_in.display()
                )
            }
        })
}

/// Whether otaplan can write the file `path` (replacing it if it exists): it must not be
/// a folder, and its folder must pass [`check_writable_dir`].
pub fn check_writable_file(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!("{} is a folder, not a file", path.display()));
    }
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => check_writable_dir(d),
        _ => check_writable_dir(Path::new(".")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.csv");
        write_atomic(&p, b"old").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_fill_keeps_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.csv");
        write_atomic(&p, b"old").unwrap();
        let r = write_atomic_with(&p, |_| Err(io::Error::other("boom")));
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn writable_checks_create_nothing() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("afile.txt");
        std::fs::write(&file, b"x").unwrap();
        assert!(check_writable_dir(d.path()).is_ok());
        assert!(check_writable_dir(&d.path().join("new/deeper")).is_ok());
        assert!(!d.path().join("new").exists());
        let e = check_writable_dir(&file).unwrap_err();
        assert!(e.ends_with("afile.txt is a file, not a folder"), "{e}");
        let e = check_writable_dir(&file.join("sub")).unwrap_err();
        assert!(e.contains("cannot be created"), "{e}");
        assert!(check_writable_file(&d.path().join("m.mps")).is_ok());
        assert!(check_writable_file(d.path()).is_err());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
