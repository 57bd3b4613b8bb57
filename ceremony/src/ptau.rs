//! Phase 1: snarkjs's `.ptau` (powers of tau), read, checked and — for development — made.
//!
//! | section | content (N = 2^power) |
//! |---|---|
//! | 1 | `n8`, q, `power`, `ceremonyPower` |
//! | 2 | τⁱ·G1, i < 2N − 1 |
//! | 3 | τⁱ·G2, i < N |
//! | 4, 5 | ατⁱ·G1, βτⁱ·G1, i < N |
//! | 6 | β·G2 |
//! | 7 | the phase-1 contributions |
//! | 12 | Lagrange τ·G1 for every domain 2^k, k ≤ power + 1 (`prepare phase2`) |
//! | 13, 14, 15 | the same for τ·G2, ατ·G1, βτ·G1, k ≤ power |
//!
//! Sections 12–15 are derived data, and phase 2 is built from them, so [`check`] verifies them
//! against sections 2–5 as well as the powers against each other — with random linear
//! combinations (one multi-scalar multiplication and at most one pairing per check), so a
//! 2^13 file checks in about a second.

use crate::binfile::{BinFile, FormatError};
use crate::encoding::{self, g1_to_lem, g2_to_lem, G1_BYTES, G2_BYTES};
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, ScalarMul, VariableBaseMSM};
use ark_ff::{One, UniformRand, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use ark_std::rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// BN254's scalar field has 2-adicity 28: the largest FFT domain.
pub const MAX_POWER: u32 = 27;

/// Published SHA-256 hashes of the Hermez ceremony's final files (Perpetual Powers of Tau,
/// finalised by Polygon Hermez with a beacon), as listed in snarkjs's README.
pub const HERMEZ_FINAL: &[(u32, &str)] =
    &[(13, "95751b5207f20aa822f01109902315c01c15250303feacea2b8aa7dc9fdfeefd")];

/// A parsed `.ptau` whose points are decoded on demand.
pub struct Ptau<'a> {
    file: BinFile<'a>,
    pub power: u32,
    pub ceremony_power: u32,
    /// SHA-256 of the whole file.
    pub sha256: [u8; 32],
    pub contributions: Vec<Phase1Contribution>,
}

/// What section 7 says about one phase-1 contribution.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Phase1Contribution {
    pub name: Option<String>,
    pub beacon: bool,
}

/// Section ids.
const TAU_G1: u32 = 2;
const TAU_G2: u32 = 3;
const ALPHA_TAU_G1: u32 = 4;
const BETA_TAU_G1: u32 = 5;
const BETA_G2: u32 = 6;
const CONTRIBUTIONS: u32 = 7;
const LAGRANGE_TAU_G1: u32 = 12;
const LAGRANGE_TAU_G2: u32 = 13;
const LAGRANGE_ALPHA_TAU_G1: u32 = 14;
const LAGRANGE_BETA_TAU_G1: u32 = 15;

/// Bytes of a phase-1 contribution before its type: five points, the nine-point public key,
/// the partial hash and the next challenge.
const PHASE1_FIXED: usize = 64 + 128 + 64 + 64 + 128 + 6 * 64 + 3 * 128 + 216 + 64;

fn level_offset(k: u32) -> usize {
    (1usize << k) - 1
}

