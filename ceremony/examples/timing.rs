use ark_std::rand::SeedableRng;
use healthcode_ceremony::{contribute, init, ptau, Ptau, R1cs};
use healthcode_circuits::{policy::Policy, statement::matrices};
use std::time::Instant;
fn main() {
    let policy = Policy::parse(include_str!("../../policies/henan-2022.toml")).unwrap();
    let t = Instant::now();
    let m = matrices(&policy).unwrap();
    let r1cs = R1cs::from_matrices(&m);
    println!("matrices {:?}", t.elapsed());
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let t = Instant::now();
    let bytes = ptau::generate(13, &ptau::Phase1Secrets::random(&mut rng));
    println!("generate {:?}", t.elapsed());
    let t = Instant::now();
    let p = Ptau::parse(&bytes).unwrap();
    let r = ptau::check(&p, 13, &mut rng).unwrap();
    println!("check {:?} {:?}", t.elapsed(), r.failures);
    let t = Instant::now();
    let mut z = init(&r1cs, &p).unwrap();
    println!("init {:?}", t.elapsed());
    let t = Instant::now();
    let _ = healthcode_ceremony::init::init_from_secrets(&r1cs, &ptau::Phase1Secrets::random(&mut rng));
    println!("init_from_secrets {:?}", t.elapsed());
    let t = Instant::now();
    contribute(&mut z, None, b"", &mut rng).unwrap();
    println!("contribute {:?}", t.elapsed());
}
