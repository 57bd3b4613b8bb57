//! Poseidon on field elements: what the registry, the prover's witness builder and the auditor use.
//!
//! The registry hashes hundreds of thousands of nodes per epoch, so this twin is the optimised
//! form of the permutation from the Poseidon paper (appendix B), computed once from the plain
//! constants in [`super::params`]:
//!
//! * partial-round constants are folded forward: in a partial round only element 0 passes the
//!   S-box, so `M·S(x + c) = M·S(x + c₀e₀) + M·(0, c₁…)`, and the second term joins the next
//!   round's constants; partial rounds then add one scalar;
//! * the partial rounds' MDS matrix is factored `M = M'·M''` with `M' = diag(1, M̂)` (which
//!   commutes with a partial round, so it moves into the next round's matrix) and `M''` sparse
//!   (`2·width − 1` multiplications instead of `width²`); the last partial round keeps the dense
//!   accumulated matrix;
//! * dot products use arkworks' lazily reduced `sum_of_products`.
//!
//! [`hash_reference`] is the textbook permutation; the unit tests check both agree, and
//! `tests/poseidon_vectors.rs` checks against circomlibjs.

use super::params::{params, PoseidonParams, WIDTH_2, WIDTH_4};
use ark_bn254::Fr;
use ark_ff::{Field, One, Zero};
use std::sync::OnceLock;

fn sbox(x: &mut Fr) {
    let x2 = x.square();
    *x *= x2.square();
}

/// `PoseidonEx(inputs, initialState = domain)[0]` as in circomlib: the permutation of
/// `[domain, inputs…]`, returning the first state element. `inputs` must be 2 or 4 long.
pub fn hash(domain: Fr, inputs: &[Fr]) -> Fr {
    match inputs.len() {
        WIDTH_2 => optimized3().permute([domain, inputs[0], inputs[1]]),
        WIDTH_4 => optimized5().permute([domain, inputs[0], inputs[1], inputs[2], inputs[3]]),
        n => {
            // `params` refuses other arities with a clear message.
            let _ = params(n);
            unreachable!("params accepts only 2 or 4 inputs")
        }
    }
}

fn optimized3() -> &'static Optimized<3> {
    static O: OnceLock<Optimized<3>> = OnceLock::new();
    O.get_or_init(|| Optimized::new(params(WIDTH_2)))
}

fn optimized5() -> &'static Optimized<5> {
    static O: OnceLock<Optimized<5>> = OnceLock::new();
    O.get_or_init(|| Optimized::new(params(WIDTH_4)))
}

/// [`hash`]`(domain, x)` for every `x` of `inputs` (4 inputs each), in order: eight at a time
/// with AVX-512 IFMA where the CPU has it (see `ifma.rs`), one by one otherwise. Batch updates of
/// the registry tree hash hundreds of thousands of nodes through this.
pub fn hash4_many(domain: Fr, inputs: &[[Fr; WIDTH_4]]) -> Vec<Fr> {
    #[cfg(target_arch = "x86_64")]
    if inputs.len() > 1 && super::ifma::available() {
        return hash4_many_ifma(domain, inputs);
    }
    hash4_many_scalar(domain, inputs)
}

fn hash4_many_scalar(domain: Fr, inputs: &[[Fr; WIDTH_4]]) -> Vec<Fr> {
    let o = optimized5();
    inputs.iter().map(|x| o.permute([domain, x[0], x[1], x[2], x[3]])).collect()
}

#[cfg(target_arch = "x86_64")]
fn hash4_many_ifma(domain: Fr, inputs: &[[Fr; WIDTH_4]]) -> Vec<Fr> {
    static I: OnceLock<super::ifma::Ifma<5>> = OnceLock::new();
    let simd = I.get_or_init(|| super::ifma::Ifma::new(optimized5()));
    assert!(super::ifma::available(), "hash4_many_ifma needs AVX-512 IFMA");
    let mut out = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(8) {
        // A short last chunk repeats its last input in the spare lanes.
        let states: [[Fr; 5]; 8] = std::array::from_fn(|l| {
            let x = chunk[l.min(chunk.len() - 1)];
            [domain, x[0], x[1], x[2], x[3]]
        });
        // SAFETY: the CPU supports AVX-512F and IFMA (checked above).
        let hashes = unsafe { simd.permute8(&states) };
        out.extend_from_slice(&hashes[..chunk.len()]);
    }
    out
}

