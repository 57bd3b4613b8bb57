//! Checkpoint costs: decoding, verifying one code, and a queue of 64 codes in one batch.

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use healthcode_circuits::hashes;
use healthcode_prover::fixtures::Fixture;
use healthcode_verifier::Payload;
use std::time::Duration;

fn benches(c: &mut Criterion) {
    let f = Fixture::shared();
    let checkpoint = f.checkpoint();
    let challenge = Some(hashes::challenge("venue:bench"));
    let base: Vec<Payload> =
        f.population.holders.iter().map(|h| f.prove(h, "venue:bench", false).payload).collect();
    let one = base[0].encode().unwrap();
    let mut rng = StdRng::seed_from_u64(64);
    let queue: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            let mut p = base[i % base.len()].clone();
            p.proof = Groth16::<Bn254>::rerandomize_proof(&f.keys.verifying_key, &p.proof, &mut rng);
            p.encode().unwrap()
        })
        .collect();
    assert!(checkpoint.verify_batch(&queue, Fixture::NOW, challenge, None).iter().all(|r| r.is_ok()));

    let mut g = c.benchmark_group("verify");
    g.sample_size(30).measurement_time(Duration::from_secs(5));
    g.bench_function("decode payload", |b| b.iter(|| Payload::decode(&one).unwrap()));
    g.bench_function("one code", |b| {
        b.iter(|| checkpoint.verify(&one, Fixture::NOW, challenge, None).unwrap())
    });
    g.throughput(Throughput::Elements(64));
    g.bench_function("batch of 64", |b| {
        b.iter(|| checkpoint.verify_batch(&queue, Fixture::NOW, challenge, None))
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
