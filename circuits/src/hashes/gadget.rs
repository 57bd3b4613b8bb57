//! In-circuit twins of [`super`]'s hashes.

use super::{domain, STATE_WORDS};
use crate::poseidon::gadget::hash;
use ark_bn254::Fr;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::SynthesisError;

type R<T> = Result<T, SynthesisError>;

pub fn public_key(sk: &FpVar<Fr>) -> R<FpVar<Fr>> {
    hash(domain::PUBLIC_KEY.into(), &[sk.clone(), FpVar::Constant(Fr::from(0u64))])
}

pub fn commitment(pk: &FpVar<Fr>, id_hash: &FpVar<Fr>) -> R<FpVar<Fr>> {
    hash(domain::COMMITMENT.into(), &[pk.clone(), id_hash.clone()])
}

pub fn leaf(commitment: &FpVar<Fr>, words: &[FpVar<Fr>; STATE_WORDS]) -> R<FpVar<Fr>> {
    let [w0, w1, w2] = words.clone();
    hash(domain::LEAF.into(), &[commitment.clone(), w0, w1, w2])
}

pub fn node(children: &[FpVar<Fr>; 4]) -> R<FpVar<Fr>> {
    hash(domain::NODE.into(), children)
}

pub fn binding_tag(id_hash: &FpVar<Fr>, challenge: &FpVar<Fr>) -> R<FpVar<Fr>> {
    hash(domain::BINDING_TAG.into(), &[id_hash.clone(), challenge.clone()])
}
