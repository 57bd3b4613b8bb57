//! The initial `.zkey` of a circuit, built from a prepared `.ptau` exactly as snarkjs's
//! `groth16 setup` (`zkey new`) builds it — same sections, same bytes, same circuit hash — so a
//! ceremony started here continues in snarkjs and the other way round.
//!
//! With the QAP over the domain of size `n = 2^k ≥ constraints + public + 1` (the extra rows put
//! each public input in A, as arkworks also does), each query is a sum of Lagrange points:
//! `A_s = Σ a_cs·L_c(τ)`, `B_s = Σ b_cs·L_c(τ)` in G1 and G2, and for the IC (public `s`) and
//! C (private `s`) queries `β·a_s(τ) + α·b_s(τ) + c_s(τ)`. δ starts at 1; H holds the odd
//! Lagrange points of the 2n domain — the circom-style quotient, evaluated on the odd coset.

use crate::binfile::FormatError;
use crate::ffjs::{g1_uncompressed_be as g1_uncompressed, g2_uncompressed_be as g2_uncompressed};
use crate::ptau::{Phase1Secrets, Ptau};
use crate::r1cs::R1cs;
use crate::zkey::{Coefficient, Hash64, MpcParams, Zkey};
use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup, ScalarMul, VariableBaseMSM};
use ark_ff::{One, PrimeField, Zero};
use blake2::{Blake2b512, Digest};
use rayon::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0}")]
    Format(#[from] FormatError),
    #[error("the circuit needs a domain of 2^{needed} points; the .ptau has power {power} (use a .ptau of power {needed} or more)")]
    PtauTooSmall { needed: u32, power: u32 },
}

/// `k` with `2^k ≥ constraints + public inputs + 1`: the QAP domain snarkjs uses.
pub fn circuit_power(r: &R1cs) -> u32 {
    let rows = r.constraints.len() as u64 + r.public() as u64 + 1;
    (64 - (rows - 1).leading_zeros()).max(1)
}

/// Which Lagrange basis a term of the IC/C queries uses.
#[derive(Clone, Copy)]
enum Basis {
    Tau,
    AlphaTau,
    BetaTau,
}

/// `Σ coefficient·base`, serially: the callers run one sum per wire in parallel, and a parallel
/// MSM nested in each would let rayon's work stealing stack thousands of frames on one thread.
///
/// A wire's column holds few distinct coefficients (the MDS constants of Poseidon, powers of two
/// of bit decompositions, ±1), so bases with equal coefficients are added first and each distinct
/// coefficient multiplies once; a coefficient that is small up to sign costs only its bit length.
///
/// A column with many distinct large coefficients (wires inside Poseidon's partial rounds) goes
/// to a Pippenger MSM instead; [`per_wire`] runs those outside the parallel loop.
fn sum<P: SWCurveConfig<ScalarField = Fr>>(mut terms: Vec<(Fr, Affine<P>)>) -> Projective<P> {
    terms.sort_unstable_by_key(|a| a.0);
    let mut acc = Projective::<P>::zero();
    let (mut big_bases, mut big_scalars) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < terms.len() {
        let k = terms[i].0;
        let mut group = Projective::<P>::zero();
        while i < terms.len() && terms[i].0 == k {
            group += terms[i].1;
            i += 1;
        }
        if is_small(k) || is_small(-k) {
            acc += times(group, k);
        } else {
            big_bases.push(group);
            big_scalars.push(k);
        }
    }
    if big_bases.len() < MSM_THRESHOLD {
        for (b, k) in big_bases.iter().zip(&big_scalars) {
            acc += *b * k;
        }
    } else {
        let bases = Projective::<P>::normalize_batch(&big_bases);
        acc += Projective::<P>::msm_unchecked(&bases, &big_scalars);
    }
    acc
}

/// Distinct large coefficients from which a column's sum is an MSM.
const MSM_THRESHOLD: usize = 48;