impl<'a> Ptau<'a> {
    /// Parses the header and checks every section's size. Prepared sections (12–15) are required:
    /// phase 2 is built from them.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let file = BinFile::parse(bytes, "ptau", 1)?;
        let mut h = file.section(1)?;
        h.expect_prime(&encoding::q_le(), "the base field's modulus")?;
        let power = h.u32()?;
        let ceremony_power = h.u32()?;
        if power == 0 || power > MAX_POWER {
            return Err(h.err(format!("power {power} is outside 1..={MAX_POWER}")));
        }
        h.finish()?;
        let n = 1usize << power;
        let sizes = [
            (TAU_G1, (2 * n - 1) * G1_BYTES),
            (TAU_G2, n * G2_BYTES),
            (ALPHA_TAU_G1, n * G1_BYTES),
            (BETA_TAU_G1, n * G1_BYTES),
            (BETA_G2, G2_BYTES),
            (LAGRANGE_TAU_G1, level_offset(power + 2) * G1_BYTES),
            (LAGRANGE_TAU_G2, level_offset(power + 1) * G2_BYTES),
            (LAGRANGE_ALPHA_TAU_G1, level_offset(power + 1) * G1_BYTES),
            (LAGRANGE_BETA_TAU_G1, level_offset(power + 1) * G1_BYTES),
        ];
        for (id, size) in sizes {
            if id >= LAGRANGE_TAU_G1 && !file.has(id) {
                return Err(FormatError {
                    kind: "ptau",
                    section: Some(id),
                    offset: 0,
                    message:
                        "missing: the file is not prepared for phase 2 (snarkjs powersoftau prepare phase2)"
                            .into(),
                });
            }
            let r = file.section(id)?;
            if r.len() != size {
                return Err(r.err(format!("{} bytes; power {power} needs {size}", r.len())));
            }
        }
        let contributions = parse_contributions(&file)?;
        Ok(Self { file, power, ceremony_power, sha256: Sha256::digest(bytes).into(), contributions })
    }

    fn g1s(&self, id: u32, start: usize, count: usize, what: &str) -> Result<Vec<G1Affine>, FormatError> {
        let mut r = self.file.section(id)?;
        r.bytes(start * G1_BYTES)?;
        r.g1s(count, what)
    }

    fn g2s(&self, id: u32, start: usize, count: usize, what: &str) -> Result<Vec<G2Affine>, FormatError> {
        let mut r = self.file.section(id)?;
        r.bytes(start * G2_BYTES)?;
        r.g2s(count, what)
    }

    /// τⁱ·G1 for `i < count`.
    pub fn tau_g1(&self, count: usize) -> Result<Vec<G1Affine>, FormatError> {
        self.g1s(TAU_G1, 0, count, "tauG1")
    }

    /// The Lagrange basis at τ over the domain of size 2^k, in G1 (`k ≤ power + 1`).
    pub fn lagrange_tau_g1(&self, k: u32) -> Result<Vec<G1Affine>, FormatError> {
        self.g1s(LAGRANGE_TAU_G1, level_offset(k), 1 << k, "lagrange tauG1")
    }

    pub fn lagrange_tau_g2(&self, k: u32) -> Result<Vec<G2Affine>, FormatError> {
        self.g2s(LAGRANGE_TAU_G2, level_offset(k), 1 << k, "lagrange tauG2")
    }

    pub fn lagrange_alpha_tau_g1(&self, k: u32) -> Result<Vec<G1Affine>, FormatError> {
        self.g1s(LAGRANGE_ALPHA_TAU_G1, level_offset(k), 1 << k, "lagrange alphaTauG1")
    }

    pub fn lagrange_beta_tau_g1(&self, k: u32) -> Result<Vec<G1Affine>, FormatError> {
        self.g1s(LAGRANGE_BETA_TAU_G1, level_offset(k), 1 << k, "lagrange betaTauG1")
    }

    pub fn alpha_g1(&self) -> Result<G1Affine, FormatError> {
        Ok(self.g1s(ALPHA_TAU_G1, 0, 1, "alphaTauG1")?[0])
    }

    pub fn beta_g1(&self) -> Result<G1Affine, FormatError> {
        Ok(self.g1s(BETA_TAU_G1, 0, 1, "betaTauG1")?[0])
    }

    pub fn beta_g2(&self) -> Result<G2Affine, FormatError> {
        Ok(self.g2s(BETA_G2, 0, 1, "betaG2")?[0])
    }

    /// The Hermez file this is, by its published hash, if any.
    pub fn pinned_as(&self) -> Option<String> {
        let hex = hex::encode(self.sha256);
        HERMEZ_FINAL
            .iter()
            .find(|(_, h)| *h == hex)
            .map(|(p, _)| format!("powersOfTau28_hez_final_{p:02}.ptau (Hermez, published SHA-256)"))
    }
}

