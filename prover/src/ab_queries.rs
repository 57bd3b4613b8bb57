//! The `A` and `B` MSMs of a proof, for a second worker.
//!
//! Why: in a browser the prover has one thread. WebAssembly threads need shared memory, which
//! needs cross-origin isolation (and nightly Rust); Android WebViews offer neither. A page can
//! still start a second Web Worker and pass it messages. The MSMs over the key's `A` (G1) and `B`
//! (G2) queries need only the assignment `z`, not the quotient, and are about half of a proof's
//! group work: a helper holding only those bases ([`AbQueries::to_bytes`], sent once per loaded
//! bundle) computes them from `z` while the first worker computes the quotient's FFTs and `C₀`.
//!
//! The helper is trusted no more than the proving key is: wrong sums make a proof that the
//! prover's self-check against the bundle's verifying key refuses
//! ([`crate::ProveError::BrokenBundle`]), and malformed bytes are refused with an error, never a
//! panic.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::ProvingKey;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};

use crate::engine::{join, Sparse};
use crate::prove::ProveError;

/// The first bytes of [`AbQueries::to_bytes`]: the format and its version.
const QUERIES_FORMAT: &[u8; 8] = b"hc-ab-q1";

/// The compacted `A` and `B` queries of a proving key, and the length of the assignment they are
/// indexed by.
pub struct AbQueries {
    vars: usize,
    a: Sparse<G1Affine>,
    b: Sparse<G2Affine>,
}

/// `Σ zᵢ·Aᵢ` in G1 and `Σ zᵢ·Bᵢ` in G2 (without the key's `α` and `β`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbSums {
    pub a: G1Projective,
    pub b: G2Projective,
}

fn malformed(what: &str) -> ProveError {
    ProveError::Helper(format!("malformed {what}"))
}

impl AbQueries {
    pub(crate) fn new(pk: &ProvingKey<ark_bn254::Bn254>) -> Self {
        Self {
            vars: pk.a_query.len(),
            a: Sparse::new(pk.a_query.iter().copied().enumerate()),
            b: Sparse::new(pk.b_g2_query.iter().copied().enumerate()),
        }
    }

    /// The sums for `z`, refused unless `z` has the length the queries are indexed by.
    pub fn sums(&self, z: &[Fr]) -> Result<AbSums, ProveError> {
        if z.len() != self.vars {
            return Err(ProveError::Helper(format!(
                "the assignment has {} values where the proving key has {}",
                z.len(),
                self.vars
            )));
        }
        Ok(self.sums_of(z))
    }

    /// The sums for a `z` of the right length (with `parallel`, the two MSMs side by side).
    pub(crate) fn sums_of(&self, z: &[Fr]) -> AbSums {
        let (a, b) = join(|| self.a.msm(z, &[]), || self.b.msm(z, &[]));
        AbSums { a, b }
    }

    /// The queries for a helper: the format tag, the assignment length, then each query's indices
    /// and bases (uncompressed: a helper should not spend its time on square roots).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = QUERIES_FORMAT.to_vec();
        let index = |s: &[usize]| s.iter().map(|&i| i as u32).collect::<Vec<u32>>();
        let parts =
            (self.vars as u64, index(&self.a.index), &self.a.bases, index(&self.b.index), &self.b.bases);
        parts.serialize_with_mode(&mut out, Compress::No).expect("a Vec never refuses bytes");
        out
    }

    /// Reads [`Self::to_bytes`]. Every base must be on its curve and not the identity, and every
    /// index inside the assignment, so the MSMs cannot panic; subgroup membership is not checked
    /// (4,000 G2 checks would cost a helper more than its MSM), since bases outside it only give a
    /// proof the self-check refuses.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProveError> {
        let rest = bytes
            .strip_prefix(QUERIES_FORMAT)
            .ok_or_else(|| malformed("proving-key queries (not this format)"))?;
        type Parts = (u64, Vec<u32>, Vec<G1Affine>, Vec<u32>, Vec<G2Affine>);
        let mut reader = rest;
        let (vars, a_index, a_bases, b_index, b_bases) =
            Parts::deserialize_with_mode(&mut reader, Compress::No, Validate::No)
                .map_err(|e| malformed(&format!("proving-key queries ({e})")))?;
        if !reader.is_empty() {
            return Err(malformed("proving-key queries (bytes after the end)"));
        }
        let vars = usize::try_from(vars).map_err(|_| malformed("proving-key queries (length)"))?;
        Ok(Self { vars, a: checked(vars, a_index, a_bases)?, b: checked(vars, b_index, b_bases)? })
    }
}

/// One query read from bytes, refused unless its indices are below `vars` and its bases are
/// points of the curve other than the identity.
fn checked<P: SWCurveConfig>(
    vars: usize,
    index: Vec<u32>,
    bases: Vec<Affine<P>>,
) -> Result<Sparse<Affine<P>>, ProveError> {
    if index.len() != bases.len() {
        return Err(malformed("proving-key queries (indices and bases differ in number)"));
    }
    if index.iter().any(|&i| i as usize >= vars) {
        return Err(malformed("proving-key queries (an index past the assignment)"));
    }
    if bases.iter().any(|p| p.is_zero() || !p.is_on_curve()) {
        return Err(malformed("proving-key queries (a base off the curve)"));
    }
    Ok(Sparse { index: index.into_iter().map(|i| i as usize).collect(), bases })
}

impl AbSums {
    /// Affine and uncompressed: 64 + 128 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        (self.a.into_affine(), self.b.into_affine())
            .serialize_with_mode(&mut out, Compress::No)
            .expect("a Vec never refuses bytes");
        out
    }

    /// Reads [`Self::to_bytes`], checking both points (on the curve, in the subgroup).
    pub fn from_bytes(mut bytes: &[u8]) -> Result<Self, ProveError> {
        let (a, b) = <(G1Affine, G2Affine)>::deserialize_with_mode(&mut bytes, Compress::No, Validate::Yes)
            .map_err(|e| malformed(&format!("sums from the helper ({e})")))?;
        if !bytes.is_empty() {
            return Err(malformed("sums from the helper (bytes after the end)"));
        }
        Ok(Self { a: a.into_group(), b: b.into_group() })
    }
}

/// `z` for a helper: 32 bytes a value.
pub fn assignment_to_bytes(z: &[Fr]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 32 * z.len());
    z.serialize_with_mode(&mut out, Compress::No).expect("a Vec never refuses bytes");
    out
}

/// Reads [`assignment_to_bytes`]; values must be canonical field elements.
pub fn assignment_from_bytes(mut bytes: &[u8]) -> Result<Vec<Fr>, ProveError> {
    let z = Vec::<Fr>::deserialize_with_mode(&mut bytes, Compress::No, Validate::Yes)
        .map_err(|e| malformed(&format!("assignment ({e})")))?;
    if !bytes.is_empty() {
        return Err(malformed("assignment (bytes after the end)"));
    }
    Ok(z)
}