fn is_small(k: Fr) -> bool {
    let b = k.into_bigint();
    b.0[2] == 0 && b.0[3] == 0
}

/// One sum per wire: wide columns one after the other (each MSM is parallel inside), the many
/// narrow ones in parallel (each serial inside).
fn per_wire<G: Send + Sync + Copy + Default>(
    terms: &Terms,
    f: impl Fn(&[(Basis, usize, Fr)]) -> G + Sync,
) -> Vec<G> {
    let wide = |t: &Vec<(Basis, usize, Fr)>| t.len() >= 4 * MSM_THRESHOLD;
    let mut out: Vec<G> = terms.par_iter().map(|t| if wide(t) { G::default() } else { f(t) }).collect();
    for (o, t) in out.iter_mut().zip(terms) {
        if wide(t) {
            *o = f(t);
        }
    }
    out
}

/// `p·k`, by double-and-add over `k` or `−k` when either fits in 128 bits.
fn times<P: SWCurveConfig<ScalarField = Fr>>(p: Projective<P>, k: Fr) -> Projective<P> {
    let small = |x: Fr| {
        let b = x.into_bigint();
        (b.0[2] == 0 && b.0[3] == 0).then_some(b)
    };
    let double_and_add = |b: ark_ff::BigInt<4>| {
        let mut r = Projective::<P>::zero();
        for bit in ark_ff::BitIteratorBE::without_leading_zeros(b) {
            r.double_in_place();
            if bit {
                r += p;
            }
        }
        r
    };
    if let Some(b) = small(k) {
        double_and_add(b)
    } else if let Some(b) = small(-k) {
        -double_and_add(b)
    } else {
        p * k
    }
}

fn sum_g1(
    terms: &[(Basis, usize, Fr)],
    tau: &[G1Affine],
    alpha: &[G1Affine],
    beta: &[G1Affine],
) -> G1Projective {
    sum(terms
        .iter()
        .map(|(b, i, k)| {
            let base = match b {
                Basis::Tau => tau[*i],
                Basis::AlphaTau => alpha[*i],
                Basis::BetaTau => beta[*i],
            };
            (*k, base)
        })
        .collect())
}

fn sum_g2(terms: &[(Basis, usize, Fr)], tau: &[G2Affine]) -> G2Projective {
    sum(terms.iter().map(|(_, i, k)| (*k, tau[*i])).collect())
}

type Terms = Vec<Vec<(Basis, usize, Fr)>>;

/// The circuit's queries as sums over Lagrange points, and section 4's coefficients.
struct Layout {
    n_vars: usize,
    n_public: usize,
    a: Terms,
    b: Terms,
    /// IC for the constant and the public inputs, C after them.
    ic_c: Terms,
    coefficients: Vec<Coefficient>,
}

fn layout(r: &R1cs) -> Layout {
    let n_vars = r.wires as usize;
    let n_public = r.public() as usize;
    let m = r.constraints.len();
    let (mut a, mut b, mut ic_c): (Terms, Terms, Terms) =
        (vec![Vec::new(); n_vars], vec![Vec::new(); n_vars], vec![Vec::new(); n_vars]);
    let mut coefficients = Vec::new();
    for (c, [ca, cb, cc]) in r.constraints.iter().enumerate() {
        for &(s, v) in ca {
            a[s as usize].push((Basis::Tau, c, v));
            ic_c[s as usize].push((Basis::BetaTau, c, v));
            coefficients.push(Coefficient { matrix: 0, constraint: c as u32, signal: s, value: v });
        }
        for &(s, v) in cb {
            b[s as usize].push((Basis::Tau, c, v));
            ic_c[s as usize].push((Basis::AlphaTau, c, v));
            coefficients.push(Coefficient { matrix: 1, constraint: c as u32, signal: s, value: v });
        }
        for &(s, v) in cc {
            ic_c[s as usize].push((Basis::Tau, c, v));
        }
    }
    // Each public input (and the constant) also stands alone in A, in a row after the constraints.
    for s in 0..=n_public {
        a[s].push((Basis::Tau, m + s, Fr::one()));
        ic_c[s].push((Basis::BetaTau, m + s, Fr::one()));
        coefficients.push(Coefficient {
            matrix: 0,
            constraint: (m + s) as u32,
            signal: s as u32,
            value: Fr::one(),
        });
    }
    Layout { n_vars, n_public, a, b, ic_c, coefficients }
}

