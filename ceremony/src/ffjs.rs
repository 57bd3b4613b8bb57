//! Bit-exact reproduction of the deterministic randomness that snarkjs 0.7.6
//! (with ffjavascript 0.3.1 / wasmcurves 0.2.2) uses for Groth16 phase-2
//! (`.zkey`) contributions and beacons on bn128, so that a Rust verifier can
//! check snarkjs contributions and snarkjs can check ours.
//!
//! # Transcript order (zkey_contribute.js, zkey_beacon.js, zkey_utils.js)
//!
//! All hashes are unkeyed Blake2b-512. Points are hashed as
//! [`g1_uncompressed_be`] / [`g2_uncompressed_be`] (ffjs `toRprUncompressed`).
//!
//! ```text
//! transcript_i = Blake2b512( csHash (64 bytes)
//!                            ‖ hashPubKey(c_0) ‖ … ‖ hashPubKey(c_{i-1})
//!                            ‖ U(g1_s_i) ‖ U(g1_sx_i) )
//! hashPubKey(c) = U(c.deltaAfter) ‖ U(c.g1_s) ‖ U(c.g1_sx) ‖ U(c.g2_spx) ‖ c.transcript
//! contributionHash(c) = Blake2b512(hashPubKey(c))
//! ```
//!
//! Key derivation, in this exact draw order from one [`ChaCha`]:
//! `prvKey = Fr.fromRng`, `g1_s = G1.fromRng`, `g1_sx = g1_s·prvKey`, then
//! (after the transcript above) `g2_sp = hashToG2(transcript)`,
//! `g2_spx = g2_sp·prvKey`, `deltaAfter = previous deltaAfter·prvKey`
//! (the first "previous" is the zkey's initial `vk_delta_1`, the G1 generator).
//! `g2_sp` is not stored; verifiers recompute it from the transcript.
//!
//! A random contribution seeds ChaCha from Blake2b512(64 OS bytes ‖ UTF-8
//! entropy), first 32 bytes as big-endian u32s (type 0). A beacon uses
//! [`rng_from_beacon`] (type 1) and stores, in the contribution's parameter
//! block, `[1, len, name…]` (if named) then `[2, numIterationsExp]`
//! then `[3, len, beaconHash…]`, prefixed by the block's u32-LE length.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInt, BigInteger, Field, PrimeField, Zero};
use blake2::Digest;
use sha2::Sha256;
use std::fmt;

/// ffjavascript's ChaCha20 stream: key = seed, nonce = 0, and a 128-bit
/// block counter in state words 12..16 (carry propagates into the nonce
/// words). Output words are the block words in order.
#[derive(Clone, Debug)]
pub struct ChaCha {
    state: [u32; 16],
    buf: [u32; 16],
    idx: usize,
}

impl ChaCha {
    /// `new ChaCha(seed)`.
    pub fn new(seed: [u32; 8]) -> Self {
        let mut state = [0u32; 16];
        state[..4].copy_from_slice(&[0x6170_7865, 0x3320_646E, 0x7962_2D32, 0x6B20_6574]);
        state[4..12].copy_from_slice(&seed);
        Self { state, buf: [0; 16], idx: 16 }
    }

    /// Builds the seed the way snarkjs does everywhere: the first 32 bytes
    /// read as eight big-endian u32s.
    pub fn from_be_bytes(bytes: &[u8; 32]) -> Self {
        let mut seed = [0u32; 8];
        for (s, c) in seed.iter_mut().zip(bytes.chunks_exact(4)) {
            *s = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        Self::new(seed)
    }

    /// `nextU32()`.
    pub fn next_u32(&mut self) -> u32 {
        if self.idx == 16 {
            self.refill();
        }
        let v = self.buf[self.idx];
        self.idx += 1;
        v
    }

    /// `nextU64()`: the *first* u32 drawn is the high half.
    pub fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        let lo = u64::from(self.next_u32());
        (hi << 32) | lo
    }

    /// `nextBool()`: low bit of one u32.
    pub fn next_bool(&mut self) -> bool {
        self.next_u32() & 1 == 1
    }

