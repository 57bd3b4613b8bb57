//! Poseidon agrees with circomlibjs (an independent implementation) on checked-in vectors, and the
//! in-circuit gadget agrees with the native hash, in every allocation mode.

use ark_bn254::Fr;
use ark_r1cs_std::{alloc::AllocVar, fields::fp::FpVar, GR1CSVar};
use ark_relations::gr1cs::ConstraintSystem;
use healthcode_circuits::poseidon::{gadget, native};
use serde::Deserialize;
use std::str::FromStr;

#[derive(Deserialize)]
struct Vector {
    domain: String,
    inputs: Vec<String>,
    output: String,
}

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

fn fr(s: &str) -> Fr {
    Fr::from_str(s).expect("decimal field element")
}

fn vectors() -> Vec<(Fr, Vec<Fr>, Fr)> {
    let file: File = serde_json::from_str(include_str!("vectors/poseidon.json")).expect("vector file parses");
    assert!(file.vectors.len() >= 10);
    file.vectors
        .iter()
        .map(|v| (fr(&v.domain), v.inputs.iter().map(|i| fr(i)).collect(), fr(&v.output)))
        .collect()
}

#[test]
fn native_matches_circomlibjs() {
    for (domain, inputs, expected) in vectors() {
        assert_eq!(native::hash(domain, &inputs), expected, "domain {domain} inputs {inputs:?}");
    }
}

#[test]
fn gadget_matches_native_in_every_mode() {
    for (domain, inputs, expected) in vectors() {
        for mode in 0..3 {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let vars: Vec<FpVar<Fr>> = inputs
                .iter()
                .map(|x| match mode {
                    0 => FpVar::Constant(*x),
                    1 => FpVar::new_input(cs.clone(), || Ok(*x)).unwrap(),
                    _ => FpVar::new_witness(cs.clone(), || Ok(*x)).unwrap(),
                })
                .collect();
            let out = gadget::hash(domain, &vars).unwrap();
            assert_eq!(out.value().unwrap(), expected);
            assert!(cs.is_satisfied().unwrap());
            let expected_constraints = match (mode, inputs.len()) {
                (0, _) => 0,
                (_, 2) => 240,
                (_, 4) => 297,
                _ => unreachable!(),
            };
            assert_eq!(cs.num_constraints(), expected_constraints, "mode {mode}");
        }
    }
}
