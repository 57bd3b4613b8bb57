//! The ceremony's steps for the example policy (2^13 rows): what a contributor waits for
//! (`contribute`), and what `ceremony verify` spends its time on (the `.ptau` check, rebuilding
//! the initial key, checking the transcript against it). `scripts/compare-ceremony.sh` times the
//! same steps end to end beside snarkjs.

use ark_std::rand::SeedableRng;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use healthcode_ceremony::{contribute, init, ptau, verify, Ptau, R1cs};
use healthcode_circuits::{policy::Policy, statement::matrices};
use rand_chacha::ChaCha20Rng;
use std::time::Duration;

const POLICY: &str = include_str!("../../policies/henan-2022.toml");
const POWER: u32 = 13;

fn ceremony(c: &mut Criterion) {
    let policy = Policy::parse(POLICY).expect("example policy");
    let r1cs = R1cs::from_matrices(&matrices(&policy).expect("circuit"));
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let ptau_bytes = ptau::generate(POWER, &ptau::Phase1Secrets::random(&mut rng));
    let ptau = Ptau::parse(&ptau_bytes).expect("generated ptau");
    let initial = init(&r1cs, &ptau).expect("init");
    let mut contributed = initial.clone();
    contribute(&mut contributed, Some("bench"), b"", &mut rng).expect("contribute");

    let mut g = c.benchmark_group("ceremony");
    g.sample_size(10).measurement_time(Duration::from_secs(30)).warm_up_time(Duration::from_secs(1));
    g.bench_function("contribute", |b| {
        b.iter_batched(
            || initial.clone(),
            |mut z| contribute(&mut z, Some("bench"), b"", &mut rng).expect("contribute"),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("ptau check (power 13)", |b| {
        b.iter(|| ptau::check(&ptau, POWER, &mut rng).expect("check"))
    });
    g.bench_function("init from ptau", |b| b.iter(|| init(&r1cs, &ptau).expect("init")));
    g.bench_function("verify transcript against the initial key", |b| {
        b.iter(|| assert!(verify::verify(&contributed, &initial, &mut rng).ok()))
    });
    g.finish();
}

criterion_group!(benches, ceremony);
criterion_main!(benches);