/// The points of an initial key, however they were computed.
struct Points {
    alpha_g1: G1Affine,
    beta_g1: G1Affine,
    beta_g2: G2Affine,
    ic_c: Vec<G1Affine>,
    a: Vec<G1Affine>,
    b_g1: Vec<G1Affine>,
    b_g2: Vec<G2Affine>,
    h: Vec<G1Affine>,
    /// `τⁱ(τⁿ − 1)·G1` for `i < n − 1`: H in monomial form, for the circuit hash.
    h_monomial: Vec<G1Affine>,
}

fn assemble(l: Layout, mut p: Points, domain_size: usize) -> Zkey {
    let c = p.ic_c.split_off(l.n_public + 1);
    let ic = p.ic_c;
    let cs_hash = circuit_hash(&CircuitHashInput {
        alpha_g1: p.alpha_g1,
        beta_g1: p.beta_g1,
        beta_g2: p.beta_g2,
        ic: &ic,
        h_monomial: &p.h_monomial,
        c: &c,
        a: &p.a,
        b_g1: &p.b_g1,
        b_g2: &p.b_g2,
    });
    Zkey {
        n_vars: l.n_vars as u32,
        n_public: l.n_public as u32,
        domain_size: domain_size as u32,
        alpha_g1: p.alpha_g1,
        beta_g1: p.beta_g1,
        beta_g2: p.beta_g2,
        gamma_g2: G2Affine::generator(),
        delta_g1: G1Affine::generator(),
        delta_g2: G2Affine::generator(),
        ic,
        coefficients: l.coefficients,
        a: p.a,
        b_g1: p.b_g1,
        b_g2: p.b_g2,
        c,
        h: p.h,
        mpc: MpcParams { cs_hash, contributions: Vec::new() },
    }
}

/// Builds the initial key (no contribution yet: δ = 1) from a prepared `.ptau`.
pub fn init(r: &R1cs, ptau: &Ptau<'_>) -> Result<Zkey, InitError> {
    let k = circuit_power(r);
    if k > ptau.power {
        return Err(InitError::PtauTooSmall { needed: k, power: ptau.power });
    }
    let n = 1usize << k;
    let lag_tau = ptau.lagrange_tau_g1(k)?;
    let lag_tau2 = ptau.lagrange_tau_g2(k)?;
    let lag_alpha = ptau.lagrange_alpha_tau_g1(k)?;
    let lag_beta = ptau.lagrange_beta_tau_g1(k)?;
    let l = layout(r);
    let g1 = |t: &Terms| {
        G1Projective::normalize_batch(&per_wire(t, |t| sum_g1(t, &lag_tau, &lag_alpha, &lag_beta)))
    };
    let b_g2 = G2Projective::normalize_batch(&per_wire(&l.b, |t| sum_g2(t, &lag_tau2)));
    let tau_g1 = ptau.tau_g1(2 * n - 1)?;
    let hz: Vec<G1Projective> =
        (0..n - 1).into_par_iter().map(|i| tau_g1[i + n].into_group() - tau_g1[i]).collect();
    let points = Points {
        alpha_g1: ptau.alpha_g1()?,
        beta_g1: ptau.beta_g1()?,
        beta_g2: ptau.beta_g2()?,
        ic_c: g1(&l.ic_c),
        a: g1(&l.a),
        b_g1: g1(&l.b),
        b_g2,
        h: ptau.lagrange_tau_g1(k + 1)?.into_iter().skip(1).step_by(2).collect(),
        h_monomial: G1Projective::normalize_batch(&hz),
    };
    Ok(assemble(l, points, n))
}

