//! In-circuit twin of [`super::pack`].

use super::TIMES_PER_WORD;
use crate::hashes::STATE_WORDS;
use crate::time::{gadget::TimeVar, TIME_BITS};
use ark_bn254::Fr;
use ark_r1cs_std::fields::fp::FpVar;

/// Packs range-checked times into the leaf words: linear combinations only, no constraints.
pub fn pack(times: &[TimeVar]) -> [FpVar<Fr>; STATE_WORDS] {
    assert!(times.len() <= STATE_WORDS * TIMES_PER_WORD, "too many event kinds");
    let shift = Fr::from(1u64 << TIME_BITS);
    std::array::from_fn(|j| {
        let mut word = FpVar::Constant(Fr::from(0u64));
        let mut weight = Fr::from(1u64);
        for t in times.iter().skip(j * TIMES_PER_WORD).take(TIMES_PER_WORD) {
            word += t.fp() * weight;
            weight *= shift;
        }
        word
    })
}
