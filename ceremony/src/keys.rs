//! The arkworks keys a `.zkey` stands for (the mapping ark-circom uses): the prover and the
//! checkpoints keep working on arkworks types, and the `.zkey` stays the audited transcript.
//!
//! A key from a `.zkey` proves only with the circom-style quotient (H evaluated on the odd coset
//! of the 2n domain, see `healthcode_prover`), never with arkworks' default `LibsnarkReduction`.

use crate::zkey::Zkey;
use ark_bn254::Bn254;
use ark_groth16::{ProvingKey, VerifyingKey};

pub fn verifying_key(z: &Zkey) -> VerifyingKey<Bn254> {
    VerifyingKey {
        alpha_g1: z.alpha_g1,
        beta_g2: z.beta_g2,
        gamma_g2: z.gamma_g2,
        delta_g2: z.delta_g2,
        gamma_abc_g1: z.ic.clone(),
    }
}

pub fn proving_key(z: &Zkey) -> ProvingKey<Bn254> {
    ProvingKey {
        vk: verifying_key(z),
        beta_g1: z.beta_g1,
        delta_g1: z.delta_g1,
        a_query: z.a.clone(),
        b_g1_query: z.b_g1.clone(),
        b_g2_query: z.b_g2.clone(),
        h_query: z.h.clone(),
        l_query: z.c.clone(),
    }
}
