//! The registry's SQL, written once for both engines with SQLite's `?N` parameters, as
//! PostgreSQL runs it: `$N` parameters, and a batch of one row's statement as one statement
//! over arrays of the rows' values, or as a `COPY`.

use super::params::Column;
use tokio_postgres::types::Type;

/// `?1`-style parameters (SQLite's, as the registry writes its SQL) as PostgreSQL's `$1`.
pub(super) fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// `COPY t (a, b) FROM STDIN (FORMAT binary)` for exactly `INSERT INTO t (a, b) VALUES (?1, ?2)`
/// (the parameters in order, nothing after): the statements whose batches [`super::Postgres::exec_many`]
/// bulk-loads. Anything else (an expression, a conflict clause) is `None`.
pub(super) fn copy_sql(sql: &str, params: usize) -> Option<String> {
    let sql = sql.trim();
    let rest = sql.strip_prefix("INSERT INTO ")?;
    let open = rest.find('(')?;
    let table = rest[..open].trim();
    let close = open + matching_paren(&rest[open..])?;
    let columns = &rest[open + 1..close];
    let values = rest[close + 1..].trim_start().strip_prefix("VALUES")?.trim();
    let want: Vec<String> = (1..=params).map(|k| format!("?{k}")).collect();
    let inner = values.strip_prefix('(')?.strip_suffix(')')?;
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let given: Vec<&str> = inner.split(',').map(str::trim).collect();
    (params > 0
        && plain(table)
        && columns.split(',').map(str::trim).all(plain)
        && columns.split(',').count() == params
        && given == want)
        .then(|| format!("COPY {table} ({columns}) FROM STDIN (FORMAT binary)"))
}

/// `sql` (one row's `INSERT … VALUES (…)`, `UPDATE … WHERE …` or `DELETE FROM … WHERE …`, with
/// `?N` parameters of types `types`) as one statement over arrays: `unnest($1::T1[], …) AS
/// v(c1, …)` joined in, each `?N` read as `v.cN`. `None` for any other shape.
pub(super) fn set_sql(sql: &str, types: &[Type]) -> Option<String> {
    let (arrays, names, body) = over_arrays(sql, types)?;
    let source = format!("unnest({arrays}) AS v({names})");
    let head = body.trim_start();
    let upper = head.to_ascii_uppercase();
    if upper.starts_with("INSERT INTO") {
        let at = upper.find("VALUES")?;
        let open = at + head[at..].find('(')?;
        let close = open + matching_paren(&head[open..])?;
        Some(format!("{}SELECT {} FROM {source}{}", &head[..at], &head[open + 1..close], &head[close + 1..]))
    } else if upper.starts_with("UPDATE") {
        let at = upper.find(" WHERE ")?;
        Some(format!("{} FROM {source}{}", &head[..at], &head[at..]))
    } else if upper.starts_with("DELETE FROM") {
        let at = upper.find(" WHERE ")?;
        Some(format!("{} USING {source}{}", &head[..at], &head[at..]))
    } else {
        None
    }
}

/// A query with `?N` parameters of types `types` as one query over arrays: run once per row of
/// `unnest($1::T1[], …) WITH ORDINALITY AS v(c1, …, n)` (a lateral join, so each run uses the
/// query's own index), each result row led by `v.n`, the 1-based number of its request. The
/// `OFFSET 0` keeps the planner from flattening the lateral query into a join, which it would
/// run as a hash join over a scan of the whole table (seen: minutes per level at 10 M holders).
pub(super) fn lateral_sql(sql: &str, types: &[Type]) -> Option<String> {
    if !sql.trim_start().to_ascii_uppercase().starts_with("SELECT") {
        return None;
    }
    let (arrays, names, body) = over_arrays(sql, types)?;
    Some(format!(
        "SELECT v.n, q.* FROM unnest({arrays}) WITH ORDINALITY AS v({names}, n) CROSS JOIN LATERAL ({body} OFFSET 0) AS q ORDER BY v.n"
    ))
}