    fn refill(&mut self) {
        let mut x = self.state;
        for _ in 0..10 {
            for [a, b, c, d] in [
                [0, 4, 8, 12],
                [1, 5, 9, 13],
                [2, 6, 10, 14],
                [3, 7, 11, 15],
                [0, 5, 10, 15],
                [1, 6, 11, 12],
                [2, 7, 8, 13],
                [3, 4, 9, 14],
            ] {
                quarter_round(&mut x, a, b, c, d);
            }
        }
        for (o, (v, s)) in self.buf.iter_mut().zip(x.iter().zip(self.state.iter())) {
            *o = v.wrapping_add(*s);
        }
        self.idx = 0;
        for w in &mut self.state[12..16] {
            *w = w.wrapping_add(1);
            if *w != 0 {
                break;
            }
        }
    }
}

fn quarter_round(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

/// ffjs wasm `F.fromRng`: draw 4 u64 limbs (least significant first), mask
/// to the modulus bit length, reject while `>= p`, and then — the surprise —
/// return those bytes as the *Montgomery* representation. The field element
/// is therefore `v · 2^-256 mod p`, not `v`.
fn field_from_rng<F: PrimeField<BigInt = BigInt<4>>>(rng: &mut ChaCha) -> F {
    let bits = F::MODULUS_BIT_SIZE;
    let v = loop {
        let mut limbs = [0u64; 4];
        for (i, l) in limbs.iter_mut().enumerate() {
            let r = rng.next_u64();
            let lo = 64 * i as u32;
            *l = if bits >= lo + 64 {
                r
            } else if bits <= lo {
                0
            } else {
                r & ((1u64 << (bits - lo)) - 1)
            };
        }
        let v = BigInt(limbs);
        if v < F::MODULUS {
            break v;
        }
    };
    let r_inv = F::from(2u64).pow([256]).inverse().expect("2 is invertible");
    F::from_bigint(v).expect("v < modulus by rejection") * r_inv
}

/// ffjs `isNegative` on Fp: the canonical value is greater than (p-1)/2.
fn fq_is_negative(x: &Fq) -> bool {
    x.into_bigint() > Fq::MODULUS_MINUS_ONE_DIV_TWO
}

/// ffjs `isNegative` on Fp2: decided by c1, or by c0 when c1 is zero.
fn fq2_is_negative(x: &Fq2) -> bool {
    if x.c1.is_zero() {
        fq_is_negative(&x.c0)
    } else {
        fq_is_negative(&x.c1)
    }
}

/// ffjs `WasmCurve.fromRng` before cofactor clearing: per try, draw x, then
/// one bool `greatest`; retry until x³+b is square; pick the root whose
/// `isNegative` equals `greatest` (the wasm sqrt's own choice is irrelevant).
fn curve_from_rng<P: SWCurveConfig>(
    rng: &mut ChaCha,
    base_from_rng: impl Fn(&mut ChaCha) -> P::BaseField,
    is_negative: impl Fn(&P::BaseField) -> bool,
) -> Affine<P> {
    loop {
        let x = base_from_rng(rng);
        let greatest = rng.next_bool();
        if let Some(mut y) = (x.square() * x + P::COEFF_B).sqrt() {
            if greatest != is_negative(&y) {
                y = -y;
            }
            return Affine::new_unchecked(x, y);
        }
    }
}

/// `curve.Fr.fromRng(rng)` (value is `v·2^-256 mod r`, see [`field_from_rng`]).
pub fn fr_from_rng(rng: &mut ChaCha) -> Fr {
    field_from_rng(rng)
}

/// `curve.G1.fromRng(rng)` (G1 has cofactor 1 in ffjs: no multiplication).
pub fn g1_from_rng(rng: &mut ChaCha) -> G1Affine {
    curve_from_rng(rng, field_from_rng::<Fq>, fq_is_negative)
}

/// ffjs's `cofactorG2` for bn128, 0x30644e72…c0f9fa8d, little-endian limbs.
pub const G2_COFACTOR: [u64; 4] =
    [0x345f_2299_c0f9_fa8d, 0x06ce_ecda_572a_2489, 0xb850_45b6_8181_585e, 0x3064_4e72_e131_a029];

/// `curve.G2.fromRng(rng)`: Fp2 x drawn as c0 then c1, then multiplied by
/// the full cofactor as a plain scalar. Never replace this with a fast
/// endomorphism-based `clear_cofactor`: that lands on a different multiple.
pub fn g2_from_rng(rng: &mut ChaCha) -> G2Affine {
    let p: G2Affine = curve_from_rng(
        rng,
        |r| {
            let c0 = field_from_rng::<Fq>(r);
            let c1 = field_from_rng::<Fq>(r);
            Fq2::new(c0, c1)
        },
        fq2_is_negative,
    );
    p.mul_bigint(G2_COFACTOR).into_affine()
}

/// snarkjs `hashToG2` (keypair.js): ChaCha seeded with the first 32 bytes of
/// the transcript as big-endian u32s (the last 32 bytes are ignored), then
/// `G2.fromRng`.
pub fn hash_to_g2(transcript: &[u8; 64]) -> G2Affine {
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&transcript[..32]);
    g2_from_rng(&mut ChaCha::from_be_bytes(&seed))
}

