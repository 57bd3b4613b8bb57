//! How the registry scales with its holders: bulk-enrols each size given, then publishes a batch
//! of signed events into it and serves witnesses, printing one table row per size.
//!
//! ```text
//! cargo run --release -p healthcode-registry --example scale -- \
//!     [--holders 1000000,10000000] [--events 100000] [--witnesses 2000] [--cache-levels 8] [--dir DIR]
//!     [--enrol-batch 1000000] [--resume] [--round K] [--pg postgres://… [--prewarm]] [--archive]
//! ```
//!
//! `--archive` ends each size with an archive (`Registry::archive`): a head two months on, then
//! the month of the events archived (their holders' floors written, the rows removed; on
//! PostgreSQL the month's partition detached and dropped), timed on stderr.
//!
//! With `--pg SERVER_URL` the registry of each size is a database `scale_<size>` on that server
//! (dropped first if it exists), and bytes on disk are `pg_database_size`. `--prewarm` reads the
//! holder tree into the page cache before the publish (`pg_prewarm`; needs a superuser): the
//! publish of a server whose memory holds the tree, where the default measures whatever the
//! enrolment and the acceptance left cached.
//!
//! Each phase runs in a process of its own, as it would in a deployment, so that its peak memory
//! (Linux `VmHWM`) is its own: enrolling (in publishes of at most [`ENROL_BATCH`] enrolments),
//! accepting and publishing the events (events/s counts the publish alone), and serving witnesses
//! from a freshly opened handle over the whole tree (latency percentiles; each witness is checked
//! against its head by the registry before it is returned). Bytes on disk per holder are the
//! SQLite file after a WAL checkpoint, events included. The database lives in `--dir` (default: a
//! temporary directory, removed afterwards): at 10 million holders it takes about 3.5 GB.

use ed25519_dalek::SigningKey;
use healthcode_circuits::Fr;
use healthcode_registry::event::Role;
use healthcode_registry::store::{postgres, Db, Location};
use healthcode_registry::{Event, PublishHooks, PublishStep, Registry, SignedEvent};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const POLICY: &str = include_str!("../../policies/henan-2022.toml");
const T0: u64 = 1_655_164_800;
/// When the enrolment phase starts: a day before the events, room for 86,400 batches.
const ENROL_START: u64 = T0 - 300_000;
/// Enrolments per publish while loading, by default (`--enrol-batch`): bounds the memory of one
/// enrolment and of one publish's dirty paths.
const ENROL_BATCH: u64 = 1_000_000;

struct Args {
    /// Set in the child processes this program starts for each phase.
    phase: Option<String>,
    holders: Vec<u64>,
    events: u64,
    witnesses: usize,
    cache_levels: usize,
    dir: Option<std::path::PathBuf>,
    /// A PostgreSQL server URL: the registries go there instead of SQLite files.
    pg: Option<String>,
    /// Which batch of events the publish phase makes (another round: other events).
    round: u64,
    /// Enrolments per publish while loading.
    enrol_batch: u64,
    /// Continue an enrolment that stopped (the database is kept; its holders stay enrolled).
    resume: bool,
    /// PostgreSQL: read the tree into the page cache before publishing (`pg_prewarm`), as a
    /// server with room for it keeps it after its first publishes.
    prewarm: bool,
    /// Archive the events' month at the end (a head two months later first).
    archive: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        phase: None,
        holders: vec![1_000_000],
        events: 100_000,
        witnesses: 2000,
        cache_levels: 8,
        dir: None,
        pg: None,
        round: 0,
        enrol_batch: ENROL_BATCH,
        resume: false,
        prewarm: false,
        archive: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.replace('_', "").parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--holders" => {
                a.holders = value()?.split(',').map(|v| num(v.to_string())).collect::<Result<_, _>>()?
            }
            "--events" => a.events = num(value()?)?,
            "--witnesses" => a.witnesses = num(value()?)? as usize,
            "--cache-levels" => a.cache_levels = num(value()?)? as usize,
            "--dir" => a.dir = Some(value()?.into()),
            "--pg" => a.pg = Some(value()?),
            "--round" => a.round = num(value()?)?,
            "--enrol-batch" => a.enrol_batch = num(value()?)?.max(1),
            "--resume" => a.resume = true,
            "--prewarm" => a.prewarm = true,
            "--archive" => a.archive = true,
            "--phase" => a.phase = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
fn peak_mib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1));
    kb.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) / 1024
}

