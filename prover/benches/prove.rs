//! Proving on the holder's device: key loading (four encodings, to justify the one chosen) and
//! proving end to end, from the bundle on disk to the encoded payload.

use ark_bn254::{Bn254, Fr, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, VariableBaseMSM};
use ark_ff::{PrimeField, UniformRand};
use ark_groth16::ProvingKey;
use ark_serialize::{CanonicalDeserialize, Compress, Validate};
use ark_std::rand::{rngs::StdRng, SeedableRng};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use healthcode_circuits::hashes;
use healthcode_prover::fixtures::Fixture;
use healthcode_prover::{circuit_digest_bytes, encode_bundle, msm, prove, ProveRequest, ProverBundle};
use healthcode_verifier::bundle::{MANIFEST_FILE, POLICY_FILE, PROVING_KEY_FILE, VERIFYING_KEY_FILE};
use healthcode_verifier::keyfile::{self, KeyKind, HEADER_LEN};
use std::time::Duration;

fn request(f: &Fixture) -> ProveRequest {
    ProveRequest {
        head: f.population.head,
        now: Fixture::NOW,
        challenge: hashes::challenge("slot:2022-06-14T12"),
        bind: false,
        claim: None,
    }
}

fn benches(c: &mut Criterion) {
    let f = Fixture::shared();
    let digest = circuit_digest_bytes(&f.keys.info);
    let dir = tempfile::tempdir().unwrap();
    let bundle = encode_bundle(f.policy_text, &f.policy, &f.keys);
    std::fs::write(dir.path().join(POLICY_FILE), &bundle.policy_text).unwrap();
    std::fs::write(dir.path().join(PROVING_KEY_FILE), &bundle.proving_key).unwrap();
    std::fs::write(dir.path().join(VERIFYING_KEY_FILE), &bundle.verifying_key).unwrap();
    std::fs::write(dir.path().join(MANIFEST_FILE), serde_json::to_vec(&bundle.manifest).unwrap()).unwrap();

    let mut g = c.benchmark_group("key_load");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for compressed in [false, true] {
        let file = keyfile::encode(KeyKind::Proving, &digest, &f.keys.proving_key, compressed);
        let name = if compressed { "compressed" } else { "uncompressed" };
        println!("proving key, {name}: {} bytes", file.len());
        g.bench_function(format!("{name}/hash+on-curve (shipped)"), |b| {
            b.iter(|| keyfile::decode_proving_key(&file, &digest, None).unwrap())
        });
        g.bench_function(format!("{name}/full validation"), |b| {
            b.iter(|| keyfile::decode_proving_key_fully_checked(&file, &digest, None).unwrap())
        });
        let mode = if compressed { Compress::Yes } else { Compress::No };
        g.bench_function(format!("{name}/unchecked, no hash"), |b| {
            b.iter(|| {
                ProvingKey::<Bn254>::deserialize_with_mode(&file[HEADER_LEN..], mode, Validate::No).unwrap()
            })
        });
    }
    g.finish();

    // The MSM behind most of a proof's time: ours (GLV halves, batch-affine buckets) against arkworks', on the
    // key's H query (8,191 G1 bases) and B query (G2) with random scalars.
    let mut g = c.benchmark_group("msm");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let mut rng = StdRng::seed_from_u64(3);
    let h = &f.keys.proving_key.h_query;
    let hs: Vec<Fr> = h.iter().map(|_| Fr::rand(&mut rng)).collect();
    let hs_big: Vec<_> = hs.iter().map(|s| s.into_bigint()).collect();
    let b2: Vec<G2Affine> = f.keys.proving_key.b_g2_query.iter().copied().filter(|p| !p.is_zero()).collect();
    let b2s: Vec<Fr> = b2.iter().map(|_| Fr::rand(&mut rng)).collect();
    let b2s_big: Vec<_> = b2s.iter().map(|s| s.into_bigint()).collect();
    g.bench_function(format!("G1 x{} ours", h.len()), |b| b.iter(|| msm::msm(h, &hs)));
    g.bench_function(format!("G1 x{} arkworks", h.len()), |b| {
        b.iter(|| G1Projective::msm_bigint(h, &hs_big))
    });
    g.bench_function(format!("G2 x{} ours", b2.len()), |b| b.iter(|| msm::msm(&b2, &b2s)));
    g.bench_function(format!("G2 x{} arkworks", b2.len()), |b| {
        b.iter(|| G2Projective::msm_bigint(&b2, &b2s_big))
    });
    g.finish();

    let mut g = c.benchmark_group("prove");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    let holder = &f.population.holders[0];
    let r = request(f);
    let prover = healthcode_prover::Prover::new(&f.policy, &f.keys.proving_key).unwrap();
    g.bench_function("prepared prover (a refresh)", |b| {
        b.iter_batched(
            || StdRng::seed_from_u64(1),
            |mut rng| prover.prove_code(&holder.witness, &r, &mut rng).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("prove only (key in memory)", |b| {
        b.iter_batched(
            || StdRng::seed_from_u64(1),
            |mut rng| prove(&f.policy, &f.keys.proving_key, &holder.witness, &r, &mut rng).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("end to end (load bundle, prove, encode)", |b| {
        b.iter_batched(
            || StdRng::seed_from_u64(1),
            |mut rng| {
                let bundle = ProverBundle::load(dir.path()).unwrap();
                let proved =
                    prove(&bundle.policy, &bundle.proving_key, &holder.witness, &r, &mut rng).unwrap();
                proved.payload.encode().unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
