//! Round constants and MDS matrices.
//!
//! They are generated, not pasted: the Grain LFSR of the Poseidon reference script
//! (`generate_parameters_grain.sage 1 0 254 t 8 RP p`), as implemented by
//! `ark_crypto_primitives::sponge::poseidon::find_poseidon_ark_and_mds`, yields exactly the
//! constants circomlib ships (checked by the circomlibjs vectors). Round counts are circomlib's
//! `N_ROUNDS_P` table (Poseidon paper, tables 2 and 8, rounded up).

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::poseidon::find_poseidon_ark_and_mds;
use ark_ff::PrimeField;
use std::sync::OnceLock;

/// Full rounds (4 before and 4 after the partial rounds).
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds at width 3 (two inputs).
const PARTIAL_ROUNDS_WIDTH_3: usize = 57;
/// Partial rounds at width 5 (four inputs).
const PARTIAL_ROUNDS_WIDTH_5: usize = 60;

/// A fixed Poseidon instance: `width = inputs + 1` (one capacity element).
#[derive(Debug)]
pub struct PoseidonParams {
    pub width: usize,
    pub full_rounds: usize,
    pub partial_rounds: usize,
    /// `ark[round][i]`: added to state element `i` at the start of `round`.
    pub ark: Vec<Vec<Fr>>,
    /// `mds[i][j]`: the new state `i` is `sum_j mds[i][j] * state[j]`.
    pub mds: Vec<Vec<Fr>>,
}

impl PoseidonParams {
    fn generate(inputs: usize, partial_rounds: usize) -> Self {
        let (ark, mds) = find_poseidon_ark_and_mds::<Fr>(
            Fr::MODULUS_BIT_SIZE as u64,
            inputs,
            FULL_ROUNDS as u64,
            partial_rounds as u64,
            0,
        );
        Self { width: inputs + 1, full_rounds: FULL_ROUNDS, partial_rounds, ark, mds }
    }

    /// Whether round `r` applies the S-box to every element (full) or only to element 0.
    pub fn is_full_round(&self, r: usize) -> bool {
        r < self.full_rounds / 2 || r >= self.full_rounds / 2 + self.partial_rounds
    }

    pub fn rounds(&self) -> usize {
        self.full_rounds + self.partial_rounds
    }
}

/// Two inputs (width 3): commitments, binding tags.
pub const WIDTH_2: usize = 2;
/// Four inputs (width 5): leaves and the arity-4 tree's nodes.
pub const WIDTH_4: usize = 4;

/// The parameters for a hash of `inputs` field elements (2 or 4).
pub fn params(inputs: usize) -> &'static PoseidonParams {
    static P2: OnceLock<PoseidonParams> = OnceLock::new();
    static P4: OnceLock<PoseidonParams> = OnceLock::new();
    match inputs {
        WIDTH_2 => P2.get_or_init(|| PoseidonParams::generate(2, PARTIAL_ROUNDS_WIDTH_3)),
        WIDTH_4 => P4.get_or_init(|| PoseidonParams::generate(4, PARTIAL_ROUNDS_WIDTH_5)),
        _ => panic!("Poseidon is instantiated for 2 or 4 inputs, not {inputs}"),
    }
}
