//! How the registry scales with its holders: bulk-enrols each size given, then publishes a batch
//! of signed events into it and serves witnesses, printing one table row per size.
//!
//! ```text
//! cargo run --release -p healthcode-registry --example scale -- \
//!     [--holders 1000000,10000000] [--events 100000] [--witnesses 2000] [--cache-levels 8] [--dir DIR]
//! ```
//!
//! Columns: the time to enrol (in publishes of at most [`ENROL_BATCH`] enrolments), publish
//! events/s (the events' publish alone; acceptance is timed apart), peak RSS while enrolling and
//! while publishing and serving witnesses (Linux `VmHWM`, reset between the phases), bytes on
//! disk per holder (the SQLite file after a WAL checkpoint, events included), and witness latency
//! percentiles from a freshly opened handle. The database lives in `--dir` (default: a temporary
//! directory, removed afterwards): at 10 million holders it takes about 5 GB.

use ed25519_dalek::SigningKey;
use healthcode_circuits::Fr;
use healthcode_registry::event::Role;
use healthcode_registry::{Event, Registry, SignedEvent};
use std::path::Path;
use std::time::{Duration, Instant};

const POLICY: &str = include_str!("../../policies/henan-2022.toml");
const T0: u64 = 1_655_164_800;
/// Enrolments per publish while loading: bounds the memory of one publish's dirty paths.
const ENROL_BATCH: u64 = 1_000_000;

struct Args {
    holders: Vec<u64>,
    events: u64,
    witnesses: usize,
    cache_levels: usize,
    dir: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a =
        Args { holders: vec![1_000_000], events: 100_000, witnesses: 2000, cache_levels: 8, dir: None };
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
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Peak resident memory since the last [`reset_peak`] (Linux `VmHWM`), in MiB.
fn peak_mib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1));
    kb.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) / 1024
}

/// Starts a new peak (`/proc/self/clear_refs`, value 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn disk_bytes(dir: &Path) -> u64 {
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

fn run(size: u64, a: &Args, dir: &Path) -> Result<String, Box<dyn std::error::Error>> {
    // Events are dated up to 2.3 days back: the sample policy's window allows 30 days.
    let mut reg = Registry::init(&dir.join("registry.db"), POLICY, T0 - 100)?;
    reg.set_tree_cache_levels(a.cache_levels);
    let lab = SigningKey::from_bytes(&[1; 32]);
    reg.add_signer("lab", Role::Lab, lab.verifying_key(), 0, T0 - 100)?;

    reset_peak();
    let start = Instant::now();
    let mut done = 0;
    while done < size {
        let end = (done + ENROL_BATCH).min(size);
        let cms: Vec<Fr> = (done..end).map(|i| Fr::from(i + 1)).collect();
        reg.enroll_batch(&cms, T0 - 100)?;
        reg.publish(T0 - 100)?;
        done = end;
        eprint!("\r  {size}: {done} enrolled ({:.0?})", start.elapsed());
    }
    let enrol = start.elapsed();
    let enrol_peak = peak_mib();
    eprintln!();

    reset_peak();
    let t = Instant::now();
    let events: Vec<SignedEvent> = (0..a.events)
        .map(|i| {
            let holder = spread(i, size);
            let kind = if i % 3 == 0 { "positive_test" } else { "negative_test" };
            Event::signed_by(&lab, reg.public_key(), holder, kind, T0 - 200_000 + i % 200_000, None)
        })
        .collect();
    for chunk in events.chunks(20_000) {
        for verdict in reg.submit_batch(chunk, T0)? {
            verdict?;
        }
    }
    let accept = t.elapsed();
    let t = Instant::now();
    let head = reg.publish(T0)?;
    let publish = t.elapsed();
    drop(reg);

    // Witnesses from a fresh handle (another process would be one), over the whole tree.
    let reader = Registry::open(&dir.join("registry.db"))?;
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
    let run_peak = peak_mib();
    drop(reader);
    let bytes = disk_bytes(dir);
    eprintln!(
        "  {size}: accepted {} events in {accept:.1?}; head epoch {} with {} holders",
        a.events, head.epoch, head.holders
    );
    Ok(format!(
        "| {size} | {:.1} min | {:.0} ({:.2} s) | {enrol_peak} / {run_peak} MiB | {} | {:.2} / {:.2} ms |",
        enrol.as_secs_f64() / 60.0,
        a.events as f64 / publish.as_secs_f64(),
        publish.as_secs_f64(),
        bytes / size,
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
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
                "usage: scale [--holders N,N…] [--events N] [--witnesses N] [--cache-levels N] [--dir DIR]"
            );
            std::process::exit(2);
        }
    };
    println!(
        "| holders | enrol | publish events/s ({} events) | peak RSS enrol / publish+witness | bytes on disk per holder | witness p50 / p99 |",
        a.events
    );
    println!("|---|---|---|---|---|---|");
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
        match run(size, &a, &dir) {
            Ok(row) => println!("{row}"),
            Err(e) => {
                eprintln!("scale: {size} holders: {e}");
                std::process::exit(1);
            }
        }
    }
}