/// The textbook permutation, straight from the constants: the reference the optimised form is
/// tested against.
pub fn hash_reference(domain: Fr, inputs: &[Fr]) -> Fr {
    let p = params(inputs.len());
    let mut state = Vec::with_capacity(p.width);
    state.push(domain);
    state.extend_from_slice(inputs);
    let mut next = vec![Fr::from(0u64); p.width];
    for r in 0..p.rounds() {
        for (s, c) in state.iter_mut().zip(&p.ark[r]) {
            *s += c;
        }
        if p.is_full_round(r) {
            state.iter_mut().for_each(sbox);
        } else {
            sbox(&mut state[0]);
        }
        for (n, row) in next.iter_mut().zip(&p.mds) {
            *n = row.iter().zip(&state).map(|(m, s)| *m * s).sum();
        }
        std::mem::swap(&mut state, &mut next);
    }
    state[0]
}

type Matrix<const W: usize> = [[Fr; W]; W];

/// The optimised constants of one width.
pub(super) struct Optimized<const W: usize> {
    pub(super) mds: Matrix<W>,
    /// Round constants of the first half of the full rounds.
    pub(super) first_full: Vec<[Fr; W]>,
    /// One scalar per partial round, added to element 0.
    pub(super) partial: Vec<Fr>,
    /// For each partial round but the last: `M''` as its first row and its first column
    /// (element 0 of the column unused).
    pub(super) sparse: Vec<([Fr; W], [Fr; W])>,
    /// The last partial round's dense matrix.
    pub(super) last_partial: Matrix<W>,
    /// Round constants of the second half of the full rounds (the first absorbs the folded
    /// partial-round constants).
    pub(super) last_full: Vec<[Fr; W]>,
}

fn mat_mul<const W: usize>(a: &Matrix<W>, b: &Matrix<W>) -> Matrix<W> {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..W).map(|k| a[i][k] * b[k][j]).sum()))
}

fn mat_vec<const W: usize>(m: &Matrix<W>, x: &[Fr; W]) -> [Fr; W] {
    std::array::from_fn(|i| Fr::sum_of_products(&m[i], x))
}

/// Inverse of the lower-right `(W−1)×(W−1)` block of `m`, as the same block of a `W×W` matrix
/// (Gauss–Jordan; the block of an MDS matrix, and its products with invertible blocks, is
/// invertible).
fn inverse_hat<const W: usize>(m: &Matrix<W>) -> Matrix<W> {
    let n = W - 1;
    let mut a: Vec<Vec<Fr>> = (0..n).map(|i| (0..n).map(|j| m[i + 1][j + 1]).collect()).collect();
    let mut inv: Vec<Vec<Fr>> =
        (0..n).map(|i| (0..n).map(|j| if i == j { Fr::one() } else { Fr::zero() }).collect()).collect();
    for col in 0..n {
        let pivot = (col..n).find(|&r| !a[r][col].is_zero()).expect("MDS sub-matrix is invertible");
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let p = a[col][col].inverse().expect("non-zero pivot");
        for j in 0..n {
            a[col][j] *= p;
            inv[col][j] *= p;
        }
        for r in 0..n {
            if r != col && !a[r][col].is_zero() {
                let f = a[r][col];
                for j in 0..n {
                    let (ac, ic) = (a[col][j], inv[col][j]);
                    a[r][j] -= f * ac;
                    inv[r][j] -= f * ic;
                }
            }
        }
    }
    let mut out = [[Fr::zero(); W]; W];
    for i in 0..n {
        for j in 0..n {
            out[i + 1][j + 1] = inv[i][j];
        }
    }
    out
}

