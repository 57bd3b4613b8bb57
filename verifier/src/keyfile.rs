//! Key files: a versioned header naming the circuit the key was made for, then the key.
//!
//! ```text
//! offset len  field
//!      0   6  magic  "HCKEY\0"
//!      6   1  kind   b'P' proving key | b'V' verifying key
//!      7   1  format version (1)
//!      8   1  body encoding: 0 = compressed points, 1 = uncompressed points
//!      9  32  circuit digest (SHA-256 of the constraint matrices, see `circuit_info`)
//!     41  32  SHA-256 of the body
//!     73   8  body length, u64 big-endian
//!     81   …  body: the arkworks `CanonicalSerialize` encoding of the key
//! ```
//!
//! A key whose circuit digest is not the expected one is refused (docs/soundness.md §8): the digest is
//! recomputed from the policy, or read from a manifest that was itself checked against it.
//!
//! Verifying keys are always deserialised with full point validation (on curve, in the subgroup,
//! not trusted at all). Proving keys are large and loading them is part of the time a citizen
//! waits, so their body is deserialised *without* the expensive subgroup checks once its SHA-256
//! matches the header and, when given, the hash pinned in the bundle manifest; every point is
//! still checked to be on its curve (cheap, and on BN254's G1, cofactor 1, that is the subgroup
//! check). A bad proving key cannot make a false proof verify: soundness rests on the verifying key
//! alone, and a proof made with a corrupted key is rejected by every checkpoint.

use ark_bn254::Bn254;
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use sha2::{Digest, Sha256};
use std::fmt;

/// The first bytes of every key file.
pub const MAGIC: &[u8; 6] = b"HCKEY\0";
/// The only header format this code reads and writes.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the body.
pub const HEADER_LEN: usize = 81;

/// Which key a file holds: a proving key where a verifying key is expected is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Proving,
    Verifying,
}

impl KeyKind {
    fn byte(self) -> u8 {
        match self {
            KeyKind::Proving => b'P',
            KeyKind::Verifying => b'V',
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'P' => Some(KeyKind::Proving),
            b'V' => Some(KeyKind::Verifying),
            _ => None,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Proving => "proving key",
            KeyKind::Verifying => "verifying key",
        })
    }
}

/// The parsed header of a key file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHeader {
    pub kind: KeyKind,
    pub compressed: bool,
    pub circuit_digest: [u8; 32],
    pub body_sha256: [u8; 32],
    pub body_len: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyFileError {
    #[error("not a health-code key file (bad magic bytes)")]
    Magic,
    #[error("key file is truncated ({0} bytes)")]
    Truncated(usize),
    #[error("unsupported key file format version {0} (this build reads version {FORMAT_VERSION})")]
    Version(u8),
    #[error("unknown key kind byte {0:#04x}")]
    UnknownKind(u8),
    #[error("expected a {expected}, found a {found}")]
    WrongKind { expected: KeyKind, found: KeyKind },
    #[error("unknown key body encoding {0}")]
    Encoding(u8),
    #[error(
        "key is for another circuit: it was made for circuit {found}, this policy compiles to {expected}"
    )]
    WrongCircuit { expected: String, found: String },
    #[error("key body length {declared} does not match the {actual} bytes after the header")]
    Length { declared: u64, actual: usize },
    #[error("key body is corrupted: its SHA-256 does not match the header")]
    Corrupted,
    #[error("key body SHA-256 {found} differs from {expected} pinned in the bundle manifest")]
    NotPinned { expected: String, found: String },
    #[error("key body is malformed: {0}")]
    Body(String),
    #[error("key contains a point that is not on its curve")]
    OffCurve,
}

/// Writes a key with its header. `compressed` picks the body encoding.
pub fn encode<K: CanonicalSerialize>(
    kind: KeyKind,
    circuit_digest: &[u8; 32],
    key: &K,
    compressed: bool,
) -> Vec<u8> {
    let compress = if compressed { Compress::Yes } else { Compress::No };
    let mut body = Vec::with_capacity(key.serialized_size(compress));
    key.serialize_with_mode(&mut body, compress).expect("writing to a Vec cannot fail");
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.push(kind.byte());
    out.push(FORMAT_VERSION);
    out.push(if compressed { 0 } else { 1 });
    out.extend_from_slice(circuit_digest);
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Parses and checks the header against the expected kind and circuit digest; returns it with the
/// body, whose hash has been checked against the header (and `pinned_sha256` when given).
pub fn open<'a>(
    bytes: &'a [u8],
    kind: KeyKind,
    circuit_digest: &[u8; 32],
    pinned_sha256: Option<&[u8; 32]>,
) -> Result<(KeyHeader, &'a [u8]), KeyFileError> {
    let (header, body) = parse_header(bytes, kind, circuit_digest)?;
    check_body_hash(&header, body, pinned_sha256)?;
    Ok((header, body))
}

