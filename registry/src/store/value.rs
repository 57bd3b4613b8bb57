//! The values that cross the storage interface: SQL's integers, byte strings, text and NULL,
//! which both engines store natively.

use super::{DbError, DbErrorKind, DbResult};

/// One SQL value (a parameter or a column of a result row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Null,
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}

impl From<u32> for Val {
    fn from(v: u32) -> Self {
        Val::Int(v.into())
    }
}

/// Every `u64` the registry stores (times ≤ 2^40, epochs, sizes and indexes) is far below 2^63.
impl From<u64> for Val {
    fn from(v: u64) -> Self {
        Val::Int(v as i64)
    }
}

impl From<usize> for Val {
    fn from(v: usize) -> Self {
        Val::Int(v as i64)
    }
}

impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Int(v.into())
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_string())
    }
}

impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}

impl From<&[u8]> for Val {
    fn from(v: &[u8]) -> Self {
        Val::Bytes(v.to_vec())
    }
}

impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Self {
        Val::Bytes(v)
    }
}

impl<const N: usize> From<&[u8; N]> for Val {
    fn from(v: &[u8; N]) -> Self {
        Val::Bytes(v.to_vec())
    }
}

impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}

/// A result row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row(pub Vec<Val>);

impl Row {
    /// Column `i` as a `T`: a missing column or a value of another type is an error (a damaged
    /// or altered database), never a panic.
    pub fn get<T: FromVal>(&self, i: usize) -> DbResult<T> {
        let v = self.0.get(i).ok_or_else(|| bad(format!("no column {i}")))?;
        T::from_val(v)
    }
}

fn bad(message: String) -> DbError {
    DbError::new(DbErrorKind::Corrupt, format!("unexpected stored value: {message}"))
}

/// A Rust value read from a [`Val`].
pub trait FromVal: Sized {
    fn from_val(v: &Val) -> DbResult<Self>;
}

impl FromVal for i64 {
    fn from_val(v: &Val) -> DbResult<Self> {
        match v {
            Val::Int(i) => Ok(*i),
            other => Err(bad(format!("{other:?} where an integer belongs"))),
        }
    }
}

impl FromVal for u64 {
    fn from_val(v: &Val) -> DbResult<Self> {
        let i = i64::from_val(v)?;
        u64::try_from(i).map_err(|_| bad(format!("{i} where a non-negative integer belongs")))
    }
}

impl FromVal for u32 {
    fn from_val(v: &Val) -> DbResult<Self> {
        let i = i64::from_val(v)?;
        u32::try_from(i).map_err(|_| bad(format!("{i} where a 32-bit index belongs")))
    }
}

impl FromVal for usize {
    fn from_val(v: &Val) -> DbResult<Self> {
        let i = i64::from_val(v)?;
        usize::try_from(i).map_err(|_| bad(format!("{i} where a non-negative integer belongs")))
    }
}

impl FromVal for bool {
    fn from_val(v: &Val) -> DbResult<Self> {
        match i64::from_val(v)? {
            0 => Ok(false),
            1 => Ok(true),
            i => Err(bad(format!("{i} where a flag belongs"))),
        }
    }
}

impl FromVal for Vec<u8> {
    fn from_val(v: &Val) -> DbResult<Self> {
        match v {
            Val::Bytes(b) => Ok(b.clone()),
            other => Err(bad(format!("{other:?} where bytes belong"))),
        }
    }
}

impl FromVal for String {
    fn from_val(v: &Val) -> DbResult<Self> {
        match v {
            Val::Text(s) => Ok(s.clone()),
            other => Err(bad(format!("{other:?} where text belongs"))),
        }
    }
}

impl<T: FromVal> FromVal for Option<T> {
    fn from_val(v: &Val) -> DbResult<Self> {
        match v {
            Val::Null => Ok(None),
            v => T::from_val(v).map(Some),
        }
    }
}

/// The arguments of one statement: `args![a, b]` is `[Val::from(a), Val::from(b)]`.
#[macro_export]
macro_rules! args {
    ($($x:expr),* $(,)?) => { [$($crate::store::Val::from($x)),*] };
}
