//! Phase-2 contributions and the final beacon, in snarkjs's transcript format.
//!
//! A contribution with secret `x` multiplies δ by `x` and divides the C (L) and H queries by `x`.
//! It records a proof of knowledge of `x` that chains to everything before it:
//! `transcript = Blake2b-512(circuit hash ‖ each earlier contribution's public key ‖ s ‖ s·x)`,
//! then `s·x` in G1 against `x·hashToG2(transcript)` in G2. If any one contributor's `x` is
//! secret and forgotten, nobody knows δ's discrete logarithm and nobody can forge a proof.

use crate::ffjs;
use crate::ffjs::{g1_uncompressed_be as g1_uncompressed, g2_uncompressed_be as g2_uncompressed};
use crate::zkey::{Contribution, ContributionKind, Hash64, MpcParams, Zkey, MAX_NAME_BYTES};
use ark_bn254::{Fr, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{Field, UniformRand, Zero};
use ark_std::rand::{CryptoRng, RngCore, SeedableRng};
use blake2::{Blake2b512, Digest};
use rayon::prelude::*;
use zeroize::Zeroize;

/// snarkjs accepts beacon iteration exponents from 10 to 63.
pub const BEACON_MIN_EXP: u8 = 10;
pub const BEACON_MAX_EXP: u8 = 63;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContributeError {
    #[error("the contributor's name is {0} bytes; at most {MAX_NAME_BYTES} fit in the transcript")]
    NameTooLong(usize),
    #[error("the beacon must be 1 to 255 bytes of hex; got {0} bytes")]
    BeaconLength(usize),
    #[error("the beacon's iterations exponent must be within {BEACON_MIN_EXP}..={BEACON_MAX_EXP}; got {0}")]
    BeaconIterations(u8),
}

/// A contribution's public key as the transcript absorbs it (snarkjs's `hashPubKey`).
pub fn hash_pub_key(h: &mut Blake2b512, c: &Contribution) {
    h.update(g1_uncompressed(&c.delta_after));
    h.update(g1_uncompressed(&c.g1_s));
    h.update(g1_uncompressed(&c.g1_sx));
    h.update(g2_uncompressed(&c.g2_spx));
    h.update(c.transcript);
}

/// The hash a contributor publishes to find her contribution in the transcript later.
pub fn contribution_hash(c: &Contribution) -> Hash64 {
    let mut h = Blake2b512::new();
    hash_pub_key(&mut h, c);
    h.finalize().into()
}

/// The transcript hasher after the circuit hash and every recorded contribution.
pub fn transcript_prefix(mpc: &MpcParams) -> Blake2b512 {
    let mut h = Blake2b512::new();
    h.update(mpc.cs_hash);
    mpc.contributions.iter().for_each(|c| hash_pub_key(&mut h, c));
    h
}

/// The transcript hash of a contribution with proof-of-knowledge points `s`, `s·x`.
pub fn transcript(prefix: &Blake2b512, g1_s: &G1Affine, g1_sx: &G1Affine) -> Hash64 {
    let mut h = prefix.clone();
    h.update(g1_uncompressed(g1_s));
    h.update(g1_uncompressed(g1_sx));
    h.finalize().into()
}

fn check_name(name: Option<&str>) -> Result<(), ContributeError> {
    match name {
        Some(n) if n.len() > MAX_NAME_BYTES => Err(ContributeError::NameTooLong(n.len())),
        _ => Ok(()),
    }
}

/// Multiplies every point of `v` by `k` in place.
fn scale(v: &mut [G1Affine], k: Fr) {
    let p: Vec<G1Projective> = v.par_iter().map(|p| *p * k).collect();
    v.copy_from_slice(&G1Projective::normalize_batch(&p));
}

/// Applies secret `x` with proof-of-knowledge base `g1_s`, records the contribution and zeroises
/// `x` and its inverse.
fn apply(z: &mut Zkey, mut x: Fr, g1_s: G1Affine, kind: ContributionKind, name: Option<&str>) -> Hash64 {
    let g1_sx = (g1_s * x).into_affine();
    let transcript = transcript(&transcript_prefix(&z.mpc), &g1_s, &g1_sx);
    let g2_spx = (ffjs::hash_to_g2(&transcript) * x).into_affine();
    z.delta_g1 = (z.delta_g1 * x).into_affine();
    z.delta_g2 = (z.delta_g2 * x).into_affine();
    let mut inv = x.inverse().expect("x ≠ 0");
    scale(&mut z.c, inv);
    scale(&mut z.h, inv);
    x.zeroize();
    inv.zeroize();
    let c = Contribution {
        delta_after: z.delta_g1,
        g1_s,
        g1_sx,
        g2_spx,
        transcript,
        kind,
        name: name.map(str::to_owned),
    };
    let hash = contribution_hash(&c);
    z.mpc.contributions.push(c);
    hash
}

/// A participant's contribution: the secret comes from the operating system's randomness mixed
/// with `entropy` (Blake2b), so neither a weak RNG nor a known entropy text alone gives it away.
pub fn contribute<R: RngCore + CryptoRng>(
    z: &mut Zkey,
    name: Option<&str>,
    entropy: &[u8],
    os: &mut R,
) -> Result<Hash64, ContributeError> {
    check_name(name)?;
    let mut fresh = [0u8; 64];
    os.fill_bytes(&mut fresh);
    let mut h = Blake2b512::new();
    h.update(entropy);
    h.update(fresh);
    let mut digest: [u8; 64] = h.finalize().into();
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&digest[..32]);
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
    fresh.zeroize();
    digest.zeroize();
    seed.zeroize();
    let mut nonzero = || loop {
        let v = Fr::rand(&mut rng);
        if !v.is_zero() {
            break v;
        }
    };
    let x = nonzero();
    let s = (G1Affine::generator() * nonzero()).into_affine();
    Ok(apply(z, x, s, ContributionKind::Participant, name))
}

