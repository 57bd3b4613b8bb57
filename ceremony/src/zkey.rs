//! snarkjs's Groth16 `.zkey`: the proving key, the coefficients the snarkjs prover needs, and the
//! phase-2 transcript (section 10).
//!
//! | section | content |
//! |---|---|
//! | 1 | protocol (1 = Groth16) |
//! | 2 | field sizes and moduli, `nVars`, `nPublic`, `domainSize`, α₁ β₁ β₂ γ₂ δ₁ δ₂ |
//! | 3 | IC: `nPublic + 1` G1 points (the verifying key's input commitments) |
//! | 4 | coefficients of A and B (`matrix, constraint, signal, value·R²`) |
//! | 5, 6, 7 | A (G1), B (G1), B (G2) queries, `nVars` points each |
//! | 8 | C (arkworks' L) query: `nVars − nPublic − 1` points, divided by δ |
//! | 9 | H query: `domainSize` points, divided by δ |
//! | 10 | circuit hash (Blake2b-512), then each contribution |

use crate::binfile::{self, BinFile, FormatError, Reader};
use crate::encoding::{self, g1_to_lem, g2_to_lem};
use ark_bn254::{Fr, G1Affine, G2Affine};

/// snarkjs's protocol id for Groth16.
pub const GROTH16: u32 = 1;
/// The circuit hash and contribution hashes are Blake2b-512.
pub type Hash64 = [u8; 64];

/// One entry of section 4: `value` at (`constraint`, `signal`) of matrix A (0) or B (1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coefficient {
    pub matrix: u32,
    pub constraint: u32,
    pub signal: u32,
    pub value: Fr,
}

/// How a contribution's secret was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContributionKind {
    /// A participant's randomness (snarkjs type 0).
    Participant,
    /// Derived from a public beacon: `2^iterations_exp` SHA-256 iterations of `hash` (type 1).
    Beacon { hash: Vec<u8>, iterations_exp: u8 },
}

/// One phase-2 contribution as recorded in section 10.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// δ₁ after this contribution.
    pub delta_after: G1Affine,
    /// The proof of knowledge of the contribution's secret `x`: `s`, `s·x` in G1 and `x·H(transcript)`
    /// in G2.
    pub g1_s: G1Affine,
    pub g1_sx: G1Affine,
    pub g2_spx: G2Affine,
    /// Blake2b-512 of the circuit hash, the previous contributions and `g1_s‖g1_sx`.
    pub transcript: Hash64,
    pub kind: ContributionKind,
    pub name: Option<String>,
}

/// Section 10.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpcParams {
    pub cs_hash: Hash64,
    pub contributions: Vec<Contribution>,
}

/// A Groth16 `.zkey`, fully decoded and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zkey {
    pub n_vars: u32,
    pub n_public: u32,
    pub domain_size: u32,
    pub alpha_g1: G1Affine,
    pub beta_g1: G1Affine,
    pub beta_g2: G2Affine,
    pub gamma_g2: G2Affine,
    pub delta_g1: G1Affine,
    pub delta_g2: G2Affine,
    pub ic: Vec<G1Affine>,
    pub coefficients: Vec<Coefficient>,
    pub a: Vec<G1Affine>,
    pub b_g1: Vec<G1Affine>,
    pub b_g2: Vec<G2Affine>,
    /// arkworks' `l_query`.
    pub c: Vec<G1Affine>,
    pub h: Vec<G1Affine>,
    pub mpc: MpcParams,
}

/// Contribution parameter tags (section 10).
const PARAM_NAME: u8 = 1;
const PARAM_ITERATIONS: u8 = 2;
const PARAM_BEACON_HASH: u8 = 3;
/// snarkjs truncates names to 64 UTF-16 units; we refuse longer names instead.
pub const MAX_NAME_BYTES: usize = 64;

impl Zkey {
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let file = BinFile::parse(bytes, "zkey", 1)?;
        let mut s1 = file.section(1)?;
        let protocol = s1.u32()?;
        if protocol != GROTH16 {
            return Err(s1.err(format!("protocol {protocol} is not Groth16 (1)")));
        }
        s1.finish()?;

        let mut h = file.section(2)?;
        h.expect_prime(&encoding::q_le(), "the base field's modulus")?;
        h.expect_prime(&encoding::r_le(), "the scalar field's modulus")?;
        let n_vars = h.u32()?;
        let n_public = h.u32()?;
        let domain_size = h.u32()?;
        if n_public >= n_vars {
            return Err(h.err(format!("{n_public} public inputs of {n_vars} variables")));
        }
        if !domain_size.is_power_of_two() || domain_size < 2 {
            return Err(h.err(format!("domain size {domain_size} is not a power of two")));
        }
        let alpha_g1 = h.g1("alpha_1")?;
        let beta_g1 = h.g1("beta_1")?;
        let beta_g2 = h.g2("beta_2")?;
        let gamma_g2 = h.g2("gamma_2")?;
        let delta_g1 = h.g1("delta_1")?;
        let delta_g2 = h.g2("delta_2")?;
        h.finish()?;

