//! A full disk (issue 14), on both engines: the write that does not fit fails with an error
//! naming the full disk, nothing is half-written (the head, the queue and the tree are what they
//! were), and once there is room again the same registry carries on where it stopped.
//!
//! The disk is a small tmpfs this test mounts, so it runs as root (as `.ci/run` does); elsewhere
//! it says so and returns. On PostgreSQL (`HEALTHCODE_TEST_PG`) the registry's database lives in a
//! tablespace on that tmpfs; the server's own files and its WAL stay where they are.

mod common;

use common::*;
use healthcode_circuits::Fr;
use healthcode_registry::store::DbErrorKind;
use healthcode_registry::{Registry, RegistryError, Role};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` mounted at a directory of its own, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` (with the reason printed) where this process may not mount.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0777"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { dir }),
            Ok(o) => {
                eprintln!(
                    "full-disk test skipped: cannot mount a tmpfs ({})",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("full-disk test skipped: cannot run mount ({e})");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// More room, the files kept: what an operator does by freeing or growing the disk.
    fn grow(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "remount: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn db_kind(e: &RegistryError) -> Option<DbErrorKind> {
    match e {
        RegistryError::Db(d) => Some(d.kind),
        _ => None,
    }
}

/// Runs `sql` on the test server's `postgres` database with `psql` (tablespaces and databases in
/// them are made outside a transaction, by an administrator).
fn psql(server: &str, sql: &str) {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin/psql")))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("psql"));
    let out = Command::new(bin).args(["-v", "ON_ERROR_STOP=1", "-qc", sql, server]).output().unwrap();
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A database in a tablespace on the small disk, dropped (before the disk goes) when dropped.
struct Tablespace {
    server: String,
    name: String,
}

impl Drop for Tablespace {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| {
            psql(&self.server, &format!("DROP DATABASE IF EXISTS {}", self.name));
            psql(&self.server, &format!("DROP TABLESPACE IF EXISTS {}", self.name));
        });
    }
}

/// A registry's database on the small disk: a file there, or a database in a tablespace there.
fn registry_on(disk: &SmallDisk) -> (PathBuf, Option<Tablespace>) {
    let Some(server) = pg_server() else {
        return (disk.path().join("registry.db"), None);
    };
    // The server runs as `postgres` and wants an empty directory of its own.
    let location = disk.path().join("pg");
    std::fs::create_dir(&location).unwrap();
    let _ = Command::new("chown").arg("postgres:").arg(&location).status();
    let name = format!("hc_full_{}", std::process::id());
    psql(&server, &format!("CREATE TABLESPACE {name} LOCATION '{}'", location.display()));
    let guard = Tablespace { server: server.clone(), name: name.clone() };
    psql(&server, &format!("CREATE DATABASE {name} TABLESPACE {name}"));
    (PathBuf::from(healthcode_registry::store::postgres::with_database(&server, &name)), Some(guard))
}

#[test]
fn a_full_disk_is_named_writes_nothing_and_the_registry_carries_on() {
    if !nix_root() {
        eprintln!("full-disk test skipped: mounting a small disk needs root");
        return;
    }
    // PostgreSQL copies its template database (≈ 8 MB) into the tablespace first.
    let Some(disk) = SmallDisk::mount(if on_postgres() { "24m" } else { "8m" }) else { return };
    let (path, tablespace) = registry_on(&disk);
    let lab = key(1);
    let mut reg = Registry::init(&path, POLICY, T0 - 10 * DAY).unwrap();
    reg.add_signer("lab", Role::Lab, lab.verifying_key(), 0, T0 - 10 * DAY).unwrap();
    reg.publish(T0 - 10 * DAY).unwrap();

    // Enrol in batches until the disk is full: the failing step is an enrolment or a publish.
    let mut next = 0u64;
    let mut now = T0 - 10 * DAY;
    let (error, before, queued, what) = loop {
        assert!(next < 2_000_000, "the disk never filled up: the test proves nothing");
        let before = reg.head().unwrap();
        let queued = reg.queue_len().unwrap();
        now += 1;
        let cms: Vec<Fr> = (next..next + 5000).map(|i| Fr::from(1_000_000 + i)).collect();
        let step = match reg.enroll_batch(&cms, now) {
            Ok(_) => reg.publish(now).map_err(|e| (e, "publish")),
            Err(e) => Err((e, "enrolment")),
        };
        match step {
            Ok(_) => next += 5000,
            Err((e, what)) => break (e, before, queued, what),
        }
    };
    assert_eq!(db_kind(&error), Some(DbErrorKind::DiskFull), "{error}");
    let message = error.to_string();
    assert!(message.contains("disk is full"), "{message}");
    eprintln!("full after {next} holders, in the {what}: {message}");

    // Nothing half-written: the registry finds the last head, its tree, and either the queue as
    // it was (the enrolment failed) or with the whole batch (the publish failed). (Through the
    // same handle: PostgreSQL may refuse new connections to a database whose disk is full, as
    // it writes a cache file for each database when a connection starts.)
    assert_eq!(reg.head().unwrap(), before, "a head was signed on a full disk");
    assert_eq!(reg.stored_tree().unwrap().root(), before.root, "tree groups were half-written");
    let queue = reg.queue_len().unwrap();
    assert!(queue == queued || queue == queued + 5000, "the queue holds {queue}, was {queued}");
    reg.witness(before.holders as u32 - 1).unwrap().check(&reg.public_key(), reg.policy()).unwrap();

    // Room again: a new handle finds the same, publishes what it holds, and enrols the batch
    // that failed.
    disk.grow(if on_postgres() { "256m" } else { "128m" });
    drop(reg);
    let mut reg = Registry::open(&path).unwrap();
    assert_eq!((reg.head().unwrap(), reg.queue_len().unwrap()), (before.clone(), queue));
    if queue == queued {
        let cms: Vec<Fr> = (next..next + 5000).map(|i| Fr::from(1_000_000 + i)).collect();
        reg.enroll_batch(&cms, now).unwrap();
    }
    let head = reg.publish(now).unwrap();
    assert_eq!((head.epoch, head.holders), (before.epoch + 1, before.holders + 5000));
    reg.witness(head.holders as u32 - 1).unwrap().check(&reg.public_key(), reg.policy()).unwrap();

    // A publish on a disk that something else filled: refused whole, the queue kept.
    next += 5000;
    let cms: Vec<Fr> = (next..next + 5000).map(|i| Fr::from(1_000_000 + i)).collect();
    reg.enroll_batch(&cms, now + 1).unwrap();
    if !on_postgres() {
        // (SQLite reuses its write-ahead log file: emptied, the publish needs new room.)
        raw(&path).rows("PRAGMA wal_checkpoint(TRUNCATE)", &[]).unwrap();
    }
    let filler = disk.path().join("filler");
    fill(&filler);
    let e = reg.publish(now + 1).unwrap_err();
    assert_eq!(db_kind(&e), Some(DbErrorKind::DiskFull), "{e}");
    eprintln!("a publish on a full disk: {e}");
    assert_eq!(reg.head().unwrap(), head, "a head was signed on a full disk");
    assert_eq!(reg.stored_tree().unwrap().root(), head.root, "tree groups were half-written");
    assert_eq!(reg.queue_len().unwrap(), 5000, "the queued enrolments were lost");
    std::fs::remove_file(&filler).unwrap();
    drop(reg);
    let mut reg = Registry::open(&path).unwrap();
    assert_eq!((reg.head().unwrap(), reg.queue_len().unwrap()), (head.clone(), 5000));
    let last = reg.publish(now + 1).unwrap();
    assert_eq!((last.epoch, last.holders), (head.epoch + 1, head.holders + 5000));
    reg.witness(last.holders as u32 - 1).unwrap().check(&reg.public_key(), reg.policy()).unwrap();
    drop(reg);
    drop(tablespace);
}

/// Writes `file` until the disk has no room left.
fn fill(file: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(file).unwrap();
    let block = vec![0u8; 1 << 16];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

/// Whether this process runs as root (mounting needs it).
fn nix_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
