//! The Merkle path in R1CS: 16 arity-4 levels whose positions come from the leaf index's bits.

use super::{ARITY, INDEX_BITS, LEVELS};
use crate::hashes::gadget::node;
use ark_bn254::Fr;
use ark_r1cs_std::{boolean::Boolean, fields::fp::FpVar, select::CondSelectGadget};
use ark_relations::gr1cs::SynthesisError;

/// Places `current` among the three `siblings` at position `b0 + 2·b1`; 7 constraints.
///
/// `x0 = pos==0 ? cur : s0`, `x1 = b1 ? s1 : (b0 ? cur : s0)`, `x2 = b1 ? (b0 ? s2 : cur) : s1`,
/// `x3 = pos==3 ? cur : s2`. Both bits must be booleans (the caller allocates them as such).
fn children(
    current: &FpVar<Fr>,
    siblings: &[FpVar<Fr>; ARITY - 1],
    b0: &Boolean<Fr>,
    b1: &Boolean<Fr>,
) -> Result<[FpVar<Fr>; ARITY], SynthesisError> {
    let [s0, s1, s2] = siblings;
    let is0 = !(b0 | b1);
    let is3 = b0 & b1;
    let x0 = FpVar::conditionally_select(&is0, current, s0)?;
    let low = FpVar::conditionally_select(b0, current, s0)?;
    let x1 = FpVar::conditionally_select(b1, s1, &low)?;
    let high = FpVar::conditionally_select(b0, s2, current)?;
    let x2 = FpVar::conditionally_select(b1, &high, s1)?;
    let x3 = FpVar::conditionally_select(&is3, current, s2)?;
    Ok([x0, x1, x2, x3])
}

/// The root of the path from `leaf`; `index_bits` are the leaf index's 32 little-endian bits.
/// The caller compares the result with the public root.
pub fn root(
    leaf: &FpVar<Fr>,
    index_bits: &[Boolean<Fr>],
    siblings: &[[FpVar<Fr>; ARITY - 1]],
) -> Result<FpVar<Fr>, SynthesisError> {
    assert_eq!(index_bits.len(), INDEX_BITS);
    assert_eq!(siblings.len(), LEVELS);
    let mut current = leaf.clone();
    for (level, s) in siblings.iter().enumerate() {
        let kids = children(&current, s, &index_bits[2 * level], &index_bits[2 * level + 1])?;
        current = node(&kids)?;
    }
    Ok(current)
}