/// The same initial key from phase-1 secrets known in the clear — the development setup's fast
/// path (field arithmetic and one fixed-base multiplication per point instead of sums of
/// points). Tests check it equals [`init`] over [`crate::ptau::generate`] of the same secrets.
pub fn init_from_secrets(r: &R1cs, s: &Phase1Secrets) -> Zkey {
    let k = circuit_power(r);
    let n = 1usize << k;
    let powers: Vec<Fr> = std::iter::successors(Some(Fr::one()), |x| Some(*x * s.tau)).take(2 * n).collect();
    let lag = crate::ptau::lagrange_scalars(&powers, k, n);
    let l = layout(r);
    let eval = |t: &[(Basis, usize, Fr)]| {
        t.iter()
            .map(|(b, i, c)| {
                let base = match b {
                    Basis::Tau => lag[*i],
                    Basis::AlphaTau => s.alpha * lag[*i],
                    Basis::BetaTau => s.beta * lag[*i],
                };
                base * c
            })
            .sum::<Fr>()
    };
    let scalars = |t: &Terms| t.iter().map(|t| eval(t)).collect::<Vec<Fr>>();
    let (g1, g2) = (G1Projective::from(G1Affine::generator()), G2Projective::from(G2Affine::generator()));
    let b = scalars(&l.b);
    let hz: Vec<Fr> = (0..n - 1).map(|i| powers[i + n] - powers[i]).collect();
    let top = crate::ptau::lagrange_scalars(&powers, k + 1, 2 * n - 1);
    let h: Vec<Fr> = top.into_iter().skip(1).step_by(2).collect();
    let points = Points {
        alpha_g1: (g1 * s.alpha).into_affine(),
        beta_g1: (g1 * s.beta).into_affine(),
        beta_g2: (g2 * s.beta).into_affine(),
        ic_c: g1.batch_mul(&scalars(&l.ic_c)),
        a: g1.batch_mul(&scalars(&l.a)),
        b_g1: g1.batch_mul(&b),
        b_g2: g2.batch_mul(&b),
        h: g1.batch_mul(&h),
        h_monomial: g1.batch_mul(&hz),
    };
    assemble(l, points, n)
}

struct CircuitHashInput<'a> {
    alpha_g1: G1Affine,
    beta_g1: G1Affine,
    beta_g2: G2Affine,
    ic: &'a [G1Affine],
    h_monomial: &'a [G1Affine],
    c: &'a [G1Affine],
    a: &'a [G1Affine],
    b_g1: &'a [G1Affine],
    b_g2: &'a [G2Affine],
}

/// snarkjs's circuit hash: Blake2b-512 over the initial key, each query preceded by its length
/// (big-endian u32), H in its monomial form `τⁱ(τⁿ − 1)`, i < n − 1.
fn circuit_hash(x: &CircuitHashInput<'_>) -> Hash64 {
    let mut h = Blake2b512::new();
    h.update(g1_uncompressed(&x.alpha_g1));
    h.update(g1_uncompressed(&x.beta_g1));
    h.update(g2_uncompressed(&x.beta_g2));
    h.update(g2_uncompressed(&G2Affine::generator()));
    h.update(g1_uncompressed(&G1Affine::generator()));
    h.update(g2_uncompressed(&G2Affine::generator()));
    let g1s = |h: &mut Blake2b512, v: &[G1Affine]| {
        h.update((v.len() as u32).to_be_bytes());
        v.iter().for_each(|p| h.update(g1_uncompressed(p)));
    };
    g1s(&mut h, x.ic);
    g1s(&mut h, x.h_monomial);
    g1s(&mut h, x.c);
    g1s(&mut h, x.a);
    g1s(&mut h, x.b_g1);
    h.update((x.b_g2.len() as u32).to_be_bytes());
    x.b_g2.iter().for_each(|p| h.update(g2_uncompressed(p)));
    h.finalize().into()
}
