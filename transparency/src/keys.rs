//! Signing keys and verifier keys ("vkeys") of c2sp.org/signed-note.
//!
//! A log signs its checkpoints with an Ed25519 note signature (type `0x01`) under a key named after its
//! origin; a witness cosigns with a tlog-cosignature v1 key (type `0x04`). The key ID binds the name and
//! the type: `SHA-256(name || "\n" || type || public key)[:4]`, so the same Ed25519 key could never be
//! mistaken for the other role.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use signed_note::is_key_name_valid;

use crate::checkpoint::CheckpointError;

/// Signature type of an Ed25519 note signature (signed-note).
pub const SIG_TYPE_ED25519: u8 = 0x01;
/// Signature type of a timestamped Ed25519 checkpoint cosignature (tlog-cosignature v1).
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;

/// The key ID of signed-note: the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || signature type || public key)`.
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8; 32]) -> u32 {
    let mut material = Vec::with_capacity(33);
    material.push(sig_type);
    material.extend_from_slice(public_key);
    signed_note::key_id(name, &material)
}

fn vkey_string(name: &str, sig_type: u8, public_key: &VerifyingKey) -> String {
    let pk = public_key.to_bytes();
    let mut material = vec![sig_type];
    material.extend_from_slice(&pk);
    format!("{name}+{:08x}+{}", key_id(name, sig_type, &pk), BASE64.encode(material))
}

fn check_name(name: &str) -> Result<(), CheckpointError> {
    if is_key_name_valid(name) {
        Ok(())
    } else {
        Err(CheckpointError::BadKeyName(name.to_owned()))
    }
}

/// A parsed verifier key: `<name>+<hex key id>+<base64(type || public key)>`, Ed25519 only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vkey {
    pub name: String,
    pub id: u32,
    pub sig_type: u8,
    pub key: VerifyingKey,
}

impl Vkey {
    /// Parses and checks a vkey: valid name, 8 lowercase hex digits matching the computed key ID, a
    /// known signature type and a valid Ed25519 point.
    pub fn parse(vkey: &str) -> Result<Self, CheckpointError> {
        let bad = |why: &str| CheckpointError::BadVkey { vkey: truncate(vkey), why: why.to_owned() };
        // Base64 may itself contain '+': the key is everything after the second one.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+keyid+key"));
        };
        if !is_key_name_valid(name) {
            return Err(bad("invalid key name"));
        }
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(bad("key ID is not 8 lowercase hex digits"));
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| bad("key ID is not hex"))?;
        let material = BASE64.decode(b64).map_err(|_| bad("key is not base64"))?;
        let (&sig_type, pk) = material.split_first().ok_or_else(|| bad("empty key"))?;
        if sig_type != SIG_TYPE_ED25519 && sig_type != SIG_TYPE_COSIGNATURE_V1 {
            return Err(CheckpointError::UnsupportedKeyType { vkey: truncate(vkey), sig_type });
        }
        let pk: [u8; 32] = pk.try_into().map_err(|_| bad("Ed25519 public key is not 32 bytes"))?;
        if key_id(name, sig_type, &pk) != id {
            return Err(bad("key ID does not match name and key"));
        }
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| bad("not an Ed25519 public key"))?;
        Ok(Self { name: name.to_owned(), id, sig_type, key })
    }

    /// The vkey in its text form.
    pub fn to_vkey_string(&self) -> String {
        vkey_string(&self.name, self.sig_type, &self.key)
    }
}

/// Keeps error messages bounded when a configured key string is garbage.
fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// A log's checkpoint signing key: Ed25519 note signature (type 0x01), key name = the log's origin.
pub struct LogKey {
    origin: String,
    id: u32,
    key: SigningKey,
}

impl LogKey {
    /// # Panics
    /// If `origin` is not a valid key name (empty, or with a space or `+`): a configuration error that
    /// would otherwise produce notes no one can parse. [`LogKey::try_new`] returns it as an error.
    pub fn new(origin: &str, key: SigningKey) -> Self {
        match Self::try_new(origin, key) {
            Ok(k) => k,
            Err(e) => panic!("LogKey::new: {e}"),
        }
    }

