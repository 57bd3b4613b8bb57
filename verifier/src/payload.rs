//! The health code itself: a versioned binary payload and its text form.
//!
//! ```text
//! offset   len  field
//!      0     1  version (2; version 1 carried a bound code's challenge as well as its tag)
//!      1     8  policy digest prefix: first 8 bytes of `Policy::digest`
//!      9   1–10 epoch of the registry head, unsigned LEB128, minimal encoding
//!      …     5  now: Unix seconds, u40 big-endian (every time is below 2^40)
//!      …     1  bits 0–1 colour (0 green, 1 yellow, 2 red); bit 7 bound; others 0
//!      …    32  unbound: the challenge; bound: the binding tag (field element, 32-byte
//!               big-endian, canonical; a tag is also non-zero)
//!      …   128  Groth16 proof, compressed: A (G1, 32), B (G2, 64), C (G1, 32)
//! ```
//!
//! A bound code carries its binding tag **instead of** its challenge: the challenge of a bound
//! code is the checkpoint's secret binding nonce, which the checkpoint supplies itself when it
//! verifies. Carrying it would make the tag `H(id_hash, challenge)` an offline test of document
//! numbers for anyone who sees the code, and two bindings at one venue linkable.
//!
//! 175 + n bytes, bound or not, n = 1–10 the epoch's varint length (1 byte below 2^7, 3 below
//! 2^21). A version-10 QR code at level M holds 213 bytes in byte mode,
//! so every code fits for epochs below 2^42. The root is not carried:
//! the checkpoint takes it from its trusted head for `epoch`. A binding tag of 0 means "no
//! binding" and is encoded by leaving the tag out, so every public input has exactly one encoding
//! (docs/soundness.md §6): decoding re-encodes and insists on getting the same bytes back.
//!
//! Text form: [`TEXT_PREFIX`] followed by the payload in unpadded base64url (shell- and URL-safe).
//! QR codes carry the binary payload itself in byte mode, the densest QR encoding for binary data
//! (8 bits per byte, against 8.25 for base45 in alphanumeric mode): every code, bound or not, fits
//! version 9 at error correction M for epochs below 2^7.

