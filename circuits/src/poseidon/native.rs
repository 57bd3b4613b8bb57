//! Poseidon on field elements: what the registry, the prover's witness builder and the auditor use.

use super::params::params;
use ark_bn254::Fr;
use ark_ff::Field;

fn sbox(x: &mut Fr) {
    let x2 = x.square();
    *x *= x2.square();
}

/// `PoseidonEx(inputs, initialState = domain)[0]` as in circomlib: the permutation of
/// `[domain, inputs…]`, returning the first state element. `inputs` must be 2 or 4 long.
pub fn hash(domain: Fr, inputs: &[Fr]) -> Fr {
    let p = params(inputs.len());
    let mut state = Vec::with_capacity(p.width);
    state.push(domain);
    state.extend_from_slice(inputs);
    let mut next = vec![Fr::from(0u64); p.width];
    for r in 0..p.rounds() {
        for (s, c) in state.iter_mut().zip(&p.ark[r]) {
            *s += c;
        }
        if p.is_full_round(r) {
            state.iter_mut().for_each(sbox);
        } else {
            sbox(&mut state[0]);
        }
        for (n, row) in next.iter_mut().zip(&p.mds) {
            *n = row.iter().zip(&state).map(|(m, s)| *m * s).sum();
        }
        std::mem::swap(&mut state, &mut next);
    }
    state[0]
}
