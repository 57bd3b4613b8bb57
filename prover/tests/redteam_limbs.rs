//! Red-team tests of the MSM's field representations (`Fq29`, `Fq2x29`, `Ark`), its XYZZ running
//! sums and the MSM itself, through public items only, against arkworks.
//!
//! The MSM in 29-bit limbs is reached natively through `msm::msm` on wrapper curves: copies of
//! BN254's G1 and G2 configurations whose `Buckets::Coord` is `Fq29` / `Fq2x29` (and `Ark<_>`),
//! so the WebAssembly code path runs here. Debug test builds check every `u64` operation for
//! overflow, so any accumulator overflow panics.

use ark_bn254::{g1, g2, Fq, Fq2, Fr};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{CurveConfig, CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::{AdditiveGroup, BigInt, BigInteger, Field, One, PrimeField, UniformRand, Zero};
use ark_std::rand::{rngs::StdRng, SeedableRng};
use healthcode_prover::msm::limbs29::{Fq29, Fq2x29};
use healthcode_prover::msm::{self, xyzz::Xyzz, Ark, Buckets, Coordinate};
use proptest::prelude::*;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// Limb view of Fq29 through its public Debug output and arkworks' Montgomery form.

const N: usize = 9;
const MASK: u64 = (1 << 29) - 1;

fn split(w: [u64; 4]) -> [u64; N] {
    let mut out = [0u64; N];
    for (i, o) in out.iter_mut().enumerate() {
        let bit = i * 29;
        let (word, shift) = (bit / 64, bit % 64);
        let mut v = w[word] >> shift;
        if shift + 29 > 64 && word + 1 < 4 {
            v |= w[word + 1] << (64 - shift);
        }
        *o = v & MASK;
    }
    out
}

/// Limbs (each below 2^29, value below 2^256) → 256-bit words; `None` when the value overflows.
fn join(l: [u64; N]) -> Option<[u64; 4]> {
    let mut acc = num_bigint::BigUint::from(0u32);
    for &x in l.iter().rev() {
        acc = (acc << 29u32) + x;
    }
    if acc.bits() > 256 {
        return None;
    }
    let mut w = [0u64; 4];
    for (i, d) in acc.to_u64_digits().into_iter().enumerate() {
        w[i] = d;
    }
    Some(w)
}

fn p_limbs() -> [u64; N] {
    split(Fq::MODULUS.0)
}

fn inv32() -> Fq {
    Fq::from(32u64).inverse().unwrap()
}

/// The field element whose `Fq29` limbs are `l` (a value below p): the limbs read as arkworks'
/// Montgomery form are `32·a`.
fn fq_with_limbs(l: [u64; N]) -> Fq {
    let w = join(l).expect("below 2^256");
    assert!(BigInt(w) < Fq::MODULUS, "limbs {l:?} not below p");
    Fq::new_unchecked(BigInt(w)) * inv32()
}

/// Every number in a Debug string, in order.
fn numbers(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit()).filter(|t| !t.is_empty()).map(|t| t.parse().unwrap()).collect()
}

/// `Fq29`'s limbs, read from its Debug output `Fq29([l0, …, l8])` (the only number-bearing
/// tokens after the name; the `29` in the name is skipped).
fn limbs(x: &Fq29) -> [u64; N] {
    let s = format!("{x:?}");
    let inner = s.strip_prefix("Fq29(").expect("Debug format of Fq29");
    let v = numbers(inner);
    assert_eq!(v.len(), N, "{s}");
    v.try_into().unwrap()
}

/// Canonical: every limb below 2^29, value below p, and equal to the canonical form of its value.
#[track_caller]
fn canonical(x: Fq29) -> Fq29 {
    let l = limbs(&x);
    assert!(l.iter().all(|&v| v <= MASK), "a limb above 2^29: {x:?}");
    let w = join(l).expect("below 2^256");
    assert!(BigInt(w) < Fq::MODULUS, "not below p: {x:?}");
    assert_eq!(x, Fq29::from_ark(&x.to_ark()), "limbs differ from the canonical form");
    x
}

#[track_caller]
fn canonical2(x: Fq2x29) -> Fq2x29 {
    let a = x.to_ark();
    assert_eq!(x, Fq2x29::from_ark(&a), "Fq2x29 not canonical: {x:?}");
    // Both halves through the limb check as well.
    let s = format!("{x:?}");
    let v: Vec<u64> =
        s.split("Fq29(").skip(1).flat_map(|part| numbers(part.split(')').next().unwrap())).collect();
    assert_eq!(v.len(), 2 * N, "{s}");
    for half in v.chunks(N) {
        let l: [u64; N] = half.try_into().unwrap();
        assert!(l.iter().all(|&v| v <= MASK), "{s}");
        assert!(BigInt(join(l).unwrap()) < Fq::MODULUS, "{s}");
    }
    x
}