use ark_bn254::{Bn254, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_groth16::Proof;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use healthcode_circuits::field::{self, FieldError, FR_BYTES};
use healthcode_circuits::policy::Colour;
use healthcode_circuits::statement::PublicInputs;
use healthcode_circuits::time::MAX_TIME;

/// The payload layout this code reads and writes.
pub const VERSION: u8 = 2;
/// Bytes of the policy digest carried in a payload.
pub const POLICY_PREFIX_BYTES: usize = 8;
/// Bytes of a compressed BN254 Groth16 proof.
pub const PROOF_BYTES: usize = 128;
/// Prefix of the text form; the digit is the text-form version.
pub const TEXT_PREFIX: &str = "HCV1:";

const G1_BYTES: usize = 32;
const G2_BYTES: usize = 64;
const BIND_FLAG: u8 = 0x80;
const COLOUR_MASK: u8 = 0x03;

/// A decoded health code. Carries no secret: everything here is public input or proof.
#[derive(Clone, Debug, PartialEq)]
pub struct Payload {
    pub policy_prefix: [u8; POLICY_PREFIX_BYTES],
    pub epoch: u64,
    /// Unix seconds the colour is claimed at, below 2^40.
    pub now: u64,
    pub colour: Colour,
    /// The challenge the code answers; `None` for a bound code, whose challenge is the
    /// checkpoint's secret nonce and is not carried.
    pub challenge: Option<Fr>,
    /// `None` when the holder did not bind identity (public input 0).
    pub binding_tag: Option<Fr>,
    pub proof: Proof<Bn254>,
}

/// Why bytes or text are not a health code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is empty")]
    Empty,
    #[error("unknown payload version {0} (this build reads version {VERSION})")]
    UnknownVersion(u8),
    #[error("payload is truncated: {field} needs {needed} more bytes")]
    Truncated { field: &'static str, needed: usize },
    #[error("payload has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("epoch is not a minimal LEB128 encoding of a u64")]
    Epoch,
    #[error("unknown colour code {0}")]
    Colour(u8),
    #[error("reserved flag bits set: {0:#04x}")]
    Flags(u8),
    #[error("{0} is not a canonical field element (must be below the BN254 scalar modulus)")]
    NonCanonicalField(&'static str),
    #[error("binding tag flag set with a zero tag (0 is encoded by omitting the tag)")]
    ZeroBindingTag,
    #[error("proof point {0} is not a valid compressed curve point in the prime-order subgroup")]
    InvalidPoint(&'static str),
    #[error("proof point {0} is the point at infinity")]
    IdentityPoint(&'static str),
    #[error("payload is not in canonical encoding")]
    NonCanonical,
    #[error("text form must start with {TEXT_PREFIX:?}")]
    MissingPrefix,
    #[error("text form is not valid unpadded base64url")]
    Base64,
    #[error("`now` {0} is not below 2^40")]
    TimeRange(u64),
    #[error("a bound code carries no challenge and an unbound code carries one")]
    ChallengeAndBinding,
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], PayloadError> {
        if self.rest.len() < n {
            return Err(PayloadError::Truncated { field, needed: n - self.rest.len() });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn byte(&mut self, field: &'static str) -> Result<u8, PayloadError> {
        Ok(self.take(1, field)?[0])
    }

    fn fr(&mut self, field: &'static str) -> Result<Fr, PayloadError> {
        field::from_bytes(self.take(FR_BYTES, field)?).map_err(|e| match e {
            FieldError::NonCanonical => PayloadError::NonCanonicalField(field),
            _ => PayloadError::Truncated { field, needed: FR_BYTES },
        })
    }

    /// Unsigned LEB128, refusing overlong encodings and values above `u64::MAX`.
    fn varint(&mut self) -> Result<u64, PayloadError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = self.byte("epoch")?;
            let bits = (b & 0x7f) as u64;
            if i == 9 && bits > 1 {
                return Err(PayloadError::Epoch);
            }
            value |= bits << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(PayloadError::Epoch);
                }
                return Ok(value);
            }
        }
        Err(PayloadError::Epoch)
    }

    fn point<P: AffineRepr + CanonicalDeserialize>(
        &mut self,
        len: usize,
        name: &'static str,
    ) -> Result<P, PayloadError> {
        let bytes = self.take(len, name)?;
        let p = P::deserialize_compressed(bytes).map_err(|_| PayloadError::InvalidPoint(name))?;
        if p.is_zero() {
            return Err(PayloadError::IdentityPoint(name));
        }
        Ok(p)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

impl Payload {
    /// The public inputs this code claims, with `root` from the checkpoint's head for `epoch`
    /// and, for a bound code (which carries none), `challenge` the checkpoint's own nonce.
    /// `None` for a bound code without a nonce.
    pub fn public_inputs(&self, root: Fr, nonce: Option<Fr>) -> Option<PublicInputs> {
        Some(PublicInputs {
            root,
            now: self.now,
            colour: self.colour,
            challenge: self.challenge.or(nonce)?,
            binding_tag: self.binding_tag.unwrap_or(Fr::from(0u64)),
        })
    }

    /// The binary payload. Errors only if `now` is out of range or a proof point is the identity,
    /// which no honest prover produces.
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        if self.now > MAX_TIME {
            return Err(PayloadError::TimeRange(self.now));
        }
        for (name, zero) in
            [("A", self.proof.a.is_zero()), ("B", self.proof.b.is_zero()), ("C", self.proof.c.is_zero())]
        {
            if zero {
                return Err(PayloadError::IdentityPoint(name));
            }
        }
        let mut out = Vec::with_capacity(1 + POLICY_PREFIX_BYTES + 10 + 5 + 1 + FR_BYTES + PROOF_BYTES);
        out.push(VERSION);
        out.extend_from_slice(&self.policy_prefix);
        put_varint(&mut out, self.epoch);
        out.extend_from_slice(&self.now.to_be_bytes()[3..]);
        let tag = self.binding_tag.filter(|t| *t != Fr::from(0u64));
        let carried = match (tag, self.challenge) {
            (Some(t), None) => t,
            (None, Some(c)) => c,
            _ => return Err(PayloadError::ChallengeAndBinding),
        };
        out.push(self.colour.code() | if tag.is_some() { BIND_FLAG } else { 0 });
        out.extend_from_slice(&field::to_bytes(&carried));
        self.proof.serialize_compressed(&mut out).expect("writing to a Vec cannot fail");
        Ok(out)
    }

    /// Parses a binary payload, rejecting anything but the one canonical encoding of a code.
    pub fn decode(bytes: &[u8]) -> Result<Self, PayloadError> {
        let mut r = Reader { rest: bytes };
        let version = r.byte("version").map_err(|_| PayloadError::Empty)?;
        if version != VERSION {
            return Err(PayloadError::UnknownVersion(version));
        }
        let policy_prefix = r.take(POLICY_PREFIX_BYTES, "policy digest")?.try_into().expect("8 bytes");
        let epoch = r.varint()?;
        let mut now = [0u8; 8];
        now[3..].copy_from_slice(r.take(5, "now")?);
        let now = u64::from_be_bytes(now);
        let flags = r.byte("colour")?;
        if flags & !(COLOUR_MASK | BIND_FLAG) != 0 {
            return Err(PayloadError::Flags(flags));
        }
        let colour =
            Colour::from_code(flags & COLOUR_MASK).ok_or(PayloadError::Colour(flags & COLOUR_MASK))?;
        let (challenge, binding_tag) = if flags & BIND_FLAG != 0 {
            let t = r.fr("binding tag")?;
            if t == Fr::from(0u64) {
                return Err(PayloadError::ZeroBindingTag);
            }
            (None, Some(t))
        } else {
            (Some(r.fr("challenge")?), None)
        };
        let a = r.point::<G1Affine>(G1_BYTES, "A")?;
        let b = r.point::<G2Affine>(G2_BYTES, "B")?;
        let c = r.point::<G1Affine>(G1_BYTES, "C")?;
        if !r.rest.is_empty() {
            return Err(PayloadError::TrailingBytes(r.rest.len()));
        }
        let payload =
            Payload { policy_prefix, epoch, now, colour, challenge, binding_tag, proof: Proof { a, b, c } };
        // Belt and braces: whatever the parsers above accept must re-encode to the same bytes.
        if payload.encode()? != bytes {
            return Err(PayloadError::NonCanonical);
        }
        Ok(payload)
    }

    /// `HCV1:` + unpadded base64url of [`Payload::encode`].
    pub fn to_text(&self) -> Result<String, PayloadError> {
        Ok(format!("{TEXT_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.encode()?)))
    }

    /// Parses the text form; surrounding whitespace is ignored, nothing else is.
    pub fn from_text(text: &str) -> Result<Self, PayloadError> {
        let body = text.trim().strip_prefix(TEXT_PREFIX).ok_or(PayloadError::MissingPrefix)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| PayloadError::Base64)?;
        Self::decode(&bytes)
    }

    /// Either form: the text form if the bytes start with [`TEXT_PREFIX`], else the binary payload
    /// (what a QR code carries). Binary payloads start with the version byte, never with `H`.
    pub fn decode_any(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.trim_ascii().starts_with(TEXT_PREFIX.as_bytes()) {
            let text = std::str::from_utf8(bytes).map_err(|_| PayloadError::Base64)?;
            Self::from_text(text)
        } else {
            Self::decode(bytes)
        }
    }
}