        let n = n_vars as usize;
        let points_g1 = |id: u32, count: usize, what: &str| -> Result<Vec<G1Affine>, FormatError> {
            let mut r = file.section(id)?;
            if r.len() != count * encoding::G1_BYTES {
                return Err(r.err(format!(
                    "{} bytes; {count} {what} points need {}",
                    r.len(),
                    count * encoding::G1_BYTES
                )));
            }
            let v = r.g1s(count, what)?;
            r.finish()?;
            Ok(v)
        };
        let ic = points_g1(3, n_public as usize + 1, "IC")?;
        let coefficients = decode_coefficients(file.section(4)?, n_vars, domain_size)?;
        let a = points_g1(5, n, "A")?;
        let b_g1 = points_g1(6, n, "B1")?;
        let b_g2 = {
            let mut r = file.section(7)?;
            if r.len() != n * encoding::G2_BYTES {
                return Err(r.err(format!(
                    "{} bytes; {n} B2 points need {}",
                    r.len(),
                    n * encoding::G2_BYTES
                )));
            }
            let v = r.g2s(n, "B2")?;
            r.finish()?;
            v
        };
        let c = points_g1(8, n - n_public as usize - 1, "C")?;
        let hq = points_g1(9, domain_size as usize, "H")?;
        let mpc = decode_mpc(file.section(10)?)?;
        Ok(Self {
            n_vars,
            n_public,
            domain_size,
            alpha_g1,
            beta_g1,
            beta_g2,
            gamma_g2,
            delta_g1,
            delta_g2,
            ic,
            coefficients,
            a,
            b_g1,
            b_g2,
            c,
            h: hq,
            mpc,
        })
    }

    /// The sections in snarkjs's order, so our files and snarkjs's are byte for byte the same:
    /// `zkey new` writes an initial key as 1, 2, 4, 3, 9, 8, 5, 6, 7, 10, contributions rewrite
    /// the file as 1–10.
    pub fn encode(&self) -> Vec<u8> {
        let g1s = |v: &[G1Affine]| {
            let mut out = Vec::with_capacity(v.len() * encoding::G1_BYTES);
            v.iter().for_each(|p| g1_to_lem(p, &mut out));
            out
        };
        let mut header = Vec::new();
        for m in [encoding::q_le(), encoding::r_le()] {
            header.extend_from_slice(&(m.len() as u32).to_le_bytes());
            header.extend_from_slice(&m);
        }
        for n in [self.n_vars, self.n_public, self.domain_size] {
            header.extend_from_slice(&n.to_le_bytes());
        }
        g1_to_lem(&self.alpha_g1, &mut header);
        g1_to_lem(&self.beta_g1, &mut header);
        g2_to_lem(&self.beta_g2, &mut header);
        g2_to_lem(&self.gamma_g2, &mut header);
        g1_to_lem(&self.delta_g1, &mut header);
        g2_to_lem(&self.delta_g2, &mut header);
        let mut b2 = Vec::with_capacity(self.b_g2.len() * encoding::G2_BYTES);
        self.b_g2.iter().for_each(|p| g2_to_lem(p, &mut b2));
        let mut sections = vec![
            (1, GROTH16.to_le_bytes().to_vec()),
            (2, header),
            (3, g1s(&self.ic)),
            (4, encode_coefficients(&self.coefficients)),
            (5, g1s(&self.a)),
            (6, g1s(&self.b_g1)),
            (7, b2),
            (8, g1s(&self.c)),
            (9, g1s(&self.h)),
            (10, encode_mpc(&self.mpc)),
        ];
        if self.mpc.contributions.is_empty() {
            const NEW_ZKEY_ORDER: [u32; 10] = [1, 2, 4, 3, 9, 8, 5, 6, 7, 10];
            sections.sort_by_key(|(id, _)| NEW_ZKEY_ORDER.iter().position(|x| x == id));
        }
        binfile::write("zkey", 1, &sections)
    }
}

fn decode_coefficients(
    mut r: Reader<'_>,
    n_vars: u32,
    domain_size: u32,
) -> Result<Vec<Coefficient>, FormatError> {
    let n = r.u32()?;
    r.expect_items(n as u64, 12 + encoding::FIELD_BYTES, "coefficients")?;
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let matrix = r.u32()?;
        let constraint = r.u32()?;
        let signal = r.u32()?;
        if matrix > 1 || constraint >= domain_size || signal >= n_vars {
            return Err(r.err(format!("coefficient ({matrix}, {constraint}, {signal}) is out of range")));
        }
        let value = encoding::zkey_coef_from_bytes(r.bytes(encoding::FIELD_BYTES)?)
            .ok_or_else(|| r.err("a coefficient is not canonical"))?;
        out.push(Coefficient { matrix, constraint, signal, value });
    }
    r.finish()?;
    Ok(out)
}