/// [`open`] without the body hash, for a caller that checks it with [`check_body_hash`] alongside
/// other work and never returns anything built from the body unless the check passes.
fn parse_header<'a>(
    bytes: &'a [u8],
    kind: KeyKind,
    circuit_digest: &[u8; 32],
) -> Result<(KeyHeader, &'a [u8]), KeyFileError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(KeyFileError::Magic);
    }
    if bytes.len() < HEADER_LEN {
        return Err(KeyFileError::Truncated(bytes.len()));
    }
    if bytes[7] != FORMAT_VERSION {
        return Err(KeyFileError::Version(bytes[7]));
    }
    let found = KeyKind::from_byte(bytes[6]).ok_or(KeyFileError::UnknownKind(bytes[6]))?;
    if found != kind {
        return Err(KeyFileError::WrongKind { expected: kind, found });
    }
    let compressed = match bytes[8] {
        0 => true,
        1 => false,
        e => return Err(KeyFileError::Encoding(e)),
    };
    let header = KeyHeader {
        kind,
        compressed,
        circuit_digest: bytes[9..41].try_into().expect("32 bytes"),
        body_sha256: bytes[41..73].try_into().expect("32 bytes"),
        body_len: u64::from_be_bytes(bytes[73..81].try_into().expect("8 bytes")),
    };
    if &header.circuit_digest != circuit_digest {
        return Err(KeyFileError::WrongCircuit {
            expected: hex::encode(circuit_digest),
            found: hex::encode(header.circuit_digest),
        });
    }
    let body = &bytes[HEADER_LEN..];
    if header.body_len != body.len() as u64 {
        return Err(KeyFileError::Length { declared: header.body_len, actual: body.len() });
    }
    Ok((header, body))
}

/// The body must hash to the header's SHA-256 and, when given, to the pinned one.
fn check_body_hash(
    header: &KeyHeader,
    body: &[u8],
    pinned_sha256: Option<&[u8; 32]>,
) -> Result<(), KeyFileError> {
    let actual: [u8; 32] = Sha256::digest(body).into();
    if actual != header.body_sha256 {
        return Err(KeyFileError::Corrupted);
    }
    if let Some(pinned) = pinned_sha256 {
        if &actual != pinned {
            return Err(KeyFileError::NotPinned {
                expected: hex::encode(pinned),
                found: hex::encode(actual),
            });
        }
    }
    Ok(())
}

fn deserialize<K: CanonicalDeserialize>(
    body: &[u8],
    compressed: bool,
    validate: Validate,
) -> Result<K, KeyFileError> {
    let compress = if compressed { Compress::Yes } else { Compress::No };
    let mut reader = body;
    let key = K::deserialize_with_mode(&mut reader, compress, validate)
        .map_err(|e| KeyFileError::Body(e.to_string()))?;
    if !reader.is_empty() {
        return Err(KeyFileError::Body(format!("{} trailing bytes after the key", reader.len())));
    }
    Ok(key)
}

/// Reads a verifying key made for `circuit_digest`, validating every point fully.
pub fn decode_verifying_key(
    bytes: &[u8],
    circuit_digest: &[u8; 32],
    pinned_sha256: Option<&[u8; 32]>,
) -> Result<VerifyingKey<Bn254>, KeyFileError> {
    let (header, body) = open(bytes, KeyKind::Verifying, circuit_digest, pinned_sha256)?;
    deserialize(body, header.compressed, Validate::Yes)
}

/// Reads a proving key made for `circuit_digest`: hash-checked body, points checked on curve but
/// not (expensively) for G2 subgroup membership; see the module documentation for why.
pub fn decode_proving_key(
    bytes: &[u8],
    circuit_digest: &[u8; 32],
    pinned_sha256: Option<&[u8; 32]>,
) -> Result<ProvingKey<Bn254>, KeyFileError> {
    let (header, body) = parse_header(bytes, KeyKind::Proving, circuit_digest)?;
    let decode = || -> Result<ProvingKey<Bn254>, KeyFileError> {
        let pk: ProvingKey<Bn254> = deserialize(body, header.compressed, Validate::No)?;
        if !proving_key_on_curve(&pk) {
            return Err(KeyFileError::OffCurve);
        }
        Ok(pk)
    };
    // With `parallel`, hashing the body (a fifth of loading) overlaps decoding it; the hash
    // verdict is checked first either way, so a corrupted file is reported as such.
    #[cfg(feature = "parallel")]
    let (hashed, pk) = rayon::join(|| check_body_hash(&header, body, pinned_sha256), decode);
    #[cfg(not(feature = "parallel"))]
    let (hashed, pk) = (check_body_hash(&header, body, pinned_sha256), decode());
    hashed?;
    pk
}

/// Reads a proving key with full arkworks validation of every point (subgroup checks included):
/// for auditors and setup self-checks, where time does not matter.
pub fn decode_proving_key_fully_checked(
    bytes: &[u8],
    circuit_digest: &[u8; 32],
    pinned_sha256: Option<&[u8; 32]>,
) -> Result<ProvingKey<Bn254>, KeyFileError> {
    let (header, body) = open(bytes, KeyKind::Proving, circuit_digest, pinned_sha256)?;
    deserialize(body, header.compressed, Validate::Yes)
}

fn proving_key_on_curve(pk: &ProvingKey<Bn254>) -> bool {
    let vk = &pk.vk;
    let g1 = [vk.alpha_g1, pk.beta_g1, pk.delta_g1]
        .iter()
        .chain(&vk.gamma_abc_g1)
        .chain(&pk.a_query)
        .chain(&pk.b_g1_query)
        .chain(&pk.h_query)
        .chain(&pk.l_query)
        .all(|p| p.is_on_curve());
    let g2 = [vk.beta_g2, vk.gamma_g2, vk.delta_g2].iter().chain(&pk.b_g2_query).all(|p| p.is_on_curve());
    g1 && g2
}