/// Values at the edges: 0, 1, 2, p−1, p−2, (p±1)/2, powers of two around limb boundaries, and
/// elements whose *limbs* are extreme (p−1, all 2^29−1 below a top limb of P₈−1, one limb set,
/// alternating patterns, 1, 0…).
fn edges() -> Vec<Fq> {
    let two = Fq::from(2u64);
    let mut v = vec![
        Fq::zero(),
        Fq::one(),
        two,
        -Fq::one(),
        -two,
        two.inverse().unwrap(),
        -two.inverse().unwrap(),
        Fq::from(32u64),
        inv32(),
        -inv32(),
    ];
    for k in [1u64, 28, 29, 30, 57, 58, 59, 63, 64, 87, 116, 128, 145, 174, 203, 231, 232, 233, 252, 253] {
        let t = two.pow([k]);
        v.extend([t, t - Fq::one(), -t, t + Fq::one()]);
    }
    let p = p_limbs();
    let mut pats: Vec<[u64; N]> = Vec::new();
    let mut pm1 = p;
    pm1[0] -= 1;
    pats.push(pm1); // limbs p − 1
    let mut pm2 = p;
    pm2[0] -= 2;
    pats.push(pm2);
    let mut ones = [MASK; N];
    ones[N - 1] = p[N - 1] - 1; // every low limb at its maximum, the top just below p's
    pats.push(ones);
    let mut ones0 = [MASK; N];
    ones0[N - 1] = 0;
    pats.push(ones0);
    for i in 0..N {
        let mut e = [0u64; N];
        e[i] = if i == N - 1 { p[N - 1] - 1 } else { MASK };
        pats.push(e);
        let mut f = [0u64; N];
        f[i] = 1;
        pats.push(f);
        // p − 2^(29i): every limb as in p except one lowered.
        let mut g = p;
        if g[i] > 0 {
            g[i] -= 1;
            pats.push(g);
        }
    }
    let mut alt = [0u64; N];
    for (i, l) in alt.iter_mut().enumerate() {
        *l = if i % 2 == 0 { MASK } else { 0 };
    }
    alt[N - 1] = p[N - 1] - 1;
    pats.push(alt);
    let mut alt2 = [0u64; N];
    for (i, l) in alt2.iter_mut().enumerate() {
        *l = if i % 2 == 1 { MASK } else { 0 };
    }
    pats.push(alt2);
    // Alternating 0x1555… / 0x0aaa… limbs.
    pats.push([
        0x1555_5555,
        0x0aaa_aaaa,
        0x1555_5555,
        0x0aaa_aaaa,
        0x1555_5555,
        0x0aaa_aaaa,
        0x1555_5555,
        0x0aaa_aaaa,
        0x1555,
    ]);
    for l in pats {
        let a = fq_with_limbs(l);
        assert_eq!(limbs(&Fq29::from_ark(&a)), l, "the limb construction");
        v.extend([a, -a]);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Strategies.

fn limb_value() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(1), Just(MASK), Just(MASK - 1), Just(1 << 28), 0..=MASK]
}

/// Elements by limb pattern (biased to extreme limbs), by value (uniform, small, near p), and
/// from the edge list.
fn fq() -> impl Strategy<Value = Fq> {
    let by_limbs = proptest::array::uniform9(limb_value()).prop_map(|mut l| {
        let p = p_limbs();
        l[N - 1] %= p[N - 1] + 1;
        if BigInt(join(l).unwrap()) >= Fq::MODULUS {
            l[N - 1] = p[N - 1] - 1;
        }
        fq_with_limbs(l)
    });
    let uniform = any::<[u8; 32]>().prop_map(|b| Fq::from_le_bytes_mod_order(&b));
    let small = any::<u64>().prop_map(Fq::from);
    let near_p = any::<u64>().prop_map(|k| -Fq::from(k));
    let edge = (0..edges().len()).prop_map(|i| edges_cached()[i]);
    prop_oneof![3 => by_limbs, 3 => uniform, 1 => small, 1 => near_p, 2 => edge]
}

fn edges_cached() -> &'static [Fq] {
    static E: OnceLock<Vec<Fq>> = OnceLock::new();
    E.get_or_init(edges)
}

fn fq2() -> impl Strategy<Value = Fq2> {
    (fq(), fq()).prop_map(|(a, b)| Fq2::new(a, b))
}

// ---------------------------------------------------------------------------------------------
// Fq29.

#[test]
fn conversions_at_the_edges() {
    assert_eq!(Fq29::ZERO, Fq29::from_ark(&Fq::zero()));
    assert_eq!(limbs(&Fq29::ZERO), [0; N]);
    assert_eq!(Fq29::one(), Fq29::from_ark(&Fq::one()));
    assert_eq!(Fq29::one().to_ark(), Fq::one());
    assert_eq!(Fq29::ZERO.to_ark(), Fq::zero());
    // 1 is 2^261 mod p.
    let r = Fq::from(2u64).pow([261u64]);
    assert_eq!(limbs(&Fq29::one()), split(r.into_bigint().0));
    for a in edges() {
        let x = canonical(Fq29::from_ark(&a));
        assert_eq!(x.to_ark(), a);
        // The limbs are a·2^261 mod p.
        assert_eq!(limbs(&x), split((a * r).into_bigint().0), "{a}");
    }
    assert_eq!(<Fq29 as Coordinate>::zero(), Fq29::ZERO);
    assert_eq!(<Fq29 as Coordinate>::one(), Fq29::one());
    assert_eq!(Fq2x29::one().to_ark(), Fq2::one());
    assert_eq!(Fq2x29::ZERO.to_ark(), Fq2::zero());
}