/// What [`set_sql`] and [`lateral_sql`] share: the typed array parameters (`$1::int8[], …`), the
/// names of their columns (`c1, …`) and `sql` with each `?N` read as `v.cN`. `None` when a
/// parameter's type has no [`Column`].
fn over_arrays(sql: &str, types: &[Type]) -> Option<(String, String, String)> {
    if types.is_empty() || types.iter().any(|t| Column::supported(t).is_none()) {
        return None;
    }
    let names: Vec<String> = (1..=types.len()).map(|k| format!("c{k}")).collect();
    let arrays: Vec<String> =
        types.iter().enumerate().map(|(k, t)| format!("${}::{}[]", k + 1, t.name())).collect();
    // `?N` → `v.cN` (longest numbers first, so `?12` is not read as `?1` then `2`).
    let mut body = sql.to_string();
    for k in (1..=types.len()).rev() {
        body = body.replace(&format!("?{k}"), &format!("v.c{k}"));
    }
    Some((arrays.join(", "), names.join(", "), body))
}

/// The offset of the parenthesis closing the one `s` starts with.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollar_parameters() {
        assert_eq!(
            placeholders("SELECT ?1, ?12 WHERE a = '?' AND b = ?2"),
            "SELECT $1, $12 WHERE a = '?' AND b = $2"
        );
    }

    #[test]
    fn row_statements_become_set_statements() {
        let (i, b) = (Type::INT8, Type::BYTEA);
        assert_eq!(
            set_sql("INSERT INTO t (a, b) VALUES (?1, ?2) ON CONFLICT (a) DO UPDATE SET b = excluded.b", &[i.clone(), b.clone()])
                .unwrap(),
            "INSERT INTO t (a, b) SELECT v.c1, v.c2 FROM unnest($1::int8[], $2::bytea[]) AS v(c1, c2) ON CONFLICT (a) DO UPDATE SET b = excluded.b"
        );
        assert_eq!(
            set_sql("UPDATE h SET state = ?1, published = 1 WHERE leaf_index = ?2", &[b.clone(), i.clone()]).unwrap(),
            "UPDATE h SET state = v.c1, published = 1 FROM unnest($1::bytea[], $2::int8[]) AS v(c1, c2) WHERE leaf_index = v.c2"
        );
        assert_eq!(
            set_sql("DELETE FROM n WHERE level = ?1 AND idx = ?2", &[i.clone(), i.clone()]).unwrap(),
            "DELETE FROM n USING unnest($1::int8[], $2::int8[]) AS v(c1, c2) WHERE level = v.c1 AND idx = v.c2"
        );
        assert_eq!(set_sql("SELECT ?1", std::slice::from_ref(&i)), None);
        assert_eq!(
            lateral_sql("SELECT idx, hash FROM n WHERE level = ?1 AND idx BETWEEN ?2 AND ?3", &[i.clone(), i.clone(), i.clone()])
                .unwrap(),
            "SELECT v.n, q.* FROM unnest($1::int8[], $2::int8[], $3::int8[]) WITH ORDINALITY AS v(c1, c2, c3, n) \
             CROSS JOIN LATERAL (SELECT idx, hash FROM n WHERE level = v.c1 AND idx BETWEEN v.c2 AND v.c3 OFFSET 0) AS q ORDER BY v.n"
        );
        assert_eq!(lateral_sql("DELETE FROM n WHERE a = ?1", &[i]), None);
    }

    #[test]
    fn plain_insert_batches_become_copies_and_nothing_else_does() {
        assert_eq!(
            copy_sql("INSERT INTO log (idx, entry, epoch) VALUES (?1, ?2, ?3)", 3).as_deref(),
            Some("COPY log (idx, entry, epoch) FROM STDIN (FORMAT binary)")
        );
        for not_plain in [
            "INSERT INTO t (a, b) VALUES (?1, ?2) ON CONFLICT (a) DO UPDATE SET b = excluded.b",
            "INSERT INTO t (a, b) VALUES (?2, ?1)",
            "INSERT INTO t (a, b) VALUES (?1, 0)",
            "INSERT INTO t (a, b) VALUES (?1, ?2 + 1)",
            "INSERT INTO t (a) SELECT ?1",
            "INSERT INTO t (a, b) VALUES (?1)",
            "UPDATE t SET a = ?1 WHERE b = ?2",
            "INSERT INTO t; DROP TABLE x (a, b) VALUES (?1, ?2)",
        ] {
            assert_eq!(copy_sql(not_plain, 2), None, "{not_plain}");
        }
    }
}