/// snarkjs `rngFromBeaconParams` (misc.js): SHA-256 applied `2^iterations_exp`
/// times (so exp 0 hashes once) to the raw beacon bytes (hex already
/// decoded), then the final digest read as big-endian u32s.
///
/// # Panics
/// If `iterations_exp > 63` (snarkjs itself only accepts 10..=63).
pub fn rng_from_beacon(beacon_hash: &[u8], iterations_exp: u32) -> ChaCha {
    assert!(iterations_exp <= 63, "numIterationsExp must be <= 63");
    let mut cur: [u8; 32] = Sha256::digest(beacon_hash).into();
    for _ in 1..(1u64 << iterations_exp) {
        cur = Sha256::digest(cur).into();
    }
    ChaCha::from_be_bytes(&cur)
}

fn fq_be(x: &Fq) -> Vec<u8> {
    x.into_bigint().to_bytes_be()
}

/// ffjs `G1.toRprUncompressed`: x ‖ y, each 32-byte big-endian canonical
/// (not Montgomery). Infinity is 64 zero bytes (no flag bit is written).
pub fn g1_uncompressed_be(p: &G1Affine) -> [u8; 64] {
    let mut out = [0u8; 64];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&fq_be(&x));
        out[32..].copy_from_slice(&fq_be(&y));
    }
    out
}

/// ffjs `G2.toRprUncompressed`: each Fp2 coordinate is byte-reversed as a
/// whole, so the order is x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0 (32-byte BE each).
/// Infinity is 128 zero bytes.
pub fn g2_uncompressed_be(p: &G2Affine) -> [u8; 128] {
    let mut out = [0u8; 128];
    if let Some((x, y)) = p.xy() {
        for (i, c) in [x.c1, x.c0, y.c1, y.c0].iter().enumerate() {
            out[32 * i..32 * (i + 1)].copy_from_slice(&fq_be(c));
        }
    }
    out
}

/// Why an uncompressed point was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Input is not 64 (G1) or 128 (G2) bytes.
    Length,
    /// A coordinate is `>= p`, or the infinity encoding has stray bytes.
    NonCanonical,
    /// The coordinates do not satisfy the curve equation.
    NotOnCurve,
    /// On the curve but outside the prime-order subgroup.
    NotInSubgroup,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Length => "wrong encoded point length",
            Self::NonCanonical => "non-canonical point encoding",
            Self::NotOnCurve => "point not on curve",
            Self::NotInSubgroup => "point not in prime-order subgroup",
        })
    }
}

impl std::error::Error for DecodeError {}

fn fq_from_be(b: &[u8]) -> Result<Fq, DecodeError> {
    let mut limbs = [0u64; 4];
    for (l, c) in limbs.iter_mut().rev().zip(b.chunks_exact(8)) {
        *l = u64::from_be_bytes(c.try_into().map_err(|_| DecodeError::Length)?);
    }
    Fq::from_bigint(BigInt(limbs)).ok_or(DecodeError::NonCanonical)
}

/// Infinity per ffjs `UtoLEM`: all zeros, or the 0x40 flag in byte 0 (we
/// additionally require the rest to be zero, which is all ffjs ever writes).
fn is_infinity(b: &[u8]) -> Result<bool, DecodeError> {
    let rest_zero = b[1..].iter().all(|&v| v == 0);
    match b[0] {
        0 if rest_zero => Ok(true),
        0x40 if rest_zero => Ok(true),
        0x40 => Err(DecodeError::NonCanonical),
        _ => Ok(false),
    }
}

