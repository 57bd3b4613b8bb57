//! Process CPU time per operation (Linux), a number that shared, busy machines distort less than
//! wall-clock medians: `cargo run -p healthcode-prover --example prove_cpu_time`.

use ark_std::rand::{rngs::StdRng, SeedableRng};
use healthcode_circuits::hashes;
use healthcode_prover::fixtures::Fixture;
use healthcode_prover::{circuit_digest_bytes, ProveRequest, Prover};
use healthcode_verifier::keyfile::{self, KeyKind};
use std::time::Instant;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn measure(name: &str, n: u32, mut f: impl FnMut()) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for _ in 0..n {
        f();
    }
    let k = f64::from(n);
    println!(
        "{name}: {:.1} ms wall, {:.1} ms CPU",
        wall.elapsed().as_secs_f64() * 1e3 / k,
        (cpu_seconds() - cpu) * 1e3 / k
    );
}

fn main() {
    let f = Fixture::shared();
    let holder = &f.population.holders[0];
    let request = ProveRequest {
        head: f.population.head,
        now: Fixture::NOW,
        challenge: hashes::challenge("slot:2022-06-14T12"),
        bind: false,
        claim: None,
    };
    let file =
        keyfile::encode(KeyKind::Proving, &circuit_digest_bytes(&f.keys.info), &f.keys.proving_key, false);
    let digest = circuit_digest_bytes(&f.keys.info);
    measure("load proving key", 20, || {
        keyfile::decode_proving_key(&file, &digest, None).expect("loads");
    });
    measure("prepare prover (compact queries)", 10, || {
        Prover::new(&f.policy, &f.keys.proving_key).expect("fits");
    });
    let prover = Prover::new(&f.policy, &f.keys.proving_key).expect("fits");
    measure("prove", 10, || {
        prover.prove_code(&holder.witness, &request, &mut StdRng::seed_from_u64(1)).expect("proves");
    });
}
