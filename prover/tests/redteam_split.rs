//! Red-team of the proof split across two workers (`ab_queries`, `begin_code`/`finish_code`):
//! hostile bytes and on-curve but adversarial bases for the helper, hostile answers for the
//! prover, and the zero-knowledge argument for any answer the self-check accepts.

use ark_bn254::{g1::Config as G1Config, g2::Config as G2Config};
use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{Field, UniformRand, Zero};
use ark_serialize::{CanonicalSerialize, Compress};
use ark_std::rand::{rngs::StdRng, CryptoRng, Rng, RngCore, SeedableRng};
use healthcode_circuits::hashes;
use healthcode_circuits::policy::Colour;
use healthcode_prover::ab_queries::assignment_from_bytes;
use healthcode_prover::fixtures::Fixture;
use healthcode_prover::{AbQueries, AbSums, PendingCode, ProveError, ProveRequest, Prover};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The largest single allocation of this thread since the last [`largest_since`].
struct Largest;
thread_local!(static LARGEST: Cell<usize> = const { Cell::new(0) });
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|m| m.set(m.get().max(l.size())));
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
        System.realloc(p, l, size)
    }
}
#[global_allocator]
static ALLOC: Largest = Largest;

fn largest_since<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|m| m.set(0));
    let t = f();
    (t, LARGEST.with(|m| m.get()))
}

fn queries_bytes(vars: u64, a: (Vec<u32>, Vec<G1Affine>), b: (Vec<u32>, Vec<G2Affine>)) -> Vec<u8> {
    let mut out = b"hc-ab-q1".to_vec();
    (vars, a.0, a.1, b.0, b.1).serialize_with_mode(&mut out, Compress::No).unwrap();
    out
}

/// A point of the twist outside G2 (a random `x` lifted), and one of order 10069: the twist has
/// `r·10069·5864401·c` points, so `(r·h/10069)·Q` has order 10069 unless it is the identity.
fn off_subgroup(rng: &mut StdRng) -> (G2Affine, G2Affine) {
    #[rustfmt::skip]
    const R_H_OVER_10069: [u64; 8] = [
        0x1dbbfa43015f1659, 0x88a0ba9334d5d06e, 0xc616fa58e5b72d72, 0x8ec12d22f6541370,
        0x85dd3e299a8fab26, 0xf2ec8020adba71a1, 0xb0cfb56a567ea5a2, 0x3b89d84c6eaa,
    ];
    loop {
        let Some(q) = G2Affine::get_point_from_x_unchecked(UniformRand::rand(rng), rng.gen()) else {
            continue;
        };
        let t = q.mul_bigint(R_H_OVER_10069);
        if !t.is_zero() && !q.is_in_correct_subgroup_assuming_on_curve() {
            assert!(t.mul_bigint([10069u64]).is_zero() && t.into_affine().is_on_curve());
            return (q, t.into_affine());
        }
    }
}

