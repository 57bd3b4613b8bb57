//! Databases on a server (what an operator does once before `registry init`, and each test
//! for itself) and database URLs as messages show them.

use super::connection::Driver;
use crate::store::{DbError, DbErrorKind, DbResult};
use tokio_postgres::NoTls;

/// Creates the (empty) database `name` on the server of `server_url` and returns its URL: what
/// an operator does once before `registry init --db postgres://…`, and each test for itself.
pub fn create_database(server_url: &str, name: &str) -> DbResult<String> {
    admin(server_url, &format!("CREATE DATABASE {}", plain_name(name)?))?;
    Ok(with_database(server_url, name))
}

/// Creates a database with a name no other in this process or another has taken (for tests and
/// benchmarks, each of which wants a registry of its own) and returns its URL.
pub fn create_fresh_database(server_url: &str) -> DbResult<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("hc_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    create_database(server_url, &name)
}

/// Drops the database `name` on the server of `server_url`, if it exists (benchmarks, tests).
pub fn drop_database(server_url: &str, name: &str) -> DbResult<()> {
    admin(server_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", plain_name(name)?))
}

fn plain_name(name: &str) -> DbResult<&str> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(DbError::new(
            DbErrorKind::Other,
            format!("postgres: `{name}` is not a plain database name"),
        ));
    }
    Ok(name)
}

/// Runs `sql` (outside any transaction) on the server of `server_url`.
fn admin(server_url: &str, sql: &str) -> DbResult<()> {
    let config: tokio_postgres::Config = server_url.parse().map_err(|e| {
        DbError::new(
            DbErrorKind::Unusable,
            format!("postgres: {} is not a valid URL: {e}", redact(server_url)),
        )
    })?;
    Driver::new()?.block_on(async {
        let (client, connection) = config.connect(NoTls).await?;
        let task = tokio::spawn(connection);
        client.batch_execute(sql).await?;
        drop(client);
        let _ = task.await;
        Ok(())
    })
}

/// `url` naming database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let query = rest.find('?').unwrap_or(rest.len());
    let path = rest[..query].find('/').unwrap_or(query);
    format!("{}{}/{}{}", &url[..scheme_end], &rest[..path], name, &rest[query..])
}

/// `url` without its password (`postgres://user:***@host/db`), for messages and logs.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_string() };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..scheme_end], &rest[..colon], &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact("postgres://reg:s3cr@t@db.example:5432/reg"),
            "postgres://reg:***@db.example:5432/reg"
        );
        assert_eq!(redact("postgres://reg@db/reg"), "postgres://reg@db/reg");
        assert_eq!(redact("postgresql:///reg?host=/tmp"), "postgresql:///reg?host=/tmp");
    }

    #[test]
    fn urls_name_another_database() {
        assert_eq!(
            with_database("postgresql://postgres@/postgres?host=/tmp/pg&port=5", "t1"),
            "postgresql://postgres@/t1?host=/tmp/pg&port=5"
        );
        assert_eq!(with_database("postgres://u:p@h:5432", "reg"), "postgres://u:p@h:5432/reg");
        assert_eq!(with_database("postgres://h/db", "reg"), "postgres://h/reg");
    }
}
