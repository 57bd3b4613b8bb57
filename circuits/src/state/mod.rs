//! A holder's state: for each event kind of the policy, the latest time (0 = never).
//!
//! In a leaf the times are packed six to a field element, `word_j = Σ_k t_{6j+k} · 2^(40k)`
//! (240 bits < 254, so the packing is injective for range-checked times).

pub mod gadget;

use crate::hashes::STATE_WORDS;
use crate::time::TIME_BITS;
use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};

/// Times per leaf word.
pub const TIMES_PER_WORD: usize = 6;

/// Packs the state (each time < 2^40, at most 18 of them) into the leaf's words.
pub fn pack(times: &[u64]) -> [Fr; STATE_WORDS] {
    assert!(times.len() <= STATE_WORDS * TIMES_PER_WORD, "too many event kinds");
    let mut words = [Fr::from(0u64); STATE_WORDS];
    for (w, chunk) in words.iter_mut().zip(times.chunks(TIMES_PER_WORD)) {
        let mut bits = Vec::with_capacity(TIME_BITS * TIMES_PER_WORD);
        for &t in chunk {
            assert!(t >> TIME_BITS == 0, "time out of range");
            bits.extend((0..TIME_BITS).map(|i| (t >> i) & 1 == 1));
        }
        *w = Fr::from_bigint(<Fr as PrimeField>::BigInt::from_bits_le(&bits)).expect("240 bits fit");
    }
    words
}
