//! Our side of `scripts/compare-peers.sh`: the same job as the peer anchors, measured the same way.
//!
//! ```text
//! compare setup DIR            write a development bundle of the example policy to DIR
//! compare prove DIR [RUNS]     end-to-end prove from DIR (load key, prepare, witness, prove, encode)
//! compare verify DIR [RUNS]    verify one code and a batch of 64 against DIR's verifying bundle
//! ```
//!
//! Each subcommand prints `key=value` lines the script reads. `prove` runs in its own process so
//! its peak resident memory (`VmHWM`) is the prover's alone, not the setup's.

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use healthcode_circuits::hashes;
use healthcode_prover::fixtures::{Fixture, Population};
use healthcode_prover::{encode_bundle, ProveRequest, ProverBundle};
use healthcode_verifier::bundle::{MANIFEST_FILE, POLICY_FILE, PROVING_KEY_FILE, VERIFYING_KEY_FILE};
use healthcode_verifier::{Checkpoint, Payload, VerifierBundle};
use std::path::Path;
use std::time::Instant;

/// Process CPU seconds (user + system) from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process in kB (`VmHWM`).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn request(population: &Population) -> ProveRequest {
    ProveRequest {
        head: population.head,
        now: Fixture::NOW,
        challenge: hashes::challenge("slot:2022-06-14T12"),
        bind: false,
        claim: None,
    }
}

fn setup(dir: &Path) {
    let f = Fixture::shared();
    let bundle = encode_bundle(f.policy_text, &f.policy, &f.keys);
    std::fs::create_dir_all(dir).expect("bundle directory");
    std::fs::write(dir.join(POLICY_FILE), &bundle.policy_text).expect("write policy");
    std::fs::write(dir.join(PROVING_KEY_FILE), &bundle.proving_key).expect("write proving key");
    std::fs::write(dir.join(VERIFYING_KEY_FILE), &bundle.verifying_key).expect("write verifying key");
    let json = serde_json::to_string_pretty(&bundle.manifest).expect("manifest");
    std::fs::write(dir.join(MANIFEST_FILE), json).expect("write manifest");
    println!("constraints={}", f.keys.info.constraints);
    println!("proving_key_bytes={}", bundle.proving_key.len());
    println!("verifying_key_bytes={}", bundle.verifying_key.len());
}

/// One proof from the bundle on disk, everything a phone does at the gate included: reading and
/// checking the key, preparing the prover, building the witness's Merkle path, proving, encoding.
fn prove(dir: &Path, runs: usize) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut bytes = 0;
    for i in 0..runs {
        let (t, c) = (Instant::now(), cpu_seconds());
        let bundle = ProverBundle::load(dir).expect("bundle loads");
        let prover = bundle.prover().expect("key fits the policy");
        let population = Population::example(&bundle.policy, Fixture::NOW);
        let holder = &population.holders[i % population.holders.len()];
        let mut witness = holder.witness.clone();
        witness.path = population.tree.path(witness.leaf_index);
        let mut rng = StdRng::seed_from_u64(i as u64);
        let proved = prover.prove_code(&witness, &request(&population), &mut rng).expect("proves");
        bytes = proved.payload.encode().expect("encodes").len();
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        cpu.push((cpu_seconds() - c) * 1e3);
    }
    println!("prove_ms={:.1}", median(wall));
    println!("prove_cpu_ms={:.1}", median(cpu));
    println!("payload_bytes={bytes}");
    println!("peak_rss_kb={}", peak_rss_kb());
}

fn verify(dir: &Path, runs: usize) {
    let bundle = VerifierBundle::load(dir).expect("verifier bundle loads");
    let mut checkpoint = Checkpoint::from_bundle(&bundle).expect("checkpoint");
    let prover_bundle = ProverBundle::load(dir).expect("bundle loads");
    let prover = prover_bundle.prover().expect("key fits");
    let population = Population::example(&prover_bundle.policy, Fixture::NOW);
    checkpoint.add_head(population.head).expect("one head");
    let r = request(&population);
    let mut rng = StdRng::seed_from_u64(7);
    let base: Vec<Payload> = population
        .holders
        .iter()
        .map(|h| prover.prove_code(&h.witness, &r, &mut rng).expect("proves").payload)
        .collect();
    let one = base[0].encode().expect("encodes");
    let queue: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            let mut p = base[i % base.len()].clone();
            p.proof = Groth16::<Bn254>::rerandomize_proof(&bundle.verifying_key, &p.proof, &mut rng);
            p.encode().expect("encodes")
        })
        .collect();
    let challenge = Some(r.challenge);
    let mut one_ms = Vec::new();
    for _ in 0..runs * 20 {
        let t = Instant::now();
        checkpoint.verify(&one, Fixture::NOW, challenge, None).expect("verifies");
        one_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut batch_ms = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let results = checkpoint.verify_batch(&queue, Fixture::NOW, challenge, None);
        batch_ms.push(t.elapsed().as_secs_f64() * 1e3 / queue.len() as f64);
        assert!(results.iter().all(|r| r.is_ok()), "every code of the batch verifies");
    }
    println!("verify_ms={:.3}", median(one_ms));
    println!("batch_ms_per_code={:.3}", median(batch_ms));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: compare setup DIR | prove DIR [RUNS] | verify DIR [RUNS]";
    let (cmd, dir) = match (args.get(1), args.get(2)) {
        (Some(c), Some(d)) => (c.as_str(), Path::new(d)),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let runs = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(7);
    match cmd {
        "setup" => setup(dir),
        "prove" => prove(dir, runs),
        "verify" => verify(dir, runs),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