/// Attack 1: random, mutated and huge-length bytes for every reader, and adversarial on-curve
/// bases for the helper's MSMs. Nothing may panic, and no reader may allocate more than a small
/// multiple of its input (a declared length of 2^64 − 1 must not reserve memory).
#[test]
fn hostile_bytes_and_bases_neither_panic_nor_allocate_without_bound() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let p = G1Projective::rand(&mut rng).into_affine();
    let q = G2Projective::rand(&mut rng).into_affine();
    let (twist, small) = off_subgroup(&mut rng);
    // Duplicates, P and −P, endomorphic x-sharing points, many bases on one index, points of
    // order 10069 and their negatives, off-subgroup points: on the curve, so accepted.
    let phi = |g: G2Affine| G2Affine::new_unchecked(g.x * G2Config::ENDO_COEFFS[0], g.y);
    let g1s = vec![p, p, -p, p, -p, (p + p).into_affine()];
    let g2s = vec![q, q, -q, small, small, -small, twist, -twist, phi(twist), phi(small), q, -small];
    let mut many = (vec![1u32; 600], vec![small; 600]);
    many.0.extend([1, 1, 2, 3]);
    many.1.extend([-small, twist, -twist, q]);
    let g2_index = (0..12).map(|i| i % 4).collect();
    let hostile = [
        (4, queries_bytes(4, (vec![0, 0, 1, 1, 2, 3], g1s.clone()), (g2_index, g2s))),
        (4, queries_bytes(4, (vec![3; 6], g1s), many)),
        (0, queries_bytes(0, (vec![], vec![]), (vec![], vec![]))),
    ];
    let scalars = [Fr::from(0u64), Fr::from(1u64), -Fr::from(1u64), G1Config::LAMBDA, Fr::rand(&mut rng)];
    for (n, bytes) in &hostile {
        let helper = AbQueries::from_bytes(bytes).expect("on-curve bases are accepted");
        for k in scalars {
            let sums = helper.sums(&vec![k; *n]).unwrap();
            let in_g2 = sums.b.into_affine().is_in_correct_subgroup_assuming_on_curve();
            assert_eq!(AbSums::from_bytes(&sums.to_bytes()).is_ok(), in_g2);
        }
    }
    // The G1 sum is exact (G1 has no cofactor): duplicates and opposites cancel right.
    let z = [Fr::from(5u64), Fr::from(7u64), Fr::from(11u64), Fr::from(13u64)];
    let want = p * (z[0] + z[0] - z[1] + z[1]) + (-p) * z[2] + (p + p) * z[3];
    assert_eq!(AbQueries::from_bytes(&hostile[0].1).unwrap().sums(&z).unwrap().a, want);

    // Huge declared lengths, in each length field of each reader, then random and mutated bytes.
    let good = hostile[0].1.clone();
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for at in [8usize, 16] {
        let mut b = good[..at].to_vec();
        b.extend(u64::MAX.to_le_bytes());
        b.extend(&good[at + 8..]);
        cases.push(b);
    }
    cases.push([&b"hc-ab-q1"[..], &4u64.to_le_bytes(), &u64::MAX.to_le_bytes(), &[0xff; 64]].concat());
    for _ in 0..3000 {
        let mut b = if rng.gen_bool(0.5) {
            good.clone()
        } else {
            (0..rng.gen_range(0..400)).map(|_| rng.gen()).collect()
        };
        for _ in 0..rng.gen_range(1..4) {
            // Half the time in the header and the `A` indices, where a change still parses.
            let end = if rng.gen_bool(0.5) { b.len().clamp(1, 64) } else { b.len().max(1) };
            let i = rng.gen_range(0..end);
            match rng.gen_range(0..4) {
                0 if !b.is_empty() => b[i] ^= 1 << rng.gen_range(0..8),
                1 if !b.is_empty() => b.truncate(i),
                2 if i + 8 <= b.len() => b[i..i + 8].copy_from_slice(&rng.gen::<u64>().to_le_bytes()),
                _ => b.insert(i.min(b.len()), rng.gen()),
            }
        }
        cases.push(b);
    }
    for b in &cases {
        let bound = 64 * b.len() + 4096;
        let (r, most) = largest_since(|| AbQueries::from_bytes(b).map(|h| h.sums(&[Fr::from(3u64); 4])));
        assert!(most <= bound, "queries of {} bytes allocated {most}", b.len());
        drop(r);
        let (_, most) = largest_since(|| assignment_from_bytes(b).map(|z| z.len()));
        assert!(most <= bound, "an assignment of {} bytes allocated {most}", b.len());
        let (_, most) = largest_since(|| AbSums::from_bytes(&b[..b.len().min(192)]).is_ok());
        assert!(most <= bound);
    }
    assert!(largest_since(|| vec![0u8; 1 << 20]).1 >= 1 << 20, "the allocator counts");
    let mut huge = u64::MAX.to_le_bytes().to_vec();
    huge.extend([0u8; 64]);
    assert!(assignment_from_bytes(&huge).is_err());
}

