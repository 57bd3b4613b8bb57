//! Values on the wire: a statement's parameters, a set statement's columns (one array per
//! parameter across its rows), and a result row as the registry's [`Val`]s.

use crate::store::{DbError, DbErrorKind, DbResult, Row, Val};
use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type};

/// One parameter's values across the rows of a set statement, typed as the statement wants.
#[derive(Debug)]
pub(super) enum Column<'a> {
    Int8(Vec<Option<i64>>),
    Int4(Vec<Option<i32>>),
    Int2(Vec<Option<i16>>),
    Bytea(Vec<Option<&'a [u8]>>),
    Text(Vec<Option<&'a str>>),
}

impl<'a> Column<'a> {
    pub(super) fn supported(t: &Type) -> Option<()> {
        [Type::INT8, Type::INT4, Type::INT2, Type::BYTEA, Type::TEXT].contains(t).then_some(())
    }

    /// One column per parameter of a statement with `types`, over `rows`.
    pub(super) fn all(types: &[Type], rows: &'a [Vec<Val>]) -> DbResult<Vec<Self>> {
        types.iter().enumerate().map(|(k, t)| Column::of(t, rows, k)).collect()
    }

    fn of(t: &Type, rows: &'a [Vec<Val>], k: usize) -> DbResult<Self> {
        let bad = |v: &Val| DbError::new(DbErrorKind::Other, format!("postgres: {v:?} for a {t} parameter"));
        let values = || rows.iter().map(|r| r.get(k).unwrap_or(&Val::Null));
        /// The integers of a column, each narrowed to the parameter's width.
        fn ints<'v, T: TryFrom<i64>>(
            values: impl Iterator<Item = &'v Val>,
            bad: impl Fn(&Val) -> DbError,
        ) -> DbResult<Vec<Option<T>>> {
            values
                .map(|v| match v {
                    Val::Null => Ok(None),
                    Val::Int(i) => T::try_from(*i).map(Some).map_err(|_| bad(v)),
                    other => Err(bad(other)),
                })
                .collect()
        }
        Ok(if *t == Type::INT8 {
            Column::Int8(ints(values(), bad)?)
        } else if *t == Type::INT4 {
            Column::Int4(ints(values(), bad)?)
        } else if *t == Type::INT2 {
            Column::Int2(ints(values(), bad)?)
        } else if *t == Type::BYTEA {
            let bytes = |v: &'a Val| match v {
                Val::Null => Ok(None),
                Val::Bytes(b) => Ok(Some(b.as_slice())),
                other => Err(bad(other)),
            };
            Column::Bytea(values().map(bytes).collect::<DbResult<_>>()?)
        } else {
            let text = |v: &'a Val| match v {
                Val::Null => Ok(None),
                Val::Text(s) => Ok(Some(s.as_str())),
                other => Err(bad(other)),
            };
            Column::Text(values().map(text).collect::<DbResult<_>>()?)
        })
    }
}

impl ToSql for Column<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Column::Int8(v) => v.to_sql(ty, out),
            Column::Int4(v) => v.to_sql(ty, out),
            Column::Int2(v) => v.to_sql(ty, out),
            Column::Bytea(v) => v.to_sql(ty, out),
            Column::Text(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

pub(super) fn column_refs<'c>(columns: &'c [Column<'_>]) -> Vec<&'c (dyn ToSql + Sync)> {
    columns.iter().map(|c| c as &(dyn ToSql + Sync)).collect()
}

pub(super) fn refs(args: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

/// A result row as [`Val`]s, by each column's type.
pub(super) fn row(r: &tokio_postgres::Row) -> DbResult<Row> {
    let mut vals = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let v = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Val::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?.map(|v| Val::Int(v.into()))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?.map(|v| Val::Int(v.into()))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?.map(|v| Val::Int(v.into()))
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?.map(Val::Bytes)
        } else if [Type::TEXT, Type::VARCHAR, Type::NAME].contains(ty) {
            r.try_get::<_, Option<String>>(i)?.map(Val::Text)
        } else {
            return Err(DbError::new(DbErrorKind::Other, format!("postgres: unexpected column type {ty}")));
        };
        vals.push(v.unwrap_or(Val::Null));
    }
    Ok(Row(vals))
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) if *ty == Type::INT8 => i.to_sql(ty, out),
            Val::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Val::Int(i) if *ty == Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
            Val::Int(i) if *ty == Type::BOOL => (*i != 0).to_sql(ty, out),
            Val::Int(_) => Err(format!("an integer passed for a {ty} parameter").into()),
            Val::Bytes(b) => b.as_slice().to_sql(ty, out),
            Val::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}