fn disk_bytes(a: &Args, size: u64, dir: &Path) -> u64 {
    if a.pg.is_some() {
        let db = Db::open(&Location::parse(&location(a, size, dir)), false).expect("the scale database");
        // What autovacuum does after a bulk load, done now so that the figure does not depend on
        // when it last ran: the emptied queue's pages and the publish's dead tree rows go back to
        // the free space (and trailing empty pages to the file system).
        db.exec("VACUUM", &[]).expect("VACUUM");
        // Where the bytes go, table by table (indexes and TOAST included), largest first.
        let tables = db
            .rows(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 2 DESC LIMIT 6",
                &[],
            )
            .expect("table sizes");
        for r in tables {
            let (name, bytes): (String, u64) = (r.get(0).expect("name"), r.get(1).expect("size"));
            eprintln!("  {size}: {name} {} bytes/holder", bytes / size.max(1));
        }
        return db.value("SELECT pg_database_size(current_database())", &[]).expect("its size").unwrap_or(0);
    }
    let db = dir.join("registry.db");
    if let Ok(c) = rusqlite::Connection::open(&db) {
        let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    ["registry.db", "registry.db-wal", "registry.db-shm"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A deterministic spread of holder indices (a multiplicative hash), so events and witnesses hit
/// the whole tree rather than one corner of it.
fn spread(i: u64, holders: u64) -> u32 {
    ((i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) % holders) as u32
}

/// One phase, in a process of its own (so that its peak memory is its own: memory the allocator
/// kept from an earlier phase would count otherwise). Prints `key=value` lines.
/// Where the registry of `size` holders lives: a file in `dir`, or a database on `--pg`.
fn location(a: &Args, size: u64, dir: &Path) -> PathBuf {
    match &a.pg {
        Some(server) => PathBuf::from(postgres::with_database(server, &format!("scale_{size}"))),
        None => dir.join("registry.db"),
    }
}

fn phase(name: &str, size: u64, a: &Args, dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let db = location(a, size, dir);
    let lab = SigningKey::from_bytes(&[1; 32]);
    match name {
        "enrol" => {
            // Each batch is published one second after the previous one (heads' times must not
            // run ahead of the clock), all of them before the events of the publish phase.
            let mut reg = if a.resume {
                Registry::open(&db)?
            } else {
                let mut reg = Registry::init(&db, POLICY, ENROL_START)?;
                reg.add_signer("lab", Role::Lab, lab.verifying_key(), 0, ENROL_START)?;
                reg
            };
            reg.set_tree_cache_levels(a.cache_levels);
            let start = Instant::now();
            // (The signer's accreditation, or resumed: a batch left queued, is published first;
            // then the holders of the last head are in.)
            if reg.queue_len()? > 0 {
                reg.publish(reg.head()?.issued_at + 1)?;
            }
            let mut done = reg.head()?.holders;
            while done < size {
                let end = (done + a.enrol_batch).min(size);
                let cms: Vec<Fr> = (done..end).map(|i| Fr::from(i + 1)).collect();
                let now = reg.head()?.issued_at + 1;
                reg.enroll_batch(&cms, now)?;
                reg.publish(now)?;
                done = end;
                eprint!("\r  {size}: {done} enrolled ({:.0?})", start.elapsed());
            }
            eprintln!();
            println!("secs={}", start.elapsed().as_secs_f64());
        }
        "publish" => {
            let mut reg = Registry::open(&db)?;
            reg.set_tree_cache_levels(a.cache_levels);
            // Events dated up to 2.3 days back: the sample policy's window allows 30 days.
            let events: Vec<SignedEvent> = (0..a.events)
                .map(|i| i + a.round * a.events)
                .map(|i| {
                    let holder = spread(i, size);
                    let kind = if i % 3 == 0 { "positive_test" } else { "negative_test" };
                    Event::signed_by(&lab, reg.public_key(), holder, kind, T0 - 200_000 + i % 200_000, None)
                })
                .collect();
            // (T0, or just after the last head: a resumed enrolment may have run past T0.)
            let now = T0.max(reg.head()?.issued_at + 1);
            let t = Instant::now();
            // (Resumable: events accepted by an earlier, interrupted run are queued already.)
            let queued = reg.queue_len()? >= a.events;
            for chunk in events.chunks(20_000).filter(|_| !queued) {
                for verdict in reg.submit_batch(chunk, now)? {
                    verdict?;
                }
            }
            println!("accept_secs={}", t.elapsed().as_secs_f64());
            if a.prewarm && a.pg.is_some() {
                // The holder tree and its index into the operating system's page cache (read in
                // order, not at random): what a publish reads at random afterwards.
                let t = Instant::now();
                let pg = Db::open(&Location::parse(&db), false)?;
                pg.exec("CREATE EXTENSION IF NOT EXISTS pg_prewarm", &[])?;
                pg.rows(
                    "SELECT pg_prewarm('tree_groups', 'read'), pg_prewarm('tree_groups_pkey', 'read')",
                    &[],
                )?;
                eprintln!("  {size}: tree read into the page cache in {:.1} s", t.elapsed().as_secs_f64());
            }
            let t = Instant::now();
            // Where the publish's time goes: the time at each of its steps (stderr).
            let mut last = Duration::ZERO;
            let mut step = |s: PublishStep| {
                let at = t.elapsed();
                eprintln!(
                    "  {size}: publish {s:?} at {:.2} s (+{:.2} s)",
                    at.as_secs_f64(),
                    (at - last).as_secs_f64()
                );
                last = at;
                Ok(())
            };
            reg.publish_with(now, PublishHooks { progress: None, fault: Some(&mut step) })?;
            println!("secs={}", t.elapsed().as_secs_f64());
        }
        "witness" => {
            // A fresh handle, as another process serving witnesses would be, over the whole tree.
            let reader = Registry::open(&db)?;
            let mut lat = Vec::with_capacity(a.witnesses);
            for i in 0..a.witnesses as u64 {
                let leaf = spread(i ^ 0x5555, size);
                let t = Instant::now();
                let w = reader.witness(leaf)?;
                lat.push(t.elapsed());
                if i == 0 {
                    w.check(&reader.public_key(), reader.policy())?;
                }
            }
            lat.sort_unstable();
            println!("p50={}", percentile(&lat, 0.5).as_secs_f64() * 1e3);
            println!("p99={}", percentile(&lat, 0.99).as_secs_f64() * 1e3);
        }
        "archive" => {
            let mut reg = Registry::open(&db)?;
            // Two months on: the events' month is beyond the look-back (30 days and 5 minutes).
            let later = reg.head()?.issued_at + 62 * 86_400;
            reg.publish(later)?;
            let t = Instant::now();
            let done = reg.archive()?;
            println!("archive_secs={}", t.elapsed().as_secs_f64());
            println!("archived={}", done.events);
            println!("floors={}", done.floors);
        }
        other => return Err(format!("unknown phase {other}").into()),
    }
    println!("peak={}", peak_mib());
    Ok(())
}

/// Runs `name` in a child process and returns what it printed.
fn child(name: &str, size: u64, a: &Args, dir: &Path) -> Result<HashMap<String, f64>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .args(["--phase", name, "--holders", &size.to_string(), "--events", &a.events.to_string()])
        .args(["--witnesses", &a.witnesses.to_string(), "--cache-levels", &a.cache_levels.to_string()])
        .args(["--enrol-batch", &a.enrol_batch.to_string()])
        .args(a.resume.then_some("--resume"))
        .args(a.prewarm.then_some("--prewarm"))
        .args(["--round", &a.round.to_string()])
        .arg("--dir")
        .arg(dir)
        .args(a.pg.iter().flat_map(|url| ["--pg", url.as_str()]))
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("the {name} phase failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect())
}

fn row(size: u64, a: &Args, dir: &Path) -> Result<String, String> {
    if let Some(server) = a.pg.as_ref().filter(|_| !a.resume) {
        let name = format!("scale_{size}");
        postgres::drop_database(server, &name).map_err(|e| e.to_string())?;
        postgres::create_database(server, &name).map_err(|e| e.to_string())?;
    }
    let enrol = child("enrol", size, a, dir)?;
    let publish = child("publish", size, a, dir)?;
    let witness = child("witness", size, a, dir)?;
    let bytes = disk_bytes(a, size, dir);
    eprintln!("  {size}: accepted {} events in {:.1} s", a.events, publish["accept_secs"]);
    if a.archive {
        let done = child("archive", size, a, dir)?;
        eprintln!(
            "  {size}: archived {} events ({} floors) in {:.2} s ({:.0} MiB)",
            done["archived"], done["floors"], done["archive_secs"], done["peak"]
        );
    }
    Ok(format!(
        "| {size} | {:.1} min ({:.0} MiB) | {:.0} ({:.2} s, {:.0} MiB) | {} | {:.2} / {:.2} ms ({:.0} MiB) |",
        enrol["secs"] / 60.0,
        enrol["peak"],
        a.events as f64 / publish["secs"],
        publish["secs"],
        publish["peak"],
        bytes / size,
        witness["p50"],
        witness["p99"],
        witness["peak"],
    ))
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("scale: {e}");
            }
            eprintln!(
                "usage: scale [--holders N,N…] [--events N] [--witnesses N] [--cache-levels N] [--enrol-batch N] [--resume] [--round K] [--dir DIR] [--pg URL [--prewarm]] [--archive]"
            );
            std::process::exit(2);
        }
    };
    if let Some(name) = &a.phase {
        let (size, dir) = (a.holders[0], a.dir.clone().expect("--dir"));
        if let Err(e) = phase(name, size, &a, &dir) {
            eprintln!("scale: {name} at {size} holders: {e}");
            std::process::exit(1);
        }
        return;
    }
    println!(
        "| holders | enrol (peak RSS) | publish {} events: events/s (time, peak RSS) | bytes on disk per holder | witness p50 / p99 (peak RSS) |",
        a.events
    );
    println!("|---|---|---|---|---|");
    for &size in &a.holders {
        let tmp;
        let dir = match &a.dir {
            Some(d) => {
                let d = d.join(format!("scale-{size}"));
                std::fs::create_dir_all(&d).expect("create --dir");
                d
            }
            None => {
                tmp = tempfile::tempdir().expect("temporary directory");
                tmp.path().to_path_buf()
            }
        };
        match row(size, &a, &dir) {
            Ok(row) => println!("{row}"),
            Err(e) => {
                eprintln!("scale: {size} holders: {e}");
                std::process::exit(1);
            }
        }
    }
}