/// `next_u64` answers the Montgomery limbs of the given field elements, in order: what
/// `Fr::rand` reads, so a test picks the prover's `r₁` and `r₂`.
struct Script(Vec<u64>);
impl Script {
    fn new(values: &[Fr]) -> Self {
        Self(values.iter().flat_map(|v| v.0 .0).rev().collect())
    }
}
impl RngCore for Script {
    fn next_u64(&mut self) -> u64 {
        self.0.pop().expect("the script has ended")
    }
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn fill_bytes(&mut self, d: &mut [u8]) {
        d.iter_mut().for_each(|b| *b = self.next_u64() as u8)
    }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), ark_std::rand::Error> {
        self.fill_bytes(d);
        Ok(())
    }
}
impl CryptoRng for Script {}

fn request(f: &Fixture, challenge: &str, bind: bool) -> ProveRequest {
    let challenge = hashes::challenge(challenge);
    ProveRequest { head: f.population.head, now: f.population.now, challenge, bind, claim: None }
}

fn begin(prover: &Prover, f: &Fixture, colour: Colour, challenge: &str, bind: bool) -> PendingCode {
    prover.begin_code(&f.population.holder(colour).witness, &request(f, challenge, bind)).unwrap()
}

/// Attack 2: hostile answers from the helper. Identity and cancelling points, points off G2 (only
/// constructible in Rust: `AbSums::from_bytes` refuses them), and sums of another request: never
/// a panic, never a code the checkpoint refuses or of another colour. Sums rescaled by any `k`
/// (`k·A₀`, `B₀/k`) do verify: they are the only answers that do, and (attack 3) they leave the
/// proof's distribution unchanged.
#[test]
fn hostile_sums_never_make_a_bad_code() {
    let f = Fixture::shared();
    let prover = Prover::new(&f.policy, &f.keys.proving_key).unwrap();
    let vk = &f.keys.proving_key.vk;
    let checkpoint = f.checkpoint();
    let mut rng = StdRng::seed_from_u64(77);
    let (twist, small) = off_subgroup(&mut rng);
    for colour in [Colour::Green, Colour::Red] {
        let pending = || begin(&prover, f, colour, "venue:rt", false);
        let right = prover.ab_queries().sums(pending().assignment().z()).unwrap();
        let (alpha, beta) = (vk.alpha_g1.into_group(), vk.beta_g2.into_group());
        let wire = |a: G1Projective, b: G2Projective| AbSums::from_bytes(&AbSums { a, b }.to_bytes());
        // A₀ = 0 through the wire: refused as degenerate, not a panic nor a division by zero.
        let r = prover.finish_code(pending(), Some(wire(-alpha, right.b).unwrap()), &mut rng);
        assert!(matches!(r, Err(ProveError::Degenerate)), "{r:?}");
        let refused = [
            wire(right.a, -beta).unwrap(),
            wire(G1Projective::zero(), G2Projective::zero()).unwrap(),
            AbSums { a: -right.a, ..right },
            AbSums { b: right.b + twist, ..right },
            AbSums { b: right.b + small, ..right },
            AbSums { b: twist.into_group(), ..right },
            prover
                .ab_queries()
                .sums(begin(&prover, f, colour, "venue:other", false).assignment().z())
                .unwrap(),
        ];
        for (i, wrong) in refused.into_iter().enumerate() {
            let r = prover.finish_code(pending(), Some(wrong), &mut rng);
            assert!(matches!(r, Err(ProveError::BrokenBundle)), "answer {i}: {r:?}");
        }
        assert!(wire(right.a, right.b + twist).is_err() && wire(right.a, right.b + small).is_err());
        // Rescaled sums, k = −1 and random: a valid code, for the policy's colour.
        for k in [-Fr::from(1u64), Fr::rand(&mut rng)] {
            let (a0, b0) = (right.a + alpha, right.b + beta);
            let scaled = wire(a0 * k - alpha, b0 * k.inverse().unwrap() - beta).unwrap();
            let proved = prover.finish_code(pending(), Some(scaled), &mut rng).unwrap();
            assert_eq!(proved.verdict.colour, colour);
            let code = proved.payload.encode().unwrap();
            let challenge = Some(hashes::challenge("venue:rt"));
            assert_eq!(checkpoint.verify(&code, f.population.now, challenge, None), Ok(colour));
        }
    }
}