impl<const W: usize> Optimized<W> {
    fn new(p: &PoseidonParams) -> Self {
        assert_eq!(p.width, W);
        let mds: Matrix<W> = std::array::from_fn(|i| std::array::from_fn(|j| p.mds[i][j]));
        let mut ark: Vec<[Fr; W]> = p.ark.iter().map(|r| std::array::from_fn(|i| r[i])).collect();
        let half = p.full_rounds / 2;
        let (first_partial, end_partial) = (half, half + p.partial_rounds);

        // Fold the partial rounds' constants on elements 1.. forward.
        let mut partial = Vec::with_capacity(p.partial_rounds);
        for r in first_partial..end_partial {
            let mut rest = ark[r];
            rest[0] = Fr::zero();
            partial.push(ark[r][0]);
            let pushed = mat_vec(&mds, &rest);
            for (c, d) in ark[r + 1].iter_mut().zip(pushed) {
                *c += d;
            }
        }

        // Factor the partial rounds' matrices, moving each M' into the next round.
        let mut acc = mds;
        let mut sparse = Vec::with_capacity(p.partial_rounds - 1);
        for _ in 0..p.partial_rounds - 1 {
            // acc = [[a, vᵀ], [c, Â]] = diag(1, Â) · [[a, vᵀ], [Â⁻¹c, I]].
            let inv = inverse_hat(&acc);
            let row0 = acc[0];
            let mut col = [Fr::zero(); W];
            for (i, slot) in col.iter_mut().enumerate().skip(1) {
                *slot = (1..W).map(|k| inv[i][k] * acc[k][0]).sum();
            }
            sparse.push((row0, col));
            let mut m_prime = [[Fr::zero(); W]; W];
            m_prime[0][0] = Fr::one();
            for (i, row) in m_prime.iter_mut().enumerate().skip(1) {
                row[1..].copy_from_slice(&acc[i][1..]);
            }
            acc = mat_mul(&mds, &m_prime);
        }

        Self {
            mds,
            first_full: ark[..first_partial].to_vec(),
            partial,
            sparse,
            last_partial: acc,
            last_full: ark[end_partial..].to_vec(),
        }
    }

    fn full_round(&self, x: &mut [Fr; W], c: &[Fr; W]) {
        for (s, c) in x.iter_mut().zip(c) {
            *s += c;
            sbox(s);
        }
        *x = mat_vec(&self.mds, x);
    }

