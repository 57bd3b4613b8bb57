//! The auditor's two jobs: replaying a registry log (events per second) and auditing a bundle
//! against its policy.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use healthcode_auditor::{circuit, semantic};
use healthcode_circuits::policy::Policy;
use healthcode_registry::audit::replay_all;
use healthcode_registry::event::Role;
use healthcode_registry::{Event, HolderFile, Registry};

const POLICY: &str = include_str!("../../policies/henan-2022.toml");
const T0: u64 = 1_655_164_800;
const DAY: u64 = 86_400;
const HOLDERS: u64 = 2_000;
const EVENTS: u64 = 4_000;

fn replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = Registry::init(&dir.path().join("r.db"), POLICY, T0 - 20 * DAY).unwrap();
    let lab = SigningKey::from_bytes(&[1; 32]);
    reg.add_signer("lab", Role::Lab, lab.verifying_key(), 0, T0 - 20 * DAY).unwrap();
    let cms: Vec<_> =
        (0..HOLDERS).map(|i| HolderFile::from_secret((1000 + i).into(), i.into()).commitment).collect();
    reg.enroll_batch(&cms, T0 - 20 * DAY).unwrap();
    reg.publish(T0 - 20 * DAY).unwrap();
    let events: Vec<_> = (0..EVENTS)
        .map(|i| {
            let kind = if i % 5 == 0 { "positive_test" } else { "negative_test" };
            Event {
                registry: reg.public_key(),
                holder: (i % HOLDERS) as u32,
                kind: kind.into(),
                time: T0 - DAY - i,
                signer: lab.verifying_key(),
                index_case: None,
            }
            .sign(&lab)
        })
        .collect();
    for chunk in events.chunks(500) {
        for e in chunk {
            reg.submit(e, T0).unwrap();
        }
        reg.publish(T0).unwrap();
    }
    let heads = reg.heads().unwrap();
    let entries = reg.log_entries(0, u64::MAX >> 1).unwrap();
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    g.throughput(Throughput::Elements(entries.len() as u64));
    g.bench_function(format!("registry replay ({} entries, {} heads)", entries.len(), heads.len()), |b| {
        b.iter(|| {
            let r = replay_all(&entries, &heads, &reg.public_key(), reg.policy());
            assert!(r.findings.is_empty());
        })
    });
    g.finish();
}

fn circuit_audit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let policy = Policy::parse(POLICY).unwrap();
    let (ptau, zkey) = healthcode_prover::fixtures::small_ceremony(&policy, 1);
    healthcode_prover::setup::finalize(POLICY, zkey, &bundle).unwrap();
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    let cases = semantic::boundary_cases(&policy, semantic::AUDIT_NOW).len() + 64;
    g.throughput(Throughput::Elements(cases as u64));
    g.bench_function(format!("semantic check ({cases} cases x 3 colours)"), |b| {
        b.iter(|| assert!(semantic::check(&policy, 2022, 64).unwrap().disagreements.is_empty()))
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("audit circuit (full, default options)", |b| {
        b.iter(|| {
            assert!(circuit::audit(POLICY, &bundle, &ptau, circuit::Options::default()).unwrap().clean())
        })
    });
    g.finish();
}

criterion_group!(benches, replay, circuit_audit);
criterion_main!(benches);
