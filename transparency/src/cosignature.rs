//! tlog-cosignature v1: a witness's timestamped Ed25519 signature over
//! `"cosignature/v1\ntime <t>\n" || checkpoint text`, carried in a note signature line as
//! `key ID (4) || timestamp (8, big-endian) || Ed25519 signature (64)`.

use ed25519_dalek::{Signature as EdSignature, Signer as _, VerifyingKey};
use signed_note::{Note, Signature};

use crate::checkpoint::CheckpointError;
use crate::keys::{CosignerKey, Vkey, SIG_TYPE_COSIGNATURE_V1};

/// Domain-separation header of the signed message.
const HEADER: &str = "cosignature/v1";
/// Length of the signature after the key ID: timestamp then Ed25519 signature.
pub const COSIGNATURE_LEN: usize = 8 + 64;
/// Largest timestamp a cosignature may carry (tlog-cosignature: it MUST NOT exceed 2^63 - 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The message a v1 cosignature signs.
pub fn signed_message(time: u64, checkpoint_text: &[u8]) -> Vec<u8> {
    let mut m = format!("{HEADER}\ntime {time}\n").into_bytes();
    m.extend_from_slice(checkpoint_text);
    m
}

/// A cosignature split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub time: u64,
    pub signature: [u8; 64],
}

impl Cosignature {
    /// Splits the bytes after the key ID; `None` unless exactly 72 bytes.
    pub fn from_bytes(sig: &[u8]) -> Option<Self> {
        if sig.len() != COSIGNATURE_LEN {
            return None;
        }
        let time = u64::from_be_bytes(sig[..8].try_into().ok()?);
        let signature = sig[8..].try_into().ok()?;
        Some(Self { time, signature })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.time.to_be_bytes().to_vec();
        out.extend_from_slice(&self.signature);
        out
    }
}

impl CosignerKey {
    /// Cosigns checkpoint note text at `time` (unix seconds) and returns the note signature line
    /// (`— name base64(...)\n`). The time must be non-zero (tlog-witness) and at most 2^63 - 1.
    pub fn cosign(&self, checkpoint_text: &[u8], time: u64) -> Result<Vec<u8>, CheckpointError> {
        if time == 0 || time > MAX_TIMESTAMP {
            return Err(CheckpointError::Signing(format!("cosignature time {time} is out of range")));
        }
        // Checks the text is note text (UTF-8, no control characters, final newline).
        Note::new(checkpoint_text, &[]).map_err(CheckpointError::from_note)?;
        let sig = self.signing_key().sign(&signed_message(time, checkpoint_text));
        let bytes = Cosignature { time, signature: sig.to_bytes() }.to_bytes();
        let line = Signature::new(self.name().to_owned(), self.key_id(), bytes)
            .map_err(CheckpointError::from_note)?;
        Ok(line.to_bytes())
    }
}

/// Verifies v1 cosignatures for `signed_note`: one configured witness key.
#[derive(Debug, Clone)]
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// From a vkey of type 0x04.
    pub fn new(vkey: &str) -> Result<Self, CheckpointError> {
        let v = Vkey::parse(vkey)?;
        if v.sig_type != SIG_TYPE_COSIGNATURE_V1 {
            return Err(CheckpointError::UnsupportedKeyType { vkey: vkey.to_owned(), sig_type: v.sig_type });
        }
        Ok(Self { name: v.name, id: v.id, key: v.key })
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl signed_note::Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Some(c) = Cosignature::from_bytes(sig) else { return false };
        if c.time > MAX_TIMESTAMP {
            return false;
        }
        self.key.verify_strict(&signed_message(c.time, msg), &EdSignature::from_bytes(&c.signature)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use signed_note::Verifier as _;

    const SPEC_TEXT: &[u8] =
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    /// tlog-cosignature's example: the cosignature line's 8 bytes after the key ID are the time of the
    /// spec's example message (`time 1679315147`), big-endian.
    #[test]
    fn spec_example_layout() {
        let line = "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";
        let sig = Signature::from_bytes(line.as_bytes()).unwrap();
        assert_eq!(sig.name(), "witness.example.com/w1");
        let c = Cosignature::from_bytes(sig.signature()).unwrap();
        assert_eq!(c.time, 1679315147);
        assert_eq!(
            signed_message(c.time, SPEC_TEXT),
            b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn cosign_then_verify_and_attack_each_part() {
        let w = CosignerKey::new("witness.example/w", SigningKey::from_bytes(&[3; 32]));
        let v = CosignatureVerifier::new(&w.vkey()).unwrap();
        let line = w.cosign(SPEC_TEXT, 1_700_000_000).unwrap();
        let sig = Signature::from_bytes(line.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!((sig.name(), sig.id()), ("witness.example/w", w.key_id()));
        assert!(v.verify(SPEC_TEXT, sig.signature()));

        // The Ed25519 signature is over the header+time+text, never the bare text.
        let ed = Cosignature::from_bytes(sig.signature()).unwrap();
        assert!(w
            .signing_key()
            .verifying_key()
            .verify_strict(SPEC_TEXT, &EdSignature::from_bytes(&ed.signature))
            .is_err());

        // Changing the time, the text or the length breaks it.
        let mut other_time = sig.signature().to_vec();
        other_time[7] ^= 1;
        assert!(!v.verify(SPEC_TEXT, &other_time));
        assert!(!v.verify(
            b"example.com/behind-the-sofa\n20852164\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            sig.signature()
        ));
        assert!(!v.verify(SPEC_TEXT, &sig.signature()[..71]));
        assert!(!v.verify(SPEC_TEXT, &[sig.signature(), &[0]].concat()));

        // A type-0x01 (plain note) key is not a cosigner key.
        let as_log = crate::LogKey::new("witness.example/w", SigningKey::from_bytes(&[3; 32]));
        assert!(matches!(
            CosignatureVerifier::new(&as_log.vkey()),
            Err(CheckpointError::UnsupportedKeyType { .. })
        ));
    }

    #[test]
    fn out_of_range_times_are_refused() {
        let w = CosignerKey::new("w", SigningKey::from_bytes(&[3; 32]));
        assert!(w.cosign(SPEC_TEXT, 0).is_err());
        assert!(w.cosign(SPEC_TEXT, MAX_TIMESTAMP + 1).is_err());
        assert!(w.cosign(SPEC_TEXT, MAX_TIMESTAMP).is_ok());
        // A validly signed message with a time above 2^63 - 1 is still refused by the verifier.
        let time = MAX_TIMESTAMP + 1;
        let sig = w.signing_key().sign(&signed_message(time, SPEC_TEXT));
        let bytes = Cosignature { time, signature: sig.to_bytes() }.to_bytes();
        assert!(!CosignatureVerifier::new(&w.vkey()).unwrap().verify(SPEC_TEXT, &bytes));
        assert!(w.cosign(b"no newline", 5).is_err());
    }
}
