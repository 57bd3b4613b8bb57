//! Registry throughput: events accepted per second, publish of a batch of events into a large
//! registry (events per second through publish, peak memory), witness exports per second.
//!
//! Sizes: `HC_BENCH_HOLDERS` (default 1,000,000) and `HC_BENCH_EVENTS` (default 100,000).
//! Setting up a million holders takes a while; the setup time is printed too.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use healthcode_circuits::Fr;
use healthcode_registry::event::Role;
use healthcode_registry::{Event, Registry, SignedEvent};
use std::time::{Duration, Instant};

const POLICY: &str = include_str!("../../policies/henan-2022.toml");
const T0: u64 = 1_655_164_800;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
fn peak_mib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
}

/// CPU time (user + system) this process has used, in seconds: on a shared machine wall time
/// depends on the neighbours, CPU time per event does not.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

struct Setup {
    _dir: tempfile::TempDir,
    reg: Registry,
    lab: SigningKey,
    holders: u64,
    counter: u64,
}

fn setup(holders: u64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    // The bench dates its events up to 2^30 s back: a policy whose published window allows that.
    let policy = POLICY.replace("max_event_behind = \"30d\"", "max_event_behind = \"12500d\"");
    let mut reg = Registry::init(&dir.path().join("bench.db"), &policy, T0 - 100).unwrap();
    let lab = SigningKey::from_bytes(&[1; 32]);
    reg.add_signer("lab", Role::Lab, lab.verifying_key(), 0, T0 - 100).unwrap();
    let start = Instant::now();
    let chunk = 100_000u64;
    for c in (0..holders).step_by(chunk as usize) {
        let cms: Vec<Fr> = (c..(c + chunk).min(holders)).map(|i| Fr::from(i + 1)).collect();
        reg.enroll_batch(&cms, T0 - 100).unwrap();
    }
    reg.publish(T0 - 50).unwrap();
    eprintln!(
        "setup: {holders} holders enrolled and published in {:.1?} (peak RSS {:?} MiB)",
        start.elapsed(),
        peak_mib()
    );
    Setup { _dir: dir, reg, lab, holders, counter: 0 }
}

impl Setup {
    /// `n` fresh signed lab events for pseudo-random holders (distinct times keep ids distinct).
    fn events(&mut self, n: u64) -> Vec<SignedEvent> {
        let registry = self.reg.public_key();
        (0..n)
            .map(|_| {
                self.counter += 1;
                let c = self.counter;
                let holder = (c.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) % self.holders;
                let kind = if c.is_multiple_of(3) { "positive_test" } else { "negative_test" };
                Event {
                    registry,
                    holder: holder as u32,
                    kind: kind.into(),
                    // Within `max_event_behind` for 2^29 events, never in the future.
                    time: T0 - (1 << 29) + c,
                    signer: self.lab.verifying_key(),
                    index_case: None,
                }
                .sign(&self.lab)
            })
            .collect()
    }
}

fn benches(c: &mut Criterion) {
    let holders = env("HC_BENCH_HOLDERS", 1_000_000);
    let batch = env("HC_BENCH_EVENTS", 100_000);
    let mut s = setup(holders);
    let mut now = T0;

    let mut g = c.benchmark_group("registry");
    g.sample_size(10);

    let accept = 2_000u64;
    g.throughput(Throughput::Elements(accept));
    g.bench_function(format!("submit_batch/{accept}"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let evs = s.events(accept);
                let t = Instant::now();
                let v = s.reg.submit_batch(&evs, T0).unwrap();
                total += t.elapsed();
                assert!(v.iter().all(|r| r.is_ok()));
            }
            total
        })
    });
    // Publish what the acceptance benchmark queued so the next measurement starts clean.
    now += 1;
    s.reg.publish(now).unwrap();

    g.throughput(Throughput::Elements(batch));
    g.measurement_time(Duration::from_secs(30));
    g.bench_function(format!("publish/{batch}_events_into_{holders}_holders"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let evs = s.events(batch);
                for chunk in evs.chunks(10_000) {
                    let accepted = s.reg.submit_batch(chunk, T0).unwrap();
                    assert!(accepted.iter().all(|r| r.is_ok()), "every benchmark event must be accepted");
                }
                now += 1;
                let (t, cpu) = (Instant::now(), cpu_seconds());
                s.reg.publish(now).unwrap();
                let wall = t.elapsed();
                total += wall;
                let used = cpu_seconds() - cpu;
                eprintln!(
                    "publish {batch}: wall {wall:.2?}, CPU {used:.2} s ({:.0} events per CPU-second)",
                    batch as f64 / used
                );
            }
            total
        })
    });
    eprintln!("peak RSS after publishing: {:?} MiB", peak_mib());

    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    let mut i = 0u64;
    g.bench_function("witness_export", |b| {
        b.iter(|| {
            i = (i + 7919) % holders;
            s.reg.witness(i as u32).unwrap()
        })
    });
    g.finish();
}

criterion_group!(registry, benches);
criterion_main!(registry);