    fn permute(&self, mut x: [Fr; W]) -> Fr {
        for c in &self.first_full {
            self.full_round(&mut x, c);
        }
        let last = self.partial.len() - 1;
        for (r, k) in self.partial.iter().enumerate() {
            x[0] += k;
            sbox(&mut x[0]);
            if r < last {
                let (row0, col) = &self.sparse[r];
                let x0 = x[0];
                let y0 = Fr::sum_of_products(row0, &x);
                for i in 1..W {
                    x[i] += col[i] * x0;
                }
                x[0] = y0;
            } else {
                x = mat_vec(&self.last_partial, &x);
            }
        }
        for c in &self.last_full {
            self.full_round(&mut x, c);
        }
        x[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimised_matches_the_reference() {
        let mut x = Fr::from(12345u64);
        for i in 0..50u64 {
            x = x.square() + Fr::from(i);
            let two = [x, x + Fr::one()];
            assert_eq!(hash(Fr::from(i), &two), hash_reference(Fr::from(i), &two));
            let four = [x, -x, x + x, Fr::from(i)];
            assert_eq!(hash(x, &four), hash_reference(x, &four));
        }
        let m = -Fr::one();
        assert_eq!(hash(m, &[m, m, m, m]), hash_reference(m, &[m, m, m, m]));
        assert_eq!(hash(Fr::zero(), &[Fr::zero(); 2]), hash_reference(Fr::zero(), &[Fr::zero(); 2]));
    }

    /// Inputs for the batch tests: pseudo-random elements and the edge values 0, 1, p − 1.
    fn batch_inputs(n: usize) -> Vec<[Fr; 4]> {
        let mut x = Fr::from(987_654_321u64);
        let edges = [Fr::zero(), Fr::one(), -Fr::one(), -Fr::from(2u64)];
        (0..n)
            .map(|i| {
                std::array::from_fn(|j| {
                    x = x.square() + Fr::from(j as u64 + 1);
                    if (i + j) % 7 == 0 {
                        edges[(i + j) % 4]
                    } else {
                        x
                    }
                })
            })
            .collect()
    }

    #[test]
    fn batch_matches_one_by_one() {
        for n in [0, 1, 2, 7, 8, 9, 33] {
            let inputs = batch_inputs(n);
            let expected: Vec<Fr> = inputs.iter().map(|x| hash(Fr::from(4u64), x)).collect();
            assert_eq!(hash4_many(Fr::from(4u64), &inputs), expected, "{n} inputs");
            assert_eq!(hash4_many_scalar(Fr::from(4u64), &inputs), expected);
        }
        let edge = [[-Fr::one(); 4]; 8];
        assert_eq!(hash4_many(-Fr::one(), &edge), vec![hash(-Fr::one(), &edge[0]); 8]);
    }

    /// The IFMA permutation against the scalar one on many inputs (skipped, with a note, on a
    /// CPU without AVX-512 IFMA).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn ifma_matches_scalar() {
        if !super::super::ifma::available() {
            eprintln!("no AVX-512 IFMA on this CPU: the eight-lane permutation is not tested here");
            return;
        }
        let inputs = batch_inputs(2_000);
        for domain in [Fr::zero(), Fr::from(3u64), Fr::from(4u64), -Fr::one()] {
            assert_eq!(hash4_many_ifma(domain, &inputs), hash4_many_scalar(domain, &inputs));
        }
    }

    /// The IFMA permutation on adversarial states: elements that make the first S-box input exactly
    /// `p` (a non-canonical zero) or just around it, all `p − 1`, small powers of two, and many
    /// random states, every lane different; against the scalar permutation and the textbook one.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn ifma_matches_scalar_on_adversarial_states() {
        use ark_ff::UniformRand;
        use ark_std::rand::{rngs::StdRng, SeedableRng};
        if !super::super::ifma::available() {
            eprintln!("no AVX-512 IFMA on this CPU: the eight-lane permutation is not tested here");
            return;
        }
        let c = optimized5().first_full[0];
        let m = -Fr::one();
        let mut states: Vec<[Fr; 5]> = vec![[m; 5], [Fr::zero(); 5], [-Fr::from(2u64); 5]];
        for d in [-2i64, -1, 0, 1, 2] {
            let d = Fr::from(d);
            states.push(std::array::from_fn(|i| -c[i] + d));
            states.push(std::array::from_fn(|i| if i % 2 == 0 { -c[i] + d } else { m }));
        }
        for k in [1u32, 52, 64, 104, 128, 200, 253] {
            states.push([Fr::from(2u64).pow([u64::from(k)]); 5]);
            states.push(std::array::from_fn(|i| m - Fr::from(2u64).pow([u64::from(k) + i as u64])));
        }
        let mut rng = StdRng::seed_from_u64(99);
        states.extend((0..4_000).map(|_| std::array::from_fn(|_| Fr::rand(&mut rng))));
        // Eight full states at a time (element 0 adversarial too), lanes all different.
        let simd = super::super::ifma::Ifma::new(optimized5());
        for (n, chunk) in states.chunks(8).enumerate() {
            let lanes: [[Fr; 5]; 8] = std::array::from_fn(|l| chunk[(l * 5 + n) % chunk.len()]);
            // SAFETY: the CPU has AVX-512F and IFMA (checked above).
            let got = unsafe { simd.permute8(&lanes) };
            for (s, h) in lanes.iter().zip(got) {
                assert_eq!(h, optimized5().permute(*s), "state {s:?}");
                if n < 6 {
                    assert_eq!(h, hash_reference(s[0], &s[1..]), "state {s:?}");
                }
            }
        }
        // Through `hash4_many` with shared domains, short last chunk included.
        for domain in [m, -c[0], Fr::zero()] {
            let inputs: Vec<[Fr; 4]> = states.iter().take(1_003).map(|s| [s[1], s[2], s[3], s[4]]).collect();
            assert_eq!(hash4_many(domain, &inputs), hash4_many_scalar(domain, &inputs));
        }
    }
}