fn check_pair(a: Fq, b: Fq) {
    let (x, y) = (Fq29::from_ark(&a), Fq29::from_ark(&b));
    assert_eq!(canonical(x.mul(&y)).to_ark(), a * b, "{a}·{b}");
    assert_eq!(canonical(y.mul(&x)), x.mul(&y));
    assert_eq!(canonical(x.add(&y)).to_ark(), a + b, "{a}+{b}");
    assert_eq!(canonical(x.sub(&y)).to_ark(), a - b, "{a}−{b}");
    assert_eq!(canonical(<Fq29 as Coordinate>::double(&x)).to_ark(), a.double());
    assert_eq!(x == y, a == b);
}

fn check_one(a: Fq) {
    let x = canonical(Fq29::from_ark(&a));
    assert_eq!(x.to_ark(), a);
    assert_eq!(canonical(x.square()).to_ark(), a.square(), "{a}²");
    assert_eq!(canonical(x.neg()).to_ark(), -a, "−{a}");
    assert_eq!(x.sub(&x), Fq29::ZERO, "{a} − {a}");
    assert_eq!(x.add(&x.neg()), Fq29::ZERO, "{a} + (−{a}) reaches p before reduction");
    assert_eq!(x.neg().neg(), x);
    assert_eq!(Fq29::ZERO.sub(&x), x.neg());
    assert_eq!(x.sub(&Fq29::ZERO), x);
    assert_eq!(x.add(&Fq29::ZERO), x);
    assert_eq!(x.mul(&Fq29::one()), x);
    assert_eq!(x.mul(&Fq29::ZERO), Fq29::ZERO);
}

#[test]
fn every_pair_of_edges_agrees_with_arkworks() {
    let e = edges();
    for &a in &e {
        check_one(a);
        for &b in &e {
            check_pair(a, b);
        }
    }
    // Zero's negation and difference are zero, not p.
    assert_eq!(Fq29::ZERO.neg(), Fq29::ZERO);
    assert_eq!(Fq29::ZERO.sub(&Fq29::ZERO), Fq29::ZERO);
    // The largest sum of canonical values, 2p − 2, and sums landing exactly on p.
    let m = Fq29::from_ark(&-Fq::one());
    assert_eq!(canonical(m.add(&m)).to_ark(), -Fq::from(2u64));
    assert_eq!(Fq29::one().add(&m), Fq29::ZERO);
}

/// A model of `Fq29::mul`'s accumulation in `u128`, to measure how close its accumulators come
/// to 2^64 (the real one panics on overflow in these debug builds; this shows the margin).
fn mul_model_max(a: [u64; N], b: [u64; N]) -> (u128, [u64; N]) {
    let p = p_limbs().map(u128::from);
    let mu = {
        let x = p[0] as u64;
        let mut inv = 1u64;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(x.wrapping_mul(inv)));
        }
        u128::from(inv.wrapping_neg() & MASK)
    };
    let (a, b) = (a.map(u128::from), b.map(u128::from));
    let mut s = [0u128; N];
    let mut max = 0u128;
    for ai in a {
        let t = s[0] + ai * b[0];
        max = max.max(t);
        let q = ((t as u64).wrapping_mul(mu as u64) as u128) & MASK as u128;
        let tq = t + q * p[0];
        max = max.max(tq);
        assert_eq!(tq & MASK as u128, 0);
        let carry = tq >> 29;
        s[0] = s[1] + ai * b[1] + q * p[1] + carry;
        max = max.max(s[0]);
        for j in 2..N {
            s[j - 1] = s[j] + ai * b[j] + q * p[j];
            max = max.max(s[j - 1]);
        }
        s[N - 1] = 0;
    }
    let mut r = [0u64; N];
    let mut carry = 0u128;
    for k in 0..N {
        let v = s[k] + carry;
        r[k] = (v & MASK as u128) as u64;
        carry = v >> 29;
    }
    assert_eq!(carry, 0);
    (max, r)
}

#[test]
fn mul_accumulators_stay_below_2_63_with_the_largest_limbs() {
    let e = edges();
    let mut worst = 0u128;
    for a in &e {
        for b in &e {
            let (la, lb) = (limbs(&Fq29::from_ark(a)), limbs(&Fq29::from_ark(b)));
            let (m, r) = mul_model_max(la, lb);
            worst = worst.max(m);
            // The unreduced result is below 2p (doc comment), and reduces to the real product.
            let v = BigInt(join(r).unwrap());
            let mut two_p = Fq::MODULUS;
            two_p.mul2();
            assert!(v < two_p, "{a}·{b}: unreduced {r:?} not below 2p");
            assert_eq!(limbs(&Fq29::from_ark(a).mul(&Fq29::from_ark(b))), {
                let mut w = v;
                if w >= Fq::MODULUS {
                    w.sub_with_borrow(&Fq::MODULUS);
                }
                split(w.0)
            });
        }
    }
    assert!(worst < 1 << 63, "worst accumulator {worst:#x}");
    // The doc comment's bound: 18 products below 2^58 and a carry below 2^35.
    let bound = 18 * (u128::from(MASK) * u128::from(MASK)) + (1 << 35);
    assert!(bound < 1 << 63);
    assert!(worst <= bound);
    // With every limb of both operands at its maximum the accumulators come closest.
    eprintln!("worst accumulator over the edges: 2^{:.3}", (worst as f64).log2());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fq29_agrees_with_arkworks(a in fq(), b in fq()) {
        check_one(a);
        check_pair(a, b);
        let (x, y) = (Fq29::from_ark(&a), Fq29::from_ark(&b));
        // Model bound for the random pair as well.
        let (m, _) = mul_model_max(limbs(&x), limbs(&y));
        prop_assert!(m < 1 << 63);
        // A few identities across operations.
        prop_assert_eq!(x.add(&y).sub(&y), x);
        prop_assert_eq!(x.sub(&y).add(&y), x);
        prop_assert_eq!(x.add(&y).square(), x.square().add(&x.mul(&y).add(&x.mul(&y))).add(&y.square()));
    }

    #[test]
    fn fq2x29_agrees_with_arkworks(a in fq2(), b in fq2()) {
        let (x, y) = (canonical2(Fq2x29::from_ark(&a)), canonical2(Fq2x29::from_ark(&b)));
        prop_assert_eq!(x.to_ark(), a);
        prop_assert_eq!(canonical2(x.mul(&y)).to_ark(), a * b);
        prop_assert_eq!(canonical2(x.square()).to_ark(), a.square());
        prop_assert_eq!(canonical2(x.add(&y)).to_ark(), a + b);
        prop_assert_eq!(canonical2(x.sub(&y)).to_ark(), a - b);
        prop_assert_eq!(canonical2(x.neg()).to_ark(), -a);
        prop_assert_eq!(x.sub(&x), Fq2x29::ZERO);
        prop_assert_eq!(x.mul(&Fq2x29::one()), x);
        prop_assert_eq!(x == y, a == b);
    }
}