fn checked<P: SWCurveConfig>(x: P::BaseField, y: P::BaseField) -> Result<Affine<P>, DecodeError> {
    let p = Affine::<P>::new_unchecked(x, y);
    if !p.is_on_curve() {
        Err(DecodeError::NotOnCurve)
    } else if !p.is_in_correct_subgroup_assuming_on_curve() {
        Err(DecodeError::NotInSubgroup)
    } else {
        Ok(p)
    }
}

/// Inverse of [`g1_uncompressed_be`], validating canonicity, curve and subgroup.
pub fn g1_from_uncompressed_be(b: &[u8]) -> Result<G1Affine, DecodeError> {
    if b.len() != 64 {
        return Err(DecodeError::Length);
    }
    if is_infinity(b)? {
        return Ok(G1Affine::zero());
    }
    checked(fq_from_be(&b[..32])?, fq_from_be(&b[32..])?)
}

/// Inverse of [`g2_uncompressed_be`], validating canonicity, curve and subgroup.
pub fn g2_from_uncompressed_be(b: &[u8]) -> Result<G2Affine, DecodeError> {
    if b.len() != 128 {
        return Err(DecodeError::Length);
    }
    if is_infinity(b)? {
        return Ok(G2Affine::zero());
    }
    let c = |i: usize| fq_from_be(&b[32 * i..32 * (i + 1)]);
    checked(Fq2::new(c(1)?, c(0)?), Fq2::new(c(3)?, c(2)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::str::FromStr;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../tests/data/ffjs-vectors.json")).unwrap()
    }

    fn seed(v: &Value) -> [u32; 8] {
        let s: Vec<u32> = v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        s.try_into().unwrap()
    }

    fn fq(v: &Value) -> Fq {
        Fq::from_str(v.as_str().unwrap()).unwrap()
    }

    fn fr(v: &Value) -> Fr {
        Fr::from_str(v.as_str().unwrap()).unwrap()
    }

    fn g1(v: &Value) -> G1Affine {
        if v.is_null() {
            return G1Affine::zero();
        }
        G1Affine::new(fq(&v[0]), fq(&v[1]))
    }

    fn g2(v: &Value) -> G2Affine {
        if v.is_null() {
            return G2Affine::zero();
        }
        let f2 = |c: &Value| Fq2::new(fq(&c[0]), fq(&c[1]));
        G2Affine::new(f2(&v[0]), f2(&v[1]))
    }

    fn bytes64(v: &Value) -> [u8; 64] {
        hex::decode(v.as_str().unwrap()).unwrap().try_into().unwrap()
    }

    #[test]
    fn chacha_stream() {
        let v = vectors();
        for case in v["chacha"].as_array().unwrap() {
            let mut r = ChaCha::new(seed(&case["seed"]));
            for w in case["u32"].as_array().unwrap() {
                assert_eq!(u64::from(r.next_u32()), w.as_u64().unwrap());
            }
            let mut r = ChaCha::new(seed(&case["seed"]));
            let t = &case["u64_then_bools"];
            for w in t["u64"].as_array().unwrap() {
                assert_eq!(r.next_u64().to_string(), w.as_str().unwrap());
            }
            for b in t["bools"].as_array().unwrap() {
                assert_eq!(r.next_bool(), b.as_bool().unwrap());
            }
        }
    }

    #[test]
    fn from_rng_draws() {
        let v = vectors();
        for case in v["from_rng"].as_array().unwrap() {
            let s = seed(&case["seed"]);
            let mut r = ChaCha::new(s);
            for e in case["fr"].as_array().unwrap() {
                assert_eq!(fr_from_rng(&mut r), fr(e));
            }
            let mut r = ChaCha::new(s);
            for e in case["g1"].as_array().unwrap() {
                assert_eq!(g1_from_rng(&mut r), g1(e));
            }
            let mut r = ChaCha::new(s);
            for e in case["g2"].as_array().unwrap() {
                assert_eq!(g2_from_rng(&mut r), g2(e));
            }
            let m = &case["mixed"];
            let mut r = ChaCha::new(s);
            assert_eq!(fr_from_rng(&mut r), fr(&m["fr"]));
            assert_eq!(g1_from_rng(&mut r), g1(&m["g1"]));
            assert_eq!(g2_from_rng(&mut r), g2(&m["g2"]));
            assert_eq!(fr_from_rng(&mut r), fr(&m["fr2"]));
            assert_eq!(u64::from(r.next_u32()), m["next_u32"].as_u64().unwrap());
        }
    }

    #[test]
    fn hash_to_g2_vectors() {
        let v = vectors();
        for case in v["hash_to_g2"].as_array().unwrap() {
            assert_eq!(hash_to_g2(&bytes64(&case["transcript"])), g2(&case["g2"]));
        }
    }

    #[test]
    fn beacon_vectors() {
        let v = vectors();
        for case in v["beacon"].as_array().unwrap() {
            let h = hex::decode(case["beacon_hash"].as_str().unwrap()).unwrap();
            let exp = case["exp"].as_u64().unwrap() as u32;
            let mut r = rng_from_beacon(&h, exp);
            assert_eq!(r.state[4..12], seed(&case["seed"]));
            assert_eq!(fr_from_rng(&mut r), fr(&case["fr"]));
            assert_eq!(g1_from_rng(&mut r), g1(&case["g1"]));
        }
    }

    #[test]
    fn encodings() {
        let v = vectors();
        let e = &v["encoding"];
        for case in e["g1"].as_array().unwrap() {
            let p = g1(&case["point"]);
            let b = hex::decode(case["bytes"].as_str().unwrap()).unwrap();
            assert_eq!(g1_uncompressed_be(&p).as_slice(), b.as_slice());
            assert_eq!(g1_from_uncompressed_be(&b), Ok(p));
        }
        for case in e["g2"].as_array().unwrap() {
            let p = g2(&case["point"]);
            let b = hex::decode(case["bytes"].as_str().unwrap()).unwrap();
            assert_eq!(g2_uncompressed_be(&p).as_slice(), b.as_slice());
            assert_eq!(g2_from_uncompressed_be(&b), Ok(p));
        }
        assert_eq!(G1Affine::generator(), g1(&e["g1"][0]["point"]));
        assert_eq!(G2Affine::generator(), g2(&e["g2"][0]["point"]));
        assert!(e["g1_flag_decodes_zero"].as_bool().unwrap());
        let mut flag = [0u8; 64];
        flag[0] = 0x40;
        assert_eq!(g1_from_uncompressed_be(&flag), Ok(G1Affine::zero()));
    }

    #[test]
    fn decoders_reject_bad_input() {
        let g = g1_uncompressed_be(&G1Affine::generator());
        assert_eq!(g1_from_uncompressed_be(&g[..63]), Err(DecodeError::Length));
        let mut bad = g;
        bad[63] ^= 1;
        assert_eq!(g1_from_uncompressed_be(&bad), Err(DecodeError::NotOnCurve));
        let mut big = g;
        big[..32].fill(0xff);
        big[0] = 0x3f;
        assert_eq!(g1_from_uncompressed_be(&big), Err(DecodeError::NonCanonical));
        let mut flag = [0u8; 64];
        flag[0] = 0x40;
        flag[5] = 1;
        assert_eq!(g1_from_uncompressed_be(&flag), Err(DecodeError::NonCanonical));
        // A point on the twist but outside the r-torsion subgroup.
        let mut r = ChaCha::new([9; 8]);
        let raw: G2Affine =
            curve_from_rng(&mut r, |r| Fq2::new(field_from_rng(r), field_from_rng(r)), fq2_is_negative);
        assert_eq!(g2_from_uncompressed_be(&g2_uncompressed_be(&raw)), Err(DecodeError::NotInSubgroup));
        let mut g2b = g2_uncompressed_be(&G2Affine::generator());
        g2b[127] ^= 1;
        assert_eq!(g2_from_uncompressed_be(&g2b), Err(DecodeError::NotOnCurve));
    }

    #[test]
    fn cofactor_matches_arkworks() {
        assert_eq!(G2_COFACTOR.as_slice(), <ark_bn254::g2::Config as ark_ec::CurveConfig>::COFACTOR);
    }
}
