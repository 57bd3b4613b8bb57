//! Field elements on the wire: 32-byte big-endian, `0x`-prefixed hex in text formats.
//!
//! Decoding rejects values ≥ p instead of reducing them (docs/soundness.md §6): every field element has
//! exactly one encoding, so nothing can be presented twice under two spellings.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};

/// Bytes of an encoded field element.
pub const FR_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    #[error("a field element must be {FR_BYTES} bytes, got {0}")]
    Length(usize),
    #[error("field element is not canonical (not below the BN254 scalar modulus)")]
    NonCanonical,
    #[error("field element is not valid hex: {0}")]
    Hex(String),
}

pub fn to_bytes(x: &Fr) -> [u8; FR_BYTES] {
    let mut out = [0u8; FR_BYTES];
    out.copy_from_slice(&x.into_bigint().to_bytes_be());
    out
}

/// Big-endian bytes → field element, refusing anything but the one canonical encoding.
pub fn from_bytes(bytes: &[u8]) -> Result<Fr, FieldError> {
    if bytes.len() != FR_BYTES {
        return Err(FieldError::Length(bytes.len()));
    }
    let x = Fr::from_be_bytes_mod_order(bytes);
    if to_bytes(&x) != bytes {
        return Err(FieldError::NonCanonical);
    }
    Ok(x)
}

pub fn to_hex(x: &Fr) -> String {
    format!("0x{}", hex::encode(to_bytes(x)))
}

pub fn from_hex(s: &str) -> Result<Fr, FieldError> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(digits).map_err(|e| FieldError::Hex(e.to_string()))?;
    from_bytes(&bytes)
}

/// `#[serde(with = "serde_fr")]` for one field element.
pub mod serde_fr {
    use super::*;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &Fr, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(x))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fr, D::Error> {
        from_hex(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// `#[serde(with = "serde_fr_vec3")]` for Merkle siblings.
pub mod serde_fr_vec3 {
    use super::*;
    use serde::{de::Error, ser::SerializeSeq, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[[Fr; 3]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for level in v {
            seq.serialize_element(&level.iter().map(to_hex).collect::<Vec<_>>())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[Fr; 3]>, D::Error> {
        let raw = Vec::<[String; 3]>::deserialize(d)?;
        raw.iter()
            .map(|level| {
                let mut out = [Fr::from(0u64); 3];
                for (o, s) in out.iter_mut().zip(level) {
                    *o = from_hex(s).map_err(D::Error::custom)?;
                }
                Ok(out)
            })
            .collect()
    }
}
