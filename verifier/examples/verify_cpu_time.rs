//! Process CPU time per operation (Linux), a number that shared, busy machines distort less than
//! wall-clock medians: `cargo run -p healthcode-verifier --example verify_cpu_time`.

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use healthcode_circuits::hashes;
use healthcode_prover::fixtures::Fixture;
use healthcode_verifier::Payload;
use std::time::Instant;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn measure(name: &str, n: u32, per: u32, mut f: impl FnMut()) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for _ in 0..n {
        f();
    }
    let k = f64::from(n * per);
    println!(
        "{name}: {:.3} ms wall, {:.3} ms CPU per item",
        wall.elapsed().as_secs_f64() * 1e3 / k,
        (cpu_seconds() - cpu) * 1e3 / k
    );
}

fn main() {
    let f = Fixture::shared();
    let checkpoint = f.checkpoint();
    let challenge = Some(hashes::challenge("venue:bench"));
    let base: Vec<Payload> =
        f.population.holders.iter().map(|h| f.prove(h, "venue:bench", false).payload).collect();
    let one = base[0].encode().expect("encodes");
    let mut rng = StdRng::seed_from_u64(64);
    let queue: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            let mut p = base[i % base.len()].clone();
            p.proof = Groth16::<Bn254>::rerandomize_proof(&f.keys.verifying_key, &p.proof, &mut rng);
            p.encode().expect("encodes")
        })
        .collect();
    measure("decode", 200, 1, || {
        Payload::decode(&one).expect("decodes");
    });
    measure("verify one", 200, 1, || {
        checkpoint.verify(&one, Fixture::NOW, challenge, None).expect("valid");
    });
    measure("batch of 64, per code", 10, 64, || {
        checkpoint.verify_batch(&queue, Fixture::NOW, challenge, None);
    });
}
