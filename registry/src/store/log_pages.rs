//! The log's entries, stored by pages of [`PAGE`] consecutive entries (`log_pages`): page `p`
//! holds entries `p·PAGE ..`, each as a 4-byte big-endian length and its bytes.
//!
//! Why pages: an entry is small (an enrolment is 46 bytes) and there is one per holder, so a row
//! per entry cost more in row header, index and key than the entry itself (118 bytes a holder on
//! PostgreSQL at 10 M holders). A page costs that once for 256 entries. Readers want ranges anyway
//! (an auditor replays the log in order; a proof's lower subtrees are runs of entries), and a
//! publish rewrites at most the one partial page at the end besides its new pages.

use super::{Db, DbError, DbErrorKind, DbResult};
use crate::args;

/// Entries per page.
pub const PAGE: u64 = 256;

/// One page's bytes.
pub fn encode<E: AsRef<[u8]>>(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| 4 + e.as_ref().len()).sum());
    for e in entries {
        let e = e.as_ref();
        out.extend_from_slice(&u32::try_from(e.len()).expect("an entry under 4 GiB").to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// A page's entries; an error (never a panic) for bytes that are not a page.
pub fn decode(page: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut rest = page;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or("a log page ends inside a length")?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > tail.len() {
            return Err("a log page ends inside an entry".into());
        }
        if out.len() as u64 == PAGE {
            // (Checked as it parses: a blob of empty entries must not allocate its count first.)
            return Err(format!("a log page holds more than {PAGE} entries"));
        }
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    Ok(out)
}

fn corrupt(message: String) -> DbError {
    DbError::new(DbErrorKind::Corrupt, message)
}

/// The stored entries of `[from, to)`, in order, up to the first one missing (the end of the log,
/// or damage: callers that need them all compare the count).
pub fn read(db: &Db, from: u64, to: u64) -> DbResult<Vec<Vec<u8>>> {
    if from >= to {
        return Ok(Vec::new());
    }
    let (first, last) = (from / PAGE, (to - 1) / PAGE);
    let rows = db.rows(
        "SELECT page, entries FROM log_pages WHERE page >= ?1 AND page <= ?2 ORDER BY page",
        &args![first, last],
    )?;
    let mut out = Vec::new();
    for (next, r) in (first..).zip(rows) {
        let page: u64 = r.get(0)?;
        if page != next {
            break;
        }
        let entries = decode(&r.get::<Vec<u8>>(1)?).map_err(|e| corrupt(format!("log page {page}: {e}")))?;
        let base = page * PAGE;
        let len = entries.len();
        let full = len as u64 == PAGE;
        let wanted =
            entries.into_iter().enumerate().filter(|(i, _)| (from..to).contains(&(base + *i as u64)));
        out.extend(wanted.map(|(_, e)| e));
        if !full {
            // Only the log's last page may be short: a short page with a successor lost
            // entries, and those after the hole would be served under earlier indices.
            if db.row("SELECT 1 FROM log_pages WHERE page = ?1", &args![page + 1])?.is_some() {
                return Err(corrupt(format!("log page {page} holds {len} entries but is not the last page")));
            }
            break;
        }
    }
    Ok(out)
}

/// Entries `[from, to)`, every one of them, or an error naming the first missing.
pub fn read_all(db: &Db, from: u64, to: u64) -> DbResult<Vec<Vec<u8>>> {
    let out = read(db, from, to)?;
    if (out.len() as u64) < to.saturating_sub(from) {
        return Err(corrupt(format!("log entries {}..{to} are missing", from + out.len() as u64)));
    }
    Ok(out)
}

/// Stores `entries` as log entries `size..`, where `size` is the log's current size: the last,
/// partial page is read and rewritten with the new entries after its own. Runs inside the
/// caller's transaction.
pub fn append<E: AsRef<[u8]>>(db: &Db, size: u64, entries: &[E]) -> DbResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let held = size % PAGE;
    let mut all: Vec<&[u8]> = Vec::with_capacity(held as usize + entries.len());
    let partial = if held > 0 { read_all(db, size - held, size)? } else { Vec::new() };
    all.extend(partial.iter().map(Vec::as_slice));
    all.extend(entries.iter().map(AsRef::as_ref));
    let rows: Vec<Vec<_>> = all
        .chunks(PAGE as usize)
        .enumerate()
        .map(|(k, chunk)| args![size / PAGE + k as u64, encode(chunk)].to_vec())
        .collect();
    db.exec_many(
        "INSERT INTO log_pages (page, entries) VALUES (?1, ?2)
         ON CONFLICT (page) DO UPDATE SET entries = excluded.entries",
        &rows,
    )
}

/// Brings the entries of a registry from before `log_pages` (a `log` row per entry) into pages,
/// in bounded runs, and empties `log`; once, in one transaction, when a migrated registry is
/// first opened.
pub fn adopt_rows(db: &Db) -> DbResult<()> {
    if db.row("SELECT 1 FROM log LIMIT 1", &[])?.is_none() {
        return Ok(());
    }
    let tx = db.begin(super::TxKind::Write)?;
    // (Another process may have done it meanwhile.)
    if tx.row("SELECT 1 FROM log LIMIT 1", &[])?.is_none() {
        return Ok(());
    }
    // Rows in both tables: not a registry of the previous layout (whose pages are empty) but
    // damage; adopting would overwrite the signed log's first pages.
    if tx.row("SELECT 1 FROM log_pages LIMIT 1", &[])?.is_some() {
        return Err(corrupt(
            "both `log` rows and `log_pages` hold entries; the log was not converted".into(),
        ));
    }
    let size: i64 = tx.value("SELECT COUNT(*) FROM log", &[])?.unwrap_or(0);
    let (min, max): (Option<i64>, Option<i64>) = match tx.row("SELECT MIN(idx), MAX(idx) FROM log", &[])? {
        Some(r) => (r.get(0)?, r.get(1)?),
        None => (None, None),
    };
    let misnumbered = || corrupt(format!("the log's {size} entries are not numbered 0..{size}"));
    if min != Some(0) || max != Some(size - 1) {
        return Err(misnumbered());
    }
    const RUN: u64 = 64 * PAGE;
    let size = size as u64;
    let mut done = 0;
    while done < size {
        let rows = tx.rows(
            "SELECT idx, entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            &args![done, done + RUN],
        )?;
        // Every index of the run, each once: with MIN 0, MAX size - 1 and COUNT size, a duplicate
        // and a gap could otherwise cancel out and shift the entries between them.
        let mut entries = Vec::with_capacity(rows.len());
        for (want, r) in (done..).zip(&rows) {
            if r.get::<u64>(0)? != want {
                return Err(misnumbered());
            }
            entries.push(r.get::<Vec<u8>>(1)?);
        }
        if entries.is_empty() {
            return Err(misnumbered());
        }
        append(&tx, done, &entries)?;
        done += entries.len() as u64;
    }
    tx.exec("DELETE FROM log", &[])?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_trip_and_bad_pages_are_errors() {
        let entries: Vec<Vec<u8>> = vec![vec![], vec![1, 2, 3], vec![7; 300]];
        assert_eq!(decode(&encode(&entries)).unwrap(), entries);
        let good = encode(&entries);
        for bad in [&good[..2], &good[..good.len() - 1], &[0, 0, 1, 0, 5][..]] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        let too_many = encode(&vec![Vec::<u8>::new(); PAGE as usize + 1]);
        assert!(decode(&too_many).is_err());
    }
}