    /// Like [`LogKey::new`], with an invalid origin as an error.
    pub fn try_new(origin: &str, key: SigningKey) -> Result<Self, CheckpointError> {
        check_name(origin)?;
        let id = key_id(origin, SIG_TYPE_ED25519, key.verifying_key().as_bytes());
        Ok(Self { origin: origin.to_owned(), id, key })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The C2SP verifier key: `origin+hexid+base64(0x01 || public key)`.
    pub fn vkey(&self) -> String {
        vkey_string(&self.origin, SIG_TYPE_ED25519, &self.key.verifying_key())
    }

    /// Signs any note text (ending in a newline) and returns the signed note.
    pub fn sign_note(&self, text: &[u8]) -> Result<Vec<u8>, CheckpointError> {
        let mut note = signed_note::Note::new(text, &[]).map_err(CheckpointError::from_note)?;
        note.add_sigs(&[self]).map_err(CheckpointError::from_note)?;
        Ok(note.to_bytes())
    }
}

impl signed_note::Signer for LogKey {
    fn name(&self) -> &str {
        &self.origin
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

/// A witness's cosigning key: tlog-cosignature v1 (type 0x04).
pub struct CosignerKey {
    name: String,
    id: u32,
    key: SigningKey,
}

impl CosignerKey {
    /// # Panics
    /// If `name` is not a valid key name; see [`CosignerKey::try_new`].
    pub fn new(name: &str, key: SigningKey) -> Self {
        match Self::try_new(name, key) {
            Ok(k) => k,
            Err(e) => panic!("CosignerKey::new: {e}"),
        }
    }

    /// Like [`CosignerKey::new`], with an invalid name as an error.
    pub fn try_new(name: &str, key: SigningKey) -> Result<Self, CheckpointError> {
        check_name(name)?;
        let id = key_id(name, SIG_TYPE_COSIGNATURE_V1, key.verifying_key().as_bytes());
        Ok(Self { name: name.to_owned(), id, key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The C2SP verifier key: `name+hexid+base64(0x04 || public key)`.
    pub fn vkey(&self) -> String {
        vkey_string(&self.name, SIG_TYPE_COSIGNATURE_V1, &self.key.verifying_key())
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// signed-note's own example vkey (c2sp.org/signed-note, "Verifier keys").
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

    #[test]
    fn spec_example_vkey_parses_and_round_trips() {
        let v = Vkey::parse(SPEC_VKEY).unwrap();
        assert_eq!(v.name, "example.com/foo");
        assert_eq!(v.id, 0x530d903a);
        assert_eq!(v.sig_type, SIG_TYPE_ED25519);
        assert_eq!(v.to_vkey_string(), SPEC_VKEY);
    }

    #[test]
    fn our_vkeys_parse_back_with_the_right_type() {
        let sk = SigningKey::from_bytes(&[9; 32]);
        let log = LogKey::new("example.com/log", sk.clone());
        let v = Vkey::parse(&log.vkey()).unwrap();
        assert_eq!((v.sig_type, v.id), (SIG_TYPE_ED25519, log.key_id()));
        let w = CosignerKey::new("example.com/log", sk);
        let v = Vkey::parse(&w.vkey()).unwrap();
        assert_eq!((v.sig_type, v.id), (SIG_TYPE_COSIGNATURE_V1, w.key_id()));
        // Same name and key, different type: the key ID must differ (signed-note requires it).
        assert_ne!(log.key_id(), w.key_id());
    }

    #[test]
    fn bad_vkeys_are_refused() {
        let good = SPEC_VKEY;
        let cases = [
            "".to_owned(),
            "example.com/foo".to_owned(),
            good.replace("530d903a", "530d903b"),               // wrong ID
            good.replace("530d903a", "530D903A"),               // uppercase hex
            good.replace("example.com/foo", "example.com/bar"), // ID no longer matches
            good.replace("AekyeRrm", "AgkyeRrm"), // unknown type 0x02, ID mismatch first or type
            format!("{good}+extra"),
            good.replace("+Aeky", "+!eky"),
            "a b+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k".to_owned(),
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2kAA==".to_owned(),
        ];
        for c in cases {
            assert!(Vkey::parse(&c).is_err(), "accepted {c:?}");
        }
    }

    #[test]
    fn invalid_names_are_errors() {
        let sk = SigningKey::from_bytes(&[1; 32]);
        for name in ["", "a b", "a+b", "tab\there"] {
            assert!(LogKey::try_new(name, sk.clone()).is_err());
            assert!(CosignerKey::try_new(name, sk.clone()).is_err());
        }
    }
}