fn parse_contributions(file: &BinFile<'_>) -> Result<Vec<Phase1Contribution>, FormatError> {
    let mut r = file.section(CONTRIBUTIONS)?;
    let n = r.u32()?;
    r.expect_items(n as u64, PHASE1_FIXED + 8, "contributions")?;
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        r.bytes(PHASE1_FIXED)?;
        let kind = r.u32()?;
        let len = r.u32()? as usize;
        let mut p = r.bytes(len)?;
        let mut name = None;
        while let Some((&tag, rest)) = p.split_first() {
            let Some((&l, rest)) = rest.split_first() else {
                return Err(r.err("truncated contribution parameter"));
            };
            let l = if tag == 2 { 0 } else { l as usize };
            if rest.len() < l {
                return Err(r.err("truncated contribution parameter"));
            }
            if tag == 1 {
                name = Some(String::from_utf8_lossy(&rest[..l]).into_owned());
            }
            p = &rest[l..];
        }
        out.push(Phase1Contribution { name, beacon: kind == 1 });
    }
    r.finish()?;
    Ok(out)
}

/// What [`check`] found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PtauReport {
    pub power: u32,
    pub sha256: String,
    pub pinned: Option<String>,
    pub contributions: Vec<Phase1Contribution>,
    /// Each failed check, named.
    pub failures: Vec<String>,
}

/// `e(a1, b2) = e(b1, a2)`: `b1/a1 = b2/a2` in the exponent (snarkjs's `sameRatio`).
pub fn same_ratio(a1: G1Affine, b1: G1Affine, a2: G2Affine, b2: G2Affine) -> bool {
    Bn254::multi_pairing([a1, -b1], [b2, a2]).is_zero()
}

fn random_scalars<R: RngCore>(n: usize, rng: &mut R) -> Vec<Fr> {
    (0..n).map(|_| Fr::rand(rng)).collect()
}

fn msm1(bases: &[G1Affine], s: &[Fr]) -> G1Affine {
    G1Projective::msm_unchecked(bases, s).into_affine()
}

fn msm2(bases: &[G2Affine], s: &[Fr]) -> G2Affine {
    G2Projective::msm_unchecked(bases, s).into_affine()
}