#[test]
fn fq2x29_at_the_edges() {
    let e = edges();
    let u = Fq2::new(Fq::zero(), Fq::one());
    let xu = Fq2x29::from_ark(&u);
    assert_eq!(xu.square().to_ark(), -Fq2::one(), "u² = −1");
    assert_eq!(xu.mul(&xu), Fq2x29::from_ark(&-Fq2::one()));
    let values: Vec<Fq2> =
        e.iter().step_by(3).flat_map(|a| e.iter().step_by(5).map(move |b| Fq2::new(*a, *b))).collect();
    for a in &values {
        let x = canonical2(Fq2x29::from_ark(a));
        assert_eq!(canonical2(x.square()).to_ark(), a.square(), "{a}²");
        assert_eq!(canonical2(x.neg()).to_ark(), -*a);
        assert_eq!(canonical2(x.mul(&xu)).to_ark(), *a * u);
    }
    for (i, a) in values.iter().enumerate() {
        for b in values.iter().skip(i % 7).step_by(7) {
            let (x, y) = (Fq2x29::from_ark(a), Fq2x29::from_ark(b));
            assert_eq!(canonical2(x.mul(&y)).to_ark(), *a * b, "{a}·{b}");
            assert_eq!(canonical2(x.sub(&y)).to_ark(), *a - b);
            assert_eq!(canonical2(x.add(&y)).to_ark(), *a + b);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// invert_all.

fn invert_all_agrees<C: Coordinate>(values: &[C::Ark]) {
    for len in [1, 2, 3, values.len()] {
        let mut v: Vec<C> = values[..len].iter().map(C::from_ark).collect();
        C::invert_all(&mut v);
        for (x, a) in v.iter().zip(values) {
            assert_eq!(x.to_ark(), a.inverse().unwrap());
            assert!(*x == C::from_ark(&x.to_ark()), "canonical");
        }
    }
    let mut empty: Vec<C> = Vec::new();
    C::invert_all(&mut empty);
}

#[test]
fn invert_all_on_one_and_many() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut g1v: Vec<Fq> = edges().into_iter().filter(|a| !a.is_zero()).collect();
    g1v.extend((0..500).map(|_| Fq::rand(&mut rng)));
    // Repeated elements and an element and its inverse next to each other.
    g1v.extend([g1v[3], g1v[3], g1v[5].inverse().unwrap(), g1v[5]]);
    invert_all_agrees::<Fq29>(&g1v);
    invert_all_agrees::<Ark<Fq>>(&g1v);
    let g2v: Vec<Fq2> = g1v
        .windows(2)
        .map(|w| Fq2::new(w[0], w[1]))
        .chain([Fq2::one(), Fq2::new(Fq::zero(), Fq::one())])
        .collect();
    invert_all_agrees::<Fq2x29>(&g2v);
    invert_all_agrees::<Ark<Fq2>>(&g2v);
    // The unsafe cast in Ark::invert_all writes through the wrapper: the slice is fully updated.
    let mut v: Vec<Ark<Fq>> = g1v.iter().map(|a| Ark(*a)).collect();
    Ark::<Fq>::invert_all(&mut v);
    assert!(v.iter().zip(&g1v).all(|(x, a)| x.0 * a == Fq::one()));
    assert_eq!(std::mem::size_of::<Ark<Fq>>(), std::mem::size_of::<Fq>());
    assert_eq!(std::mem::align_of::<Ark<Fq2>>(), std::mem::align_of::<Fq2>());
}

// ---------------------------------------------------------------------------------------------
// Points: no point with y = 0 on either group.

#[test]
fn no_point_with_y_zero_on_bn254() {
    // (x, 0) on y² = x³ + b needs −b to be a cube. G1: b = 3 over Fq (p ≡ 1 mod 3).
    let e1 = (num_bigint::BigUint::from(Fq::MODULUS) - 1u32) / 3u32;
    let b1 = -g1::Config::COEFF_B;
    assert_ne!(b1.pow(e1.to_u64_digits()), Fq::one(), "−3 is not a cube in Fq");
    // G2: b' = 3/(9 + u) over Fq2; the cube test uses (p² − 1)/3.
    let p = num_bigint::BigUint::from(Fq::MODULUS);
    let e2 = (&p * &p - 1u32) / 3u32;
    let b2 = -g2::Config::COEFF_B;
    assert_ne!(b2.pow(e2.to_u64_digits()), Fq2::one(), "−b' is not a cube in Fq2");
    // (And any such point would have order 2, which the prime-order subgroups cannot contain.)
    assert!(Fr::MODULUS.is_odd());
}

// ---------------------------------------------------------------------------------------------
// XYZZ.

fn coords<P: SWCurveConfig, C: Coordinate<Ark = P::BaseField>>(p: &Affine<P>) -> (C, C) {
    (C::from_ark(&p.x), C::from_ark(&p.y))
}

fn xyzz_of<P: SWCurveConfig, C: Coordinate<Ark = P::BaseField>>(path: &[Affine<P>]) -> Xyzz<C> {
    let a = C::from_ark(&P::COEFF_A);
    let mut x = Xyzz::<C>::identity();
    for p in path {
        x.add_affine(&coords::<P, C>(p), &a);
    }
    x
}

fn xyzz_edges<P: GLVConfig<ScalarField = Fr>, C: Coordinate<Ark = P::BaseField>>(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let a = C::from_ark(&P::COEFF_A);
    let q = Projective::<P>::rand(&mut rng).into_affine();
    let r = Projective::<P>::rand(&mut rng).into_affine();
    let s = Projective::<P>::rand(&mut rng).into_affine();
    let qr = (q + r).into_affine();
    let zero = Projective::<P>::zero();

    // Identity on either side, and identity + identity.
    let mut id = Xyzz::<C>::identity();
    assert!(id.is_identity());
    id.add(&Xyzz::identity(), &a);
    assert!(id.is_identity() && id.to_projective::<P>() == zero);
    let x = xyzz_of::<P, C>(&[q, r]);
    let mut left = Xyzz::<C>::identity();
    left.add(&x, &a);
    assert_eq!(left.to_projective::<P>(), q + r);
    let mut right = x;
    right.add(&Xyzz::identity(), &a);
    assert_eq!(right.to_projective::<P>(), q + r);

    // The same point in two representations (different ZZ): the full addition doubles it.
    let y = xyzz_of::<P, C>(&[r, q]);
    let z = xyzz_of::<P, C>(&[s, q, r, (-s)]);
    let w = xyzz_of::<P, C>(&[q, q, r, -q]);
    for (i, other) in [x, y, z, w].into_iter().enumerate() {
        let mut d = x;
        d.add(&other, &a);
        assert_eq!(d.to_projective::<P>(), (q + r).double(), "doubling, representation {i}");
        let mut d2 = other;
        d2.add(&x, &a);
        assert_eq!(d2.to_projective::<P>(), (q + r).double());
        // And the mixed addition of the affine point to it doubles too.
        let mut m = other;
        m.add_affine(&coords::<P, C>(&qr), &a);
        assert_eq!(m.to_projective::<P>(), (q + r).double(), "mixed doubling {i}");
        // Its negation cancels, in either kind of addition, and additions after it still work.
        let mut c = other;
        c.add_affine(&coords::<P, C>(&-qr), &a);
        assert!(c.is_identity() && c.to_projective::<P>().is_zero());
        c.add_affine(&coords::<P, C>(&s), &a);
        assert_eq!(c.to_projective::<P>(), Projective::<P>::from(s));
        let neg = xyzz_of::<P, C>(&[-r, s, -q, -s]);
        let mut c2 = other;
        c2.add(&neg, &a);
        assert!(c2.is_identity(), "full addition of the negation, representation {i}");
        c2.add(&other, &a);
        assert_eq!(c2.to_projective::<P>(), q + r);
    }
    // Doubling chains: repeated doubling of a non-trivial representation.
    let mut d = z;
    let mut expected = Projective::<P>::from(q) + r;
    for _ in 0..20 {
        let e = d;
        d.add(&e, &a);
        expected.double_in_place();
        assert_eq!(d.to_projective::<P>(), expected);
    }
    // 2Q + Q, then −3Q (which meets the doubled representation).
    let mut t = xyzz_of::<P, C>(&[q, q]);
    t.add_affine(&coords::<P, C>(&q), &a);
    assert_eq!(t.to_projective::<P>(), Projective::<P>::from(q) * Fr::from(3u64));
    t.add_affine(&coords::<P, C>(&(Projective::<P>::from(q) * -Fr::from(3u64)).into_affine()), &a);
    assert!(t.is_identity());
}

#[test]
fn xyzz_edge_cases_agree_with_arkworks() {
    xyzz_edges::<g1::Config, Fq29>(1);
    xyzz_edges::<g1::Config, Ark<Fq>>(2);
    xyzz_edges::<g2::Config, Fq2x29>(3);
    xyzz_edges::<g2::Config, Ark<Fq2>>(4);
}

/// Random walks over a small pool of points (P, −P, 2P, φ(P), Q, …), with mixed and full
/// additions of the walk's earlier states, against arkworks.
fn xyzz_walk<P: GLVConfig<ScalarField = Fr>, C: Coordinate<Ark = P::BaseField>>(
    seed: u64,
    ops: &[(bool, usize)],
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let a = C::from_ark(&P::COEFF_A);
    let p = Projective::<P>::rand(&mut rng);
    let q = Projective::<P>::rand(&mut rng);
    let pool: Vec<Affine<P>> = Projective::normalize_batch(&[
        p,
        -p,
        p.double(),
        -p.double(),
        p * Fr::from(3u64),
        P::endomorphism(&p),
        -P::endomorphism(&p),
        q,
        -q,
        p + q,
        -(p + q),
    ]);
    let mut states: Vec<(Xyzz<C>, Projective<P>)> = vec![(Xyzz::identity(), Projective::zero())];
    let (mut ours, mut theirs) = (Xyzz::<C>::identity(), Projective::<P>::zero());
    for &(full, i) in ops {
        if full {
            let (o, t) = states[i % states.len()];
            ours.add(&o, &a);
            theirs += t;
        } else {
            let pt = pool[i % pool.len()];
            ours.add_affine(&coords::<P, C>(&pt), &a);
            theirs += pt;
        }
        assert_eq!(ours.to_projective::<P>(), theirs);
        assert_eq!(ours.is_identity(), theirs.is_zero());
        states.push((ours, theirs));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn xyzz_random_walks(seed in 0u64..4, ops in proptest::collection::vec((any::<bool>(), 0usize..64), 1..40)) {
        xyzz_walk::<g1::Config, Fq29>(seed, &ops);
        xyzz_walk::<g1::Config, Ark<Fq>>(seed, &ops);
    }

    #[test]
    fn xyzz_random_walks_g2(seed in 0u64..2, ops in proptest::collection::vec((any::<bool>(), 0usize..64), 1..24)) {
        xyzz_walk::<g2::Config, Fq2x29>(seed, &ops);
        xyzz_walk::<g2::Config, Ark<Fq2>>(seed, &ops);
    }
}

// ---------------------------------------------------------------------------------------------
// bucket_total (the running sums) on hand-made buckets.

/// `Σ (b+1)·bucket_b` for buckets each empty or one point of the pool.
fn bucket_total_agrees<P: GLVConfig<ScalarField = Fr>, C: Coordinate<Ark = P::BaseField>>(
    seed: u64,
    buckets: &[Option<usize>],
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let p = Projective::<P>::rand(&mut rng);
    let q = Projective::<P>::rand(&mut rng);
    let pool: Vec<Affine<P>> = Projective::normalize_batch(&[
        p,
        -p,
        p.double(),
        -p.double(),
        p * Fr::from(3u64),
        -p * Fr::from(3u64),
        P::endomorphism(&p),
        q,
        -q,
    ]);
    let mut points = Vec::new();
    let mut start = vec![0u32];
    let mut expected = Projective::<P>::zero();
    for (b, slot) in buckets.iter().enumerate() {
        if let Some(i) = slot {
            let pt = pool[i % pool.len()];
            points.push(coords::<P, C>(&pt));
            expected += pt * Fr::from(b as u64 + 1);
        }
        start.push(points.len() as u32);
    }
    let a = C::from_ark(&P::COEFF_A);
    assert_eq!(C::bucket_total::<P>(&points, &start, &a), expected, "{buckets:?}");
}

#[test]
fn running_sums_that_cancel_and_double() {
    // Indices into the pool: 0 P, 1 −P, 2 2P, 3 −2P, 4 3P, 5 −3P, 6 φP, 7 Q, 8 −Q.
    let cases: Vec<Vec<Option<usize>>> = vec![
        vec![Some(0)],
        vec![None],
        vec![None, None, None],
        vec![Some(1), Some(0)],          // running P then 0 (cancels), sum P + 0
        vec![Some(3), Some(0)],          // sum: P, then P + (−P) = 0
        vec![Some(0), None],             // sum += running on an empty bucket: running twice
        vec![Some(0), Some(0), None],    // running doubles in the mixed addition
        vec![Some(0), Some(1), Some(0)], // running: P, 0, P; sum: P, P, 2P
        vec![Some(0), None, Some(0)],    // sum: P, 2P (full doubling), 2P + 2P
        vec![Some(5), Some(0), Some(0)], // sum: 3·… cancellations
        vec![Some(2), Some(5), Some(4), Some(0)],
        vec![Some(7), Some(8), Some(7), Some(8), None, Some(0)],
        vec![Some(0), Some(1), Some(2), Some(3), Some(4), Some(5), Some(6), Some(7), Some(8)],
    ];
    for c in &cases {
        for seed in 0..2 {
            bucket_total_agrees::<g1::Config, Fq29>(seed, c);
            bucket_total_agrees::<g1::Config, Ark<Fq>>(seed, c);
            bucket_total_agrees::<g2::Config, Fq2x29>(seed, c);
            bucket_total_agrees::<g2::Config, Ark<Fq2>>(seed, c);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn running_sums_agree(buckets in proptest::collection::vec(proptest::option::weighted(0.7, 0usize..9), 1..24)) {
        bucket_total_agrees::<g1::Config, Fq29>(5, &buckets);
        bucket_total_agrees::<g1::Config, Ark<Fq>>(5, &buckets);
    }
}

// ---------------------------------------------------------------------------------------------
// The MSM in both representations, through `msm::msm` on wrapper curves.

macro_rules! wrapper_curve {
    ($name:ident, $inner:ty, $coord:ty) => {
        #[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
        struct $name;
        impl CurveConfig for $name {
            type BaseField = <$inner as CurveConfig>::BaseField;
            type ScalarField = Fr;
            const COFACTOR: &'static [u64] = <$inner as CurveConfig>::COFACTOR;
            const COFACTOR_INV: Fr = <$inner as CurveConfig>::COFACTOR_INV;
        }
        impl SWCurveConfig for $name {
            const COEFF_A: Self::BaseField = <$inner as SWCurveConfig>::COEFF_A;
            const COEFF_B: Self::BaseField = <$inner as SWCurveConfig>::COEFF_B;
            const GENERATOR: Affine<Self> = Affine::new_unchecked(
                <$inner as SWCurveConfig>::GENERATOR.x,
                <$inner as SWCurveConfig>::GENERATOR.y,
            );
            type ZeroFlag = ();
        }
        impl GLVConfig for $name {
            const ENDO_COEFFS: &'static [Self::BaseField] = <$inner as GLVConfig>::ENDO_COEFFS;
            const LAMBDA: Fr = <$inner as GLVConfig>::LAMBDA;
            const SCALAR_DECOMP_COEFFS: [(bool, <Fr as PrimeField>::BigInt); 4] =
                <$inner as GLVConfig>::SCALAR_DECOMP_COEFFS;
            fn endomorphism(p: &Projective<Self>) -> Projective<Self> {
                let mut r = *p;
                r.x *= Self::ENDO_COEFFS[0];
                r
            }
            fn endomorphism_affine(p: &Affine<Self>) -> Affine<Self> {
                let mut r = *p;
                r.x *= Self::ENDO_COEFFS[0];
                r
            }
        }
        impl Buckets for $name {
            type Coord = $coord;
        }
    };
}
wrapper_curve!(G1Limbs, g1::Config, Fq29);
wrapper_curve!(G1Ark, g1::Config, Ark<Fq>);
wrapper_curve!(G2Limbs, g2::Config, Fq2x29);
wrapper_curve!(G2Ark, g2::Config, Ark<Fq2>);

fn to<P: SWCurveConfig, Q: SWCurveConfig<BaseField = P::BaseField>>(a: &Affine<P>) -> Affine<Q> {
    Affine::new_unchecked(a.x, a.y)
}

fn back<P: SWCurveConfig, Q: SWCurveConfig<BaseField = P::BaseField>>(a: Projective<P>) -> Projective<Q> {
    Projective::new_unchecked(a.x, a.y, a.z)
}

/// The MSM in 29-bit limbs, in arkworks' field (the native prover's `msm::msm`) and through the
/// Ark wrapper, each against arkworks' `VariableBaseMSM::msm`.
fn msm_g1(bases: &[Affine<g1::Config>], scalars: &[Fr]) {
    let expected = ark_bn254::G1Projective::msm(bases, scalars).unwrap();
    let native = msm::msm::<g1::Config>(bases, scalars);
    assert_eq!(native, expected, "native msm");
    let lb: Vec<Affine<G1Limbs>> = bases.iter().map(to).collect();
    let limbs_result: Projective<g1::Config> = back(msm::msm::<G1Limbs>(&lb, scalars));
    assert_eq!(limbs_result, expected, "Fq29 msm, {} bases", bases.len());
    let ab: Vec<Affine<G1Ark>> = bases.iter().map(to).collect();
    assert_eq!(back::<_, g1::Config>(msm::msm::<G1Ark>(&ab, scalars)), expected, "Ark msm");
}

fn msm_g2(bases: &[Affine<g2::Config>], scalars: &[Fr]) {
    let expected = ark_bn254::G2Projective::msm(bases, scalars).unwrap();
    assert_eq!(msm::msm::<g2::Config>(bases, scalars), expected, "native G2 msm");
    let lb: Vec<Affine<G2Limbs>> = bases.iter().map(to).collect();
    assert_eq!(back::<_, g2::Config>(msm::msm::<G2Limbs>(&lb, scalars)), expected, "Fq2x29 msm");
    let ab: Vec<Affine<G2Ark>> = bases.iter().map(to).collect();
    assert_eq!(back::<_, g2::Config>(msm::msm::<G2Ark>(&ab, scalars)), expected, "Ark G2 msm");
}

fn edge_scalars<P: GLVConfig<ScalarField = Fr>>() -> Vec<Fr> {
    let l = P::LAMBDA;
    let half = Fr::from(2u64).inverse().unwrap();
    let two128 = Fr::from(u128::MAX) + Fr::one();
    vec![
        Fr::zero(),
        Fr::one(),
        -Fr::one(),
        Fr::from(2u64),
        -Fr::from(2u64),
        Fr::from(3u64),
        l,
        -l,
        l * l,
        -(l * l),
        l + Fr::one(),
        l * Fr::from(2u64),
        half,
        -half,
        Fr::from(u128::MAX),
        -Fr::from(u128::MAX),
        two128,
        -two128,
        two128 * l,
        Fr::from(u64::MAX),
        Fr::from(1u64 << 63),
    ]
}

/// Bases from a small pool (P, −P, 2P, φ(P), −φ(P), φ²(P), Q…) so buckets meet equal, opposite
/// and endomorphic points; scalars from edge values and random ones.
fn pool_msm<P: GLVConfig<ScalarField = Fr>>(seed: u64) -> (Vec<Affine<P>>, Vec<Fr>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let p = Projective::<P>::rand(&mut rng);
    let q = Projective::<P>::rand(&mut rng);
    let phi = P::endomorphism(&p);
    let pool = Projective::normalize_batch(&[
        p,
        -p,
        p.double(),
        -p.double(),
        phi,
        -phi,
        P::endomorphism(&phi),
        q,
        -q,
        p + q,
        p * Fr::from(3u64),
    ]);
    let mut scalars = edge_scalars::<P>();
    scalars.extend((0..8).map(|_| Fr::rand(&mut rng)));
    (pool, scalars)
}

#[test]
fn msm_edge_cases_in_both_representations() {
    let mut rng = StdRng::seed_from_u64(99);
    let g = ark_bn254::G1Projective::generator();
    let p = ark_bn254::G1Projective::rand(&mut rng);
    let pa = p.into_affine();
    let phi = g1::Config::endomorphism_affine(&pa);
    let l = g1::Config::LAMBDA;
    // Each edge scalar alone, on P and on the generator.
    for k in edge_scalars::<g1::Config>() {
        msm_g1(&[pa], &[k]);
        msm_g1(&[g.into_affine()], &[k]);
    }
    // Empty and all-zero.
    msm_g1(&[], &[]);
    msm_g1(&[pa, phi], &[Fr::zero(), Fr::zero()]);
    // Cancellations: λP − φ(P); P·1 + (−P)·1; P·k + P·(−k).
    msm_g1(&[pa, phi], &[l, -Fr::one()]);
    msm_g1(&[pa, -pa], &[Fr::one(), Fr::one()]);
    msm_g1(&[pa, pa], &[l * l, -(l * l)]);
    // A bucket that doubles, then doubles again, then cancels in a later round:
    // P, P, 2P, −4P all with scalar 1 (bucket 1 of the lowest window).
    let two = (p + p).into_affine();
    let m4 = (-(p * Fr::from(4u64))).into_affine();
    msm_g1(&[pa, pa, two, m4], &[Fr::one(); 4]);
    msm_g1(&[pa, pa, two, two, m4, m4], &[Fr::one(); 6]);
    msm_g1(&[pa, pa, two, (p * Fr::from(4u64)).into_affine()], &[Fr::one(); 4]);
    // The same with a scalar λ (it lands on φ(P) through k₂) and P's φ-image as a base.
    msm_g1(&[pa, phi, pa, phi], &[l, Fr::one(), Fr::one(), l]);
    // Every half in one bucket: 256 equal bases and scalars (doubling chains in every window).
    for k in [Fr::one(), -Fr::one(), l, Fr::from(u128::MAX), Fr::rand(&mut rng)] {
        msm_g1(&vec![pa; 256], &vec![k; 256]);
    }
    // Larger random MSMs (several window widths).
    for n in [3, 40, 700, 3000] {
        let bases: Vec<_> = ark_bn254::G1Projective::normalize_batch(
            &(0..n).map(|_| ark_bn254::G1Projective::rand(&mut rng)).collect::<Vec<_>>(),
        );
        let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
        msm_g1(&bases, &scalars);
    }
    // G2: edge scalars, cancellations, doubling buckets.
    let q = ark_bn254::G2Projective::rand(&mut rng);
    let qa = q.into_affine();
    let qphi = g2::Config::endomorphism_affine(&qa);
    let l2 = g2::Config::LAMBDA;
    for k in edge_scalars::<g2::Config>() {
        msm_g2(&[qa], &[k]);
    }
    msm_g2(&[qa, qphi], &[l2, -Fr::one()]);
    msm_g2(&[qa, qa, (q + q).into_affine(), (-(q * Fr::from(4u64))).into_affine()], &[Fr::one(); 4]);
    msm_g2(&vec![qa; 64], &vec![Fr::rand(&mut rng); 64]);
    let bases: Vec<_> = ark_bn254::G2Projective::normalize_batch(
        &(0..150).map(|_| ark_bn254::G2Projective::rand(&mut rng)).collect::<Vec<_>>(),
    );
    let scalars: Vec<Fr> = (0..150).map(|_| Fr::rand(&mut rng)).collect();
    msm_g2(&bases, &scalars);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn msm_over_colliding_bases_and_edge_scalars(
        seed in 0u64..3,
        picks in proptest::collection::vec((0usize..64, 0usize..64, any::<[u8; 32]>(), 0u8..4), 1..48),
    ) {
        let (pool, edge) = pool_msm::<g1::Config>(seed);
        let bases: Vec<_> = picks.iter().map(|(b, _, _, _)| pool[b % pool.len()]).collect();
        let scalars: Vec<Fr> = picks
            .iter()
            .map(|(_, s, bytes, kind)| match kind {
                0 => Fr::from_le_bytes_mod_order(bytes),
                // Small signed scalars put many halves in the same low buckets.
                1 => Fr::from((s % 9) as u64) - Fr::from(4u64),
                _ => edge[s % edge.len()],
            })
            .collect();
        msm_g1(&bases, &scalars);
    }

    #[test]
    fn msm_g2_over_colliding_bases(
        picks in proptest::collection::vec((0usize..64, 0usize..64, 0u8..3), 1..16),
    ) {
        let (pool, edge) = pool_msm::<g2::Config>(1);
        let bases: Vec<_> = picks.iter().map(|(b, _, _)| pool[b % pool.len()]).collect();
        let scalars: Vec<Fr> = picks
            .iter()
            .map(|(_, s, kind)| if *kind == 0 { Fr::from((s % 5) as u64) - Fr::from(2u64) } else { edge[s % edge.len()] })
            .collect();
        msm_g2(&bases, &scalars);
    }
}
