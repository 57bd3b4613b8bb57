//! The container of every iden3 binary file (`.ptau`, `.zkey`, `.r1cs`, `.wtns`): a four-byte
//! magic, a version, then sections `(id: u32, size: u64, bytes)`, all little-endian.
//!
//! Reading never trusts a size: every length is checked against what is left of the file before
//! anything is allocated, and every error names the file kind, the section and the byte offset.

use crate::encoding::{self, PointError};
use ark_bn254::{Fr, G1Affine, G2Affine};
use std::fmt;

/// Where in a file something went wrong, and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct FormatError {
    /// `"ptau"`, `"zkey"` or `"r1cs"`.
    pub kind: &'static str,
    pub section: Option<u32>,
    /// Byte offset from the start of the file.
    pub offset: u64,
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.section {
            Some(s) => write!(f, ".{} section {s} at byte {}: {}", self.kind, self.offset, self.message),
            None => write!(f, ".{} at byte {}: {}", self.kind, self.offset, self.message),
        }
    }
}

/// A parsed container: the sections' positions in `data`.
pub struct BinFile<'a> {
    kind: &'static str,
    pub version: u32,
    data: &'a [u8],
    /// `(id, start, len)` in file order.
    sections: Vec<(u32, usize, usize)>,
}

impl<'a> BinFile<'a> {
    /// Parses the header and the section table of a file whose magic must be `kind`.
    pub fn parse(data: &'a [u8], kind: &'static str, max_version: u32) -> Result<Self, FormatError> {
        let err = |offset: usize, message: String| FormatError {
            kind,
            section: None,
            offset: offset as u64,
            message,
        };
        if data.len() < 12 {
            return Err(err(0, format!("{} bytes is too short for a .{kind} header", data.len())));
        }
        if &data[..4] != kind.as_bytes() {
            return Err(err(
                0,
                format!("not a .{kind} file (magic {:?})", String::from_utf8_lossy(&data[..4])),
            ));
        }
        let version = u32::from_le_bytes(data[4..8].try_into().expect("4 bytes"));
        if version == 0 || version > max_version {
            return Err(err(4, format!("unsupported version {version}")));
        }
        let n = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes")) as usize;
        let mut pos = 12;
        let mut sections = Vec::new();
        for _ in 0..n {
            if data.len() - pos < 12 {
                return Err(err(
                    pos,
                    format!("truncated: section header {} of {n} missing", sections.len() + 1),
                ));
            }
            let id = u32::from_le_bytes(data[pos..pos + 4].try_into().expect("4 bytes"));
            let size = u64::from_le_bytes(data[pos + 4..pos + 12].try_into().expect("8 bytes"));
            pos += 12;
            let left = (data.len() - pos) as u64;
            if size > left {
                return Err(FormatError {
                    kind,
                    section: Some(id),
                    offset: pos as u64,
                    message: format!("truncated: the section says {size} bytes, {left} remain"),
                });
            }
            sections.push((id, pos, size as usize));
            pos += size as usize;
        }
        if pos != data.len() {
            return Err(err(pos, format!("{} trailing bytes after the last section", data.len() - pos)));
        }
        Ok(Self { kind, version, data, sections })
    }

    /// The one section with this id.
    pub fn section(&self, id: u32) -> Result<Reader<'a>, FormatError> {
        let mut found = self.sections.iter().filter(|s| s.0 == id);
        let Some(&(_, start, len)) = found.next() else {
            return Err(FormatError {
                kind: self.kind,
                section: Some(id),
                offset: 0,
                message: "missing".into(),
            });
        };
        if found.next().is_some() {
            return Err(FormatError {
                kind: self.kind,
                section: Some(id),
                offset: start as u64,
                message: "appears twice".into(),
            });
        }
        Ok(Reader { kind: self.kind, section: id, data: &self.data[start..start + len], base: start, pos: 0 })
    }

    pub fn has(&self, id: u32) -> bool {
        self.sections.iter().any(|s| s.0 == id)
    }

    /// Section ids in file order.
    pub fn ids(&self) -> Vec<u32> {
        self.sections.iter().map(|s| s.0).collect()
    }
}