/// Checks a `.ptau` up to `needed` (the power the circuit needs, or the file's): every point
/// decodes (on its curve, in its subgroup), the powers are consistent (`τⁱ⁺¹/τⁱ` the same
/// throughout, α and β the same across powers), the first points are the generators, and each
/// Lagrange level used is the inverse FFT of the powers. Errors only for unreadable input.
pub fn check<R: RngCore + CryptoRng>(
    ptau: &Ptau<'_>,
    needed: u32,
    rng: &mut R,
) -> Result<PtauReport, FormatError> {
    let mut report = PtauReport {
        power: ptau.power,
        sha256: hex::encode(ptau.sha256),
        pinned: ptau.pinned_as(),
        contributions: ptau.contributions.clone(),
        failures: Vec::new(),
    };
    if needed > ptau.power {
        report.failures.push(format!(
            "power {} is too small: the circuit needs 2^{needed} (snarkjs powersoftau new bn128 {needed})",
            ptau.power
        ));
        return Ok(report);
    }
    let n = 1usize << needed;
    // Section 12's top level uses τⁱ for i < 2n − 1, available whenever needed ≤ power.
    let tau_g1 = ptau.g1s(TAU_G1, 0, 2 * n - 1, "tauG1")?;
    let tau_g2 = ptau.g2s(TAU_G2, 0, n, "tauG2")?;
    let alpha = ptau.g1s(ALPHA_TAU_G1, 0, n, "alphaTauG1")?;
    let beta = ptau.g1s(BETA_TAU_G1, 0, n, "betaTauG1")?;
    let beta_g2 = ptau.beta_g2()?;
    let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
    let mut fail = |ok: bool, what: &str| {
        if !ok {
            report.failures.push(what.to_string());
        }
    };
    fail(tau_g1[0] == g1, "tauG1[0] is not the G1 generator");
    fail(tau_g2[0] == g2, "tauG2[0] is not the G2 generator");
    fail(!tau_g1[1].is_zero() && !tau_g2[1].is_zero(), "τ is zero");
    fail(!alpha[0].is_zero() && !beta[0].is_zero() && !beta_g2.is_zero(), "α or β is zero");
    // Consecutive powers stand in the ratio τ.
    let shift_g1 = |v: &[G1Affine], rng: &mut R| {
        let r = random_scalars(v.len() - 1, rng);
        (msm1(&v[..v.len() - 1], &r), msm1(&v[1..], &r))
    };
    let (lo, hi) = shift_g1(&tau_g1, rng);
    fail(same_ratio(lo, hi, g2, tau_g2[1]), "tauG1 is not a sequence of powers of τ (section 2)");
    let r = random_scalars(n - 1, rng);
    let (lo2, hi2) = (msm2(&tau_g2[..n - 1], &r), msm2(&tau_g2[1..], &r));
    fail(same_ratio(g1, tau_g1[1], lo2, hi2), "tauG2 is not a sequence of powers of τ (section 3)");
    let (lo, hi) = shift_g1(&alpha, rng);
    fail(same_ratio(lo, hi, g2, tau_g2[1]), "alphaTauG1 is not α times powers of τ (section 4)");
    let (lo, hi) = shift_g1(&beta, rng);
    fail(same_ratio(lo, hi, g2, tau_g2[1]), "betaTauG1 is not β times powers of τ (section 5)");
    fail(same_ratio(g1, beta[0], g2, beta_g2), "betaG2 does not match betaTauG1[0] (section 6)");

    // Every Lagrange level a circuit of this size uses: Σ rᵢ·Lᵢ(τ) = Σ pⱼ·τʲ with p = IFFT(r).
    for k in 0..=needed {
        let m = 1usize << k;
        let coeffs = |rng: &mut R| {
            let r = random_scalars(m, rng);
            let mut p = r.clone();
            Radix2EvaluationDomain::<Fr>::new(m).expect("m ≤ 2^27").ifft_in_place(&mut p);
            (r, p)
        };
        let (r, p) = coeffs(rng);
        let lag = ptau.lagrange_tau_g1(k)?;
        fail(
            msm1(&lag, &r) == msm1(&tau_g1[..m], &p),
            &format!("Lagrange tauG1 level {k} (section 12) is not the IFFT of tauG1"),
        );
        let lag = ptau.lagrange_tau_g2(k)?;
        fail(
            msm2(&lag, &r) == msm2(&tau_g2[..m], &p),
            &format!("Lagrange tauG2 level {k} (section 13) is not the IFFT of tauG2"),
        );
        let lag = ptau.lagrange_alpha_tau_g1(k)?;
        fail(
            msm1(&lag, &r) == msm1(&alpha[..m], &p),
            &format!("Lagrange alphaTauG1 level {k} (section 14) is not the IFFT of alphaTauG1"),
        );
        let lag = ptau.lagrange_beta_tau_g1(k)?;
        fail(
            msm1(&lag, &r) == msm1(&beta[..m], &p),
            &format!("Lagrange betaTauG1 level {k} (section 15) is not the IFFT of betaTauG1"),
        );
    }
    // The level above (2n points, for H) is made from τⁱ, i < 2n − 1, with τ^(2n−1) taken as 0.
    let k = needed + 1;
    let m = 1usize << k;
    let r = random_scalars(m, rng);
    let mut p = r.clone();
    Radix2EvaluationDomain::<Fr>::new(m).expect("m ≤ 2^28").ifft_in_place(&mut p);
    let lag = ptau.lagrange_tau_g1(k)?;
    fail(
        msm1(&lag, &r) == msm1(&tau_g1[..m - 1], &p[..m - 1]),
        &format!("Lagrange tauG1 level {k} (section 12) is not the IFFT of tauG1"),
    );
    Ok(report)
}

/// Secrets of a development phase 1. Whoever knows them can forge proofs for every circuit
/// built on the file.
pub struct Phase1Secrets {
    pub tau: Fr,
    pub alpha: Fr,
    pub beta: Fr,
}

impl Phase1Secrets {
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut nonzero = || loop {
            let x = Fr::rand(rng);
            if !x.is_zero() {
                break x;
            }
        };
        Self { tau: nonzero(), alpha: nonzero(), beta: nonzero() }
    }
}

