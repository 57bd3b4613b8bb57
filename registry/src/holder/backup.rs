//! A backup of the holder file under a passphrase, so a citizen can move her secret to a new
//! phone (or recover it) without it ever being readable by whoever stores the backup.
//!
//! Text form: `HCBACKUP1:` then base64 (no padding) of `salt (16) ‖ nonce (24) ‖ ciphertext`.
//! The key is Argon2id(passphrase, salt) with [`KDF_MEMORY_KIB`] and [`KDF_PASSES`] (OWASP's
//! minimum for Argon2id, and small enough for a phone's browser tab); the holder file's JSON is
//! sealed with XChaCha20-Poly1305, the prefix as associated data. A wrong passphrase and a
//! corrupted backup are both refused by the tag: nothing half-decrypted is ever returned.

use super::HolderFile;
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// The backup's text prefix (and the AEAD's associated data): names the format and its version.
pub const BACKUP_PREFIX: &str = "HCBACKUP1:";
/// Argon2id memory cost, KiB (19 MiB).
pub const KDF_MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const KDF_PASSES: u32 = 2;
/// A passphrase shorter than this is refused when sealing: the backup may sit in a cloud drive.
pub const MIN_PASSPHRASE_CHARS: usize = 8;
const SALT_BYTES: usize = 16;
const NONCE_BYTES: usize = 24;
/// Larger than any holder file's backup: a limit on what is fed to the decoder.
const MAX_BACKUP_CHARS: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackupError {
    #[error("this is not a health-code backup (it should start with {BACKUP_PREFIX})")]
    NotABackup,
    #[error("the backup is damaged: {0}")]
    Damaged(&'static str),
    #[error("the passphrase is wrong, or the backup was altered")]
    WrongPassphrase,
    #[error("choose a passphrase of at least {MIN_PASSPHRASE_CHARS} characters")]
    WeakPassphrase,
    #[error("the backup opened but does not hold a valid holder file: {0}")]
    Holder(String),
}

/// The key for `passphrase`, normalised first (NFC): the same accented passphrase typed on
/// another phone's keyboard can arrive as other code points.
fn key(passphrase: &str, salt: &[u8]) -> Zeroizing<[u8; 32]> {
    let passphrase = Zeroizing::new(passphrase.nfc().collect::<String>());
    let params =
        Params::new(KDF_MEMORY_KIB, KDF_PASSES, 1, Some(32)).expect("constant Argon2 parameters are valid");
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .expect("salt and output lengths are within Argon2's bounds");
    key
}

/// Seals `holder` under `passphrase`.
pub fn seal(holder: &HolderFile, passphrase: &str) -> Result<String, BackupError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(BackupError::WeakPassphrase);
    }
    let mut salt = [0u8; SALT_BYTES];
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new(key(passphrase, &salt).as_ref().into());
    let json = Zeroizing::new(holder.to_json());
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: json.as_bytes(), aad: BACKUP_PREFIX.as_bytes() })
        .expect("XChaCha20-Poly1305 encrypts any message of this size");
    let mut body = salt.to_vec();
    body.extend_from_slice(&nonce);
    body.extend_from_slice(&sealed);
    Ok(format!("{BACKUP_PREFIX}{}", STANDARD_NO_PAD.encode(body)))
}

/// Opens a backup made by [`seal`].
pub fn open(backup: &str, passphrase: &str) -> Result<HolderFile, BackupError> {
    let text = backup.trim();
    if text.len() > MAX_BACKUP_CHARS {
        return Err(BackupError::Damaged("it is far longer than any backup"));
    }
    let b64 = text.strip_prefix(BACKUP_PREFIX).ok_or(BackupError::NotABackup)?;
    let body = STANDARD_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|_| BackupError::Damaged("it is not base64 (was it cut or retyped?)"))?;
    if body.len() < SALT_BYTES + NONCE_BYTES + 16 {
        return Err(BackupError::Damaged("it is too short (was it cut?)"));
    }
    let (salt, rest) = body.split_at(SALT_BYTES);
    let (nonce, sealed) = rest.split_at(NONCE_BYTES);
    let cipher = XChaCha20Poly1305::new(key(passphrase, salt).as_ref().into());
    let json = cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: BACKUP_PREFIX.as_bytes() })
        .map(Zeroizing::new)
        .map_err(|_| BackupError::WrongPassphrase)?;
    let json = std::str::from_utf8(&json).map_err(|_| BackupError::Holder("not UTF-8".into()))?;
    HolderFile::from_json(json).map_err(|e| BackupError::Holder(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASS: &str = "correct horse battery";

    #[test]
    fn a_backup_opens_with_its_passphrase_only() {
        let h = HolderFile::generate("E12345678");
        let b = seal(&h, PASS).unwrap();
        assert!(b.starts_with(BACKUP_PREFIX));
        assert!(!b.contains(&h.to_json()[..20]));
        assert_eq!(open(&b, PASS).unwrap(), h);
        assert_eq!(open(&b, "correct horse battery!"), Err(BackupError::WrongPassphrase));
        // Two backups of the same holder differ (fresh salt and nonce).
        assert_ne!(seal(&h, PASS).unwrap(), b);
    }

    #[test]
    fn a_passphrase_opens_however_its_accents_were_typed() {
        let h = HolderFile::generate("E1");
        let composed = "caf\u{e9} au lait"; // é as one code point
        let decomposed = "cafe\u{301} au lait"; // e + combining acute
        let b = seal(&h, composed).unwrap();
        assert_eq!(open(&b, decomposed).unwrap(), h);
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let h = HolderFile::generate("E1");
        let b = seal(&h, PASS).unwrap();
        let body = STANDARD_NO_PAD.decode(&b[BACKUP_PREFIX.len()..]).unwrap();
        // Salt, nonce, ciphertext and tag: each position flipped is refused (salt changes the key).
        for i in [0, SALT_BYTES, SALT_BYTES + NONCE_BYTES, body.len() / 2, body.len() - 1] {
            let mut bad = body.clone();
            bad[i] ^= 1;
            let text = format!("{BACKUP_PREFIX}{}", STANDARD_NO_PAD.encode(&bad));
            assert_eq!(open(&text, PASS), Err(BackupError::WrongPassphrase), "byte {i}");
        }
    }

    #[test]
    fn malformed_backups_get_clear_errors() {
        let b = seal(&HolderFile::generate("E1"), PASS).unwrap();
        assert_eq!(open("hello", PASS), Err(BackupError::NotABackup));
        assert!(matches!(open(&b[..30], PASS), Err(BackupError::Damaged(_))));
        assert!(matches!(open(&format!("{b}!!"), PASS), Err(BackupError::Damaged(_))));
        assert!(matches!(open(&"A".repeat(10_000), PASS), Err(BackupError::Damaged(_))));
        assert_eq!(seal(&HolderFile::generate("E1"), "short"), Err(BackupError::WeakPassphrase));
        // The same prefix but another format's content: sealed under a different associated data.
        let cipher = XChaCha20Poly1305::new(key(PASS, &[0; 16]).as_ref().into());
        let sealed =
            cipher.encrypt(XNonce::from_slice(&[0; 24]), Payload { msg: b"{}", aad: b"other" }).unwrap();
        let mut body = vec![0u8; 40];
        body.extend_from_slice(&sealed);
        let text = format!("{BACKUP_PREFIX}{}", STANDARD_NO_PAD.encode(body));
        assert_eq!(open(&text, PASS), Err(BackupError::WrongPassphrase));
    }
}
