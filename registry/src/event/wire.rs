//! The canonical byte encoding of signed messages and log entries: integers big-endian,
//! strings and byte strings length-prefixed, and a reader that refuses trailing bytes.

use super::DecodeError;
use ed25519_dalek::{Signature, VerifyingKey};

pub(super) struct Writer(pub(super) Vec<u8>);

impl Writer {
    pub(super) fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub(super) fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(super) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(super) fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
    /// A length-prefixed string. Names longer than `u16::MAX` bytes cannot be encoded; they are
    /// cut there rather than panicking, and every such message is refused anyway (names are
    /// limited to [`MAX_NAME`] bytes before any signature is checked).
    pub(super) fn str(&mut self, s: &str) -> &mut Self {
        let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
        self.0.extend_from_slice(&(b.len() as u16).to_be_bytes());
        self.bytes(b)
    }
}

/// A strict reader: every field must be present and nothing may follow the last one.
pub(crate) struct Reader<'a> {
    what: &'static str,
    pub(super) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Self { what, rest: bytes }
    }
    pub(super) fn err(&self, why: impl Into<String>) -> DecodeError {
        DecodeError { what: self.what, why: why.into() }
    }
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(self.err("truncated"));
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }
    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("length taken"))
    }
    pub(super) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    pub(super) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub(super) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    pub(super) fn str(&mut self) -> Result<String, DecodeError> {
        let len = u16::from_be_bytes(self.array()?) as usize;
        let b = self.take(len)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err("a name is not UTF-8"))
    }
    pub(super) fn key(&mut self) -> Result<VerifyingKey, DecodeError> {
        let b = self.array::<32>()?;
        VerifyingKey::from_bytes(&b).map_err(|_| self.err("not an Ed25519 public key"))
    }
    pub(super) fn sig(&mut self) -> Result<Signature, DecodeError> {
        Ok(Signature::from_bytes(&self.array::<64>()?))
    }
    pub(super) fn end(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.err(format!("{} trailing bytes", self.rest.len())))
        }
    }
}
