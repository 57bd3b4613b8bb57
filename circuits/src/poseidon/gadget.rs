//! Poseidon in R1CS, the twin of [`super::native::hash`].
//!
//! Each S-box costs three constraints (`x²`, `x⁴`, `x⁵`); round constants and the MDS layer are
//! linear combinations and cost nothing. Width 3: 8·3·3 + 57·3 = 243 constraints; width 5:
//! 8·5·3 + 60·3 = 300.

use super::params::params;
use ark_bn254::Fr;
use ark_r1cs_std::fields::{fp::FpVar, FieldVar};
use ark_relations::gr1cs::SynthesisError;

fn sbox(x: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    let x2 = x.square()?;
    let x4 = x2.square()?;
    Ok(x4 * x)
}

/// In-circuit `hash(domain, inputs)`; `domain` is a circuit constant.
pub fn hash(domain: Fr, inputs: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
    let p = params(inputs.len());
    let mut state = Vec::with_capacity(p.width);
    state.push(FpVar::Constant(domain));
    state.extend_from_slice(inputs);
    for r in 0..p.rounds() {
        for (s, c) in state.iter_mut().zip(&p.ark[r]) {
            *s += *c;
        }
        if p.is_full_round(r) {
            for s in state.iter_mut() {
                *s = sbox(s)?;
            }
        } else {
            state[0] = sbox(&state[0])?;
        }
        state = p.mds.iter().map(|row| row.iter().zip(&state).map(|(m, s)| s * *m).sum()).collect();
    }
    Ok(state.swap_remove(0))
}