/// The final contribution from a public randomness beacon announced in advance: its secret is
/// derived from `hash` by `2^iterations_exp` SHA-256 iterations (snarkjs's `beacon`), so anyone
/// can recompute it and nobody could choose it.
pub fn beacon(
    z: &mut Zkey,
    name: Option<&str>,
    hash: &[u8],
    iterations_exp: u8,
) -> Result<Hash64, ContributeError> {
    check_name(name)?;
    if hash.is_empty() || hash.len() > 255 {
        return Err(ContributeError::BeaconLength(hash.len()));
    }
    if !(BEACON_MIN_EXP..=BEACON_MAX_EXP).contains(&iterations_exp) {
        return Err(ContributeError::BeaconIterations(iterations_exp));
    }
    let (x, s) = beacon_key(hash, iterations_exp);
    Ok(apply(z, x, s, ContributionKind::Beacon { hash: hash.to_vec(), iterations_exp }, name))
}

/// The beacon's secret and proof-of-knowledge base, as snarkjs derives them.
pub fn beacon_key(hash: &[u8], iterations_exp: u8) -> (Fr, G1Affine) {
    let mut rng = ffjs::rng_from_beacon(hash, iterations_exp as u32);
    let x = ffjs::fr_from_rng(&mut rng);
    let s = ffjs::g1_from_rng(&mut rng);
    (x, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffjs::{fr_from_rng, g1_from_rng, ChaCha};
    use ark_bn254::G2Affine;
    use serde_json::Value;

    fn hex_bytes(v: &Value) -> Vec<u8> {
        hex::decode(v.as_str().unwrap()).unwrap()
    }

    fn fq(v: &Value) -> ark_bn254::Fq {
        std::str::FromStr::from_str(v.as_str().unwrap()).unwrap()
    }

    fn point_g1(v: &Value) -> G1Affine {
        G1Affine::new(fq(&v[0]), fq(&v[1]))
    }

    fn point_g2(v: &Value) -> G2Affine {
        let f2 = |c: &Value| ark_bn254::Fq2::new(fq(&c[0]), fq(&c[1]));
        G2Affine::new(f2(&v[0]), f2(&v[1]))
    }

    /// A random contribution then a beacon, replayed through our transcript code against what
    /// snarkjs 0.7.6 itself computed (`scripts/ffjs-vectors.mjs`): every stored field and hash.
    #[test]
    fn transcript_matches_snarkjs() {
        let v: Value = serde_json::from_str(include_str!("../tests/data/ffjs-vectors.json")).unwrap();
        let c = &v["contributions"];
        let cs_hash: Hash64 = hex_bytes(&c["cs_hash"]).try_into().unwrap();
        let beacon_hash = hex_bytes(&c["beacon_hash"]);
        let exp = c["beacon_exp"].as_u64().unwrap() as u8;
        let seed: Vec<u32> =
            c["seed"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        let mut rng = ChaCha::new(seed.try_into().unwrap());
        let random = (fr_from_rng(&mut rng), g1_from_rng(&mut rng));
        let keys = [random, beacon_key(&beacon_hash, exp)];
        let mut mpc = MpcParams { cs_hash, contributions: Vec::new() };
        let mut delta = G1Affine::generator();
        for ((x, s), e) in keys.into_iter().zip(c["list"].as_array().unwrap()) {
            let sx = (s * x).into_affine();
            assert_eq!(s, point_g1(&e["g1_s"]));
            assert_eq!(sx, point_g1(&e["g1_sx"]));
            let t = transcript(&transcript_prefix(&mpc), &s, &sx);
            assert_eq!(t.to_vec(), hex_bytes(&e["transcript"]));
            let spx = (ffjs::hash_to_g2(&t) * x).into_affine();
            assert_eq!(spx, point_g2(&e["g2_spx"]));
            delta = (delta * x).into_affine();
            assert_eq!(delta, point_g1(&e["delta_after"]));
            let rec = Contribution {
                delta_after: delta,
                g1_s: s,
                g1_sx: sx,
                g2_spx: spx,
                transcript: t,
                kind: ContributionKind::Participant,
                name: None,
            };
            assert_eq!(contribution_hash(&rec).to_vec(), hex_bytes(&e["contribution_hash"]));
            mpc.contributions.push(rec);
        }
    }
}