/// Attack 3: the split path proves the same statement with the same randomness as one worker,
/// and any answer the self-check accepts (`k·A₀`, `B₀/k`, the only pairs with `e(A₀', B₀') =
/// e(A₀, B₀)`) gives, with `r₁' = k·r₁` and `r₂' = r₂/k`, exactly the honest proof of `(r₁, r₂)`:
/// a bijection of the randomness, so the code's distribution (and zero knowledge) is unchanged
/// whatever the helper answers.
#[test]
fn accepted_helper_answers_leave_the_proof_distribution_unchanged() {
    let f = Fixture::shared();
    let prover = Prover::new(&f.policy, &f.keys.proving_key).unwrap();
    let vk = &f.keys.proving_key.vk;
    let mut rng = StdRng::seed_from_u64(3);
    let (r1, r2, k) = (Fr::rand(&mut rng), Fr::rand(&mut rng), Fr::rand(&mut rng));
    let pending = || begin(&prover, f, Colour::Green, "venue:zk", true);
    let honest = prover.ab_queries().sums(pending().assignment().z()).unwrap();
    let (a0, b0) = (honest.a + vk.alpha_g1, honest.b + vk.beta_g2);
    let scaled = AbSums { a: a0 * k - vk.alpha_g1, b: b0 * k.inverse().unwrap() - vk.beta_g2 };

    let holder = &f.population.holder(Colour::Green).witness;
    let alone =
        prover.prove_code(holder, &request(f, "venue:zk", true), &mut Script::new(&[r1, r2])).unwrap();
    let mut split = pending();
    prover.compute_code_c(&mut split);
    let split = prover.finish_code(split, Some(honest), &mut Script::new(&[r1, r2])).unwrap();
    let lying = prover.finish_code(pending(), Some(scaled), &mut Script::new(&[k * r1, r2 / k])).unwrap();
    let bytes = alone.payload.encode().unwrap();
    assert_eq!(split.payload.encode().unwrap(), bytes);
    assert_eq!(lying.payload.encode().unwrap(), bytes);
    assert_eq!((split.public, lying.public), (alone.public, alone.public));
}

/// Attack 4 (the JS keeps one pending code per session, and `SplitProver.prove` does not queue:
/// two overlapping proofs could finish one request with the reply meant for the other). A reply
/// is tied to its request through `z`: sums for another challenge, binding, time or holder are
/// refused; only a request with the same `z` (differing at most in the caption) accepts them, and
/// then the code is that request's own.
#[test]
fn a_reply_for_another_request_is_refused() {
    let f = Fixture::shared();
    let prover = Prover::new(&f.policy, &f.keys.proving_key).unwrap();
    let first = begin(&prover, f, Colour::Green, "venue:pair", false);
    let reply = prover.ab_queries().sums(first.assignment().z()).unwrap();
    let witness = &f.population.holder(Colour::Green).witness;
    let later = ProveRequest { now: f.population.now + 1, ..request(f, "venue:pair", false) };
    let others = [
        begin(&prover, f, Colour::Green, "venue:pair", true),
        begin(&prover, f, Colour::Green, "venue:elsewhere", false),
        begin(&prover, f, Colour::Red, "venue:pair", false),
        prover.begin_code(witness, &later).unwrap(),
    ];
    for (i, other) in others.into_iter().enumerate() {
        let r = prover.finish_code(other, Some(reply), &mut StdRng::seed_from_u64(4));
        assert!(matches!(r, Err(ProveError::BrokenBundle)), "request {i}: {r:?}");
    }
    let same = begin(&prover, f, Colour::Green, "venue:pair", false);
    let proved = prover.finish_code(same, Some(reply), &mut StdRng::seed_from_u64(4)).unwrap();
    assert_eq!(proved.payload.challenge, Some(hashes::challenge("venue:pair")));
}