impl Drop for Phase1Secrets {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.tau.zeroize();
        self.alpha.zeroize();
        self.beta.zeroize();
    }
}

/// Lagrange basis values at τ over the 2^k domain, as snarkjs's `prepare phase2` computes them
/// from the powers: the inverse FFT of `τⁱ, i < 2^k`, with the powers at or above `limit` taken
/// as zero (section 12's top level lacks τ^(2N−1)).
pub(crate) fn lagrange_scalars(powers: &[Fr], k: u32, limit: usize) -> Vec<Fr> {
    let m = 1usize << k;
    let mut v: Vec<Fr> = (0..m).map(|i| if i < limit { powers[i] } else { Fr::zero() }).collect();
    // The point i is (1/m) Σⱼ ω^(−ij) τʲ: an inverse FFT of the powers.
    Radix2EvaluationDomain::<Fr>::new(m).expect("m ≤ 2^28").ifft_in_place(&mut v);
    v
}

/// A complete prepared `.ptau` of power `power` from known secrets: a **development** phase 1
/// (no contributions recorded). Production uses a public ceremony's file (e.g. Hermez's).
pub fn generate(power: u32, s: &Phase1Secrets) -> Vec<u8> {
    assert!((1..=MAX_POWER).contains(&power), "power within 1..=27");
    let n = 1usize << power;
    let mut powers = Vec::with_capacity(2 * n);
    let mut x = Fr::one();
    for _ in 0..2 * n {
        powers.push(x);
        x *= s.tau;
    }
    let g1 = G1Projective::from(G1Affine::generator());
    let g2 = G2Projective::from(G2Affine::generator());
    let scaled = |k: Fr, v: &[Fr]| v.iter().map(|p| *p * k).collect::<Vec<_>>();
    let enc1 = |v: &[G1Affine]| {
        let mut out = Vec::with_capacity(v.len() * G1_BYTES);
        v.iter().for_each(|p| g1_to_lem(p, &mut out));
        out
    };
    let enc2 = |v: &[G2Affine]| {
        let mut out = Vec::with_capacity(v.len() * G2_BYTES);
        v.iter().for_each(|p| g2_to_lem(p, &mut out));
        out
    };
    let mut header = Vec::new();
    let q = encoding::q_le();
    header.extend_from_slice(&(q.len() as u32).to_le_bytes());
    header.extend_from_slice(&q);
    header.extend_from_slice(&power.to_le_bytes());
    header.extend_from_slice(&power.to_le_bytes());

    let mut lag = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for k in 0..=power + 1 {
        let l = lagrange_scalars(&powers, k, if k == power + 1 { 2 * n - 1 } else { 1 << k });
        lag[0].extend_from_slice(&l);
        if k <= power {
            lag[1].extend_from_slice(&l);
            lag[2].extend(scaled(s.alpha, &l));
            lag[3].extend(scaled(s.beta, &l));
        }
    }
    let sections = vec![
        (1, header),
        (TAU_G1, enc1(&g1.batch_mul(&powers[..2 * n - 1]))),
        (TAU_G2, enc2(&g2.batch_mul(&powers[..n]))),
        (ALPHA_TAU_G1, enc1(&g1.batch_mul(&scaled(s.alpha, &powers[..n])))),
        (BETA_TAU_G1, enc1(&g1.batch_mul(&scaled(s.beta, &powers[..n])))),
        (BETA_G2, enc2(&[(g2 * s.beta).into_affine()])),
        (CONTRIBUTIONS, 0u32.to_le_bytes().to_vec()),
        (LAGRANGE_TAU_G1, enc1(&g1.batch_mul(&lag[0]))),
        (LAGRANGE_TAU_G2, enc2(&g2.batch_mul(&lag[1]))),
        (LAGRANGE_ALPHA_TAU_G1, enc1(&g1.batch_mul(&lag[2]))),
        (LAGRANGE_BETA_TAU_G1, enc1(&g1.batch_mul(&lag[3]))),
    ];
    crate::binfile::write("ptau", 1, &sections)
}