/// A cursor over one section.
pub struct Reader<'a> {
    kind: &'static str,
    pub section: u32,
    data: &'a [u8],
    base: usize,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn err(&self, message: impl Into<String>) -> FormatError {
        FormatError {
            kind: self.kind,
            section: Some(self.section),
            offset: (self.base + self.pos) as u64,
            message: message.into(),
        }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The whole section's bytes.
    pub fn all(&self) -> &'a [u8] {
        self.data
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if self.remaining() < n {
            return Err(self.err(format!("truncated: {n} bytes needed, {} remain", self.remaining())));
        }
        let b = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    pub fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.bytes(4)?.try_into().expect("4 bytes")))
    }

    pub fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().expect("8 bytes")))
    }

    /// Checks that `count` items of `size` bytes fit in what is left, before allocating for them.
    pub fn expect_items(&self, count: u64, size: usize, what: &str) -> Result<(), FormatError> {
        match count.checked_mul(size as u64) {
            Some(n) if n <= self.remaining() as u64 => Ok(()),
            _ => Err(self.err(format!(
                "truncated: {count} {what} of {size} bytes do not fit in {} bytes",
                self.remaining()
            ))),
        }
    }

    fn point_err(&self, start: usize, what: &str, index: usize, e: PointError) -> FormatError {
        FormatError {
            kind: self.kind,
            section: Some(self.section),
            offset: (self.base + start) as u64,
            message: format!("{what}[{index}]: {e}"),
        }
    }

    /// `n` G1 points in snarkjs's Montgomery little-endian form, each fully validated.
    pub fn g1s(&mut self, n: usize, what: &str) -> Result<Vec<G1Affine>, FormatError> {
        self.expect_items(n as u64, encoding::G1_BYTES, what)?;
        let start = self.pos;
        let raw = self.bytes(n * encoding::G1_BYTES)?;
        let decoded: Vec<Result<G1Affine, PointError>> = {
            use rayon::prelude::*;
            raw.par_chunks(encoding::G1_BYTES).map(encoding::g1_from_lem).collect()
        };
        decoded
            .into_iter()
            .enumerate()
            .map(|(i, p)| p.map_err(|e| self.point_err(start + i * encoding::G1_BYTES, what, i, e)))
            .collect()
    }

    /// `n` G2 points, each fully validated (on the curve and in the prime-order subgroup).
    pub fn g2s(&mut self, n: usize, what: &str) -> Result<Vec<G2Affine>, FormatError> {
        self.expect_items(n as u64, encoding::G2_BYTES, what)?;
        let start = self.pos;
        let raw = self.bytes(n * encoding::G2_BYTES)?;
        let decoded: Vec<Result<G2Affine, PointError>> = {
            use rayon::prelude::*;
            raw.par_chunks(encoding::G2_BYTES).map(encoding::g2_from_lem).collect()
        };
        decoded
            .into_iter()
            .enumerate()
            .map(|(i, p)| p.map_err(|e| self.point_err(start + i * encoding::G2_BYTES, what, i, e)))
            .collect()
    }

    pub fn g1(&mut self, what: &str) -> Result<G1Affine, FormatError> {
        Ok(self.g1s(1, what)?[0])
    }

    pub fn g2(&mut self, what: &str) -> Result<G2Affine, FormatError> {
        Ok(self.g2s(1, what)?[0])
    }

    /// A little-endian integer of `n8` bytes that must equal `expected` (the field's modulus).
    pub fn expect_prime(&mut self, expected: &[u8], what: &str) -> Result<(), FormatError> {
        let n8 = self.u32()? as usize;
        if n8 != expected.len() {
            return Err(self.err(format!("{what} has {n8} bytes; BN254's has {}", expected.len())));
        }
        if self.bytes(n8)? != expected {
            return Err(self.err(format!("{what} is not BN254's")));
        }
        Ok(())
    }

    /// A scalar-field element in the standard (not Montgomery) little-endian form, canonical.
    pub fn fr_standard(&mut self) -> Result<Fr, FormatError> {
        let b = self.bytes(32)?;
        encoding::fr_from_le(b)
            .ok_or_else(|| self.err("a coefficient is not below the scalar field's modulus"))
    }

    /// Fails unless the whole section was read.
    pub fn finish(&self) -> Result<(), FormatError> {
        if self.remaining() != 0 {
            return Err(self.err(format!("{} unexpected bytes at the end of the section", self.remaining())));
        }
        Ok(())
    }
}

/// Writes a container: `sections` in the given order.
pub fn write(kind: &str, version: u32, sections: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let total: usize = sections.iter().map(|s| s.1.len() + 12).sum();
    let mut out = Vec::with_capacity(12 + total);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for (id, bytes) in sections {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}