fn encode_coefficients(c: &[Coefficient]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + c.len() * 44);
    out.extend_from_slice(&(c.len() as u32).to_le_bytes());
    for k in c {
        for n in [k.matrix, k.constraint, k.signal] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        encoding::zkey_coef_to_bytes(&k.value, &mut out);
    }
    out
}

fn decode_mpc(mut r: Reader<'_>) -> Result<MpcParams, FormatError> {
    let cs_hash: Hash64 = r.bytes(64)?.try_into().expect("64 bytes");
    let n = r.u32()?;
    // The smallest contribution is 3·64 + 128 + 64 + 8 bytes.
    r.expect_items(n as u64, 392, "contributions")?;
    let mut contributions = Vec::with_capacity(n as usize);
    for i in 0..n {
        let what = format!("contribution {}", i + 1);
        let delta_after = r.g1(&format!("{what} deltaAfter"))?;
        let g1_s = r.g1(&format!("{what} g1_s"))?;
        let g1_sx = r.g1(&format!("{what} g1_sx"))?;
        let g2_spx = r.g2(&format!("{what} g2_spx"))?;
        let transcript: Hash64 = r.bytes(64)?.try_into().expect("64 bytes");
        let kind_id = r.u32()?;
        let len = r.u32()? as usize;
        let mut p = r.bytes(len)?;
        let (mut name, mut iterations, mut hash) = (None, None, None);
        let mut last = 0u8;
        while let Some((&tag, rest)) = p.split_first() {
            if tag <= last {
                return Err(r.err(format!("{what}: parameters out of order")));
            }
            last = tag;
            let Some((&len, rest)) = rest.split_first() else {
                return Err(r.err(format!("{what}: truncated parameter")));
            };
            let len = len as usize;
            match tag {
                PARAM_NAME | PARAM_BEACON_HASH => {
                    if rest.len() < len {
                        return Err(r.err(format!("{what}: truncated parameter")));
                    }
                    let (v, rest) = rest.split_at(len);
                    if tag == PARAM_NAME {
                        name = Some(
                            String::from_utf8(v.to_vec())
                                .map_err(|_| r.err(format!("{what}: name is not UTF-8")))?,
                        );
                    } else {
                        hash = Some(v.to_vec());
                    }
                    p = rest;
                }
                PARAM_ITERATIONS => {
                    iterations = Some(len as u8);
                    p = rest;
                }
                _ => return Err(r.err(format!("{what}: unknown parameter {tag}"))),
            }
        }
        let kind = match (kind_id, iterations, hash) {
            (0, None, None) => ContributionKind::Participant,
            (1, Some(iterations_exp), Some(hash)) => ContributionKind::Beacon { hash, iterations_exp },
            (1, _, _) => return Err(r.err(format!("{what}: a beacon without its hash and iterations"))),
            (0, _, _) => {
                return Err(r.err(format!("{what}: beacon parameters on a participant's contribution")))
            }
            (k, _, _) => return Err(r.err(format!("{what}: unknown contribution type {k}"))),
        };
        contributions.push(Contribution { delta_after, g1_s, g1_sx, g2_spx, transcript, kind, name });
    }
    r.finish()?;
    Ok(MpcParams { cs_hash, contributions })
}

fn encode_mpc(m: &MpcParams) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&m.cs_hash);
    out.extend_from_slice(&(m.contributions.len() as u32).to_le_bytes());
    for c in &m.contributions {
        g1_to_lem(&c.delta_after, &mut out);
        g1_to_lem(&c.g1_s, &mut out);
        g1_to_lem(&c.g1_sx, &mut out);
        g2_to_lem(&c.g2_spx, &mut out);
        out.extend_from_slice(&c.transcript);
        let mut params = Vec::new();
        if let Some(name) = &c.name {
            params.extend_from_slice(&[PARAM_NAME, name.len() as u8]);
            params.extend_from_slice(name.as_bytes());
        }
        let kind = match &c.kind {
            ContributionKind::Participant => 0u32,
            ContributionKind::Beacon { hash, iterations_exp } => {
                params.extend_from_slice(&[
                    PARAM_ITERATIONS,
                    *iterations_exp,
                    PARAM_BEACON_HASH,
                    hash.len() as u8,
                ]);
                params.extend_from_slice(hash);
                1
            }
        };
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(params.len() as u32).to_le_bytes());
        out.extend_from_slice(&params);
    }
    out
}
