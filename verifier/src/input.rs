//! Bounded reads of outside files. Every input has a size limit suited to its kind, checked while
//! reading (not from metadata, which `/dev/zero` or a pipe would not give): a hostile or mistaken
//! path must end in a clear error, never in the memory running out.

use std::io::Read;
use std::path::Path;

/// A policy file: a few kilobytes of TOML in practice.
pub const MAX_POLICY_BYTES: u64 = 1 << 20;
/// One JSON document of a holder, witness, state, signed event or retraction, receipt, key file,
/// heads list or evidence: kilobytes in practice.
pub const MAX_JSON_BYTES: u64 = 16 << 20;
/// A bundle's manifest or verifying key.
pub const MAX_SMALL_KEY_BYTES: u64 = 1 << 20;
/// A proving key (about 3 MB for the example policy's 6,309 constraints).
pub const MAX_PROVING_KEY_BYTES: u64 = 512 << 20;
/// A QR code image.
pub const MAX_IMAGE_BYTES: u64 = 32 << 20;
/// A checkpoint's queue of codes, one per line (each under 1 kB).
pub const MAX_BATCH_BYTES: u64 = 256 << 20;
/// A phase-1 `.ptau` file (the Hermez power-13 file is 9.5 MB; larger powers are accepted).
pub const MAX_PTAU_BYTES: u64 = 4 << 30;
/// A phase-2 `.zkey` (about 5 MB for the example policy).
pub const MAX_ZKEY_BYTES: u64 = 1 << 30;
/// A registry's public export: every enrolment, event and head of its life.
pub const MAX_EXPORT_BYTES: u64 = 4 << 30;

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    #[error("cannot read {path}: it is a directory")]
    Directory { path: String },
    #[error("cannot read {path}: it is larger than the limit of {limit} bytes for this kind of file")]
    TooLarge { path: String, limit: u64 },
    #[error("cannot read {path}: it is not UTF-8 text (byte {offset})")]
    NotText { path: String, offset: usize },
}

/// Reads at most `limit` bytes of `path`; more is an error, whatever the file claims to be.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let name = || path.display().to_string();
    let io = |e: std::io::Error| InputError::Io { path: name(), message: e.to_string() };
    if path.is_dir() {
        return Err(InputError::Directory { path: name() });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { path: name(), limit });
    }
    Ok(bytes)
}

/// [`read_bounded`], as UTF-8 text.
pub fn read_text_bounded(path: &Path, limit: u64) -> Result<String, InputError> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|e| InputError::NotText {
        path: path.display().to_string(),
        offset: e.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_enforced_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_bounded(&f, 5).unwrap(), b"12345");
        assert!(matches!(read_bounded(&f, 4), Err(InputError::TooLarge { limit: 4, .. })));
        assert!(matches!(read_bounded(dir.path(), 5), Err(InputError::Directory { .. })));
        assert!(matches!(read_bounded(&dir.path().join("none"), 5), Err(InputError::Io { .. })));
        std::fs::write(&f, b"ok\xff").unwrap();
        assert!(matches!(read_text_bounded(&f, 5), Err(InputError::NotText { offset: 2, .. })));
        // An endless device is cut at the limit instead of filling memory.
        let zero = Path::new("/dev/zero");
        if zero.exists() {
            let err = read_bounded(zero, 1 << 20).unwrap_err();
            assert!(err.to_string().contains("larger than the limit"), "{err}");
        }
    }
}
