//! Shared fixtures: an example policy, a holder enrolled in a populated tree, synthesis, and a
//! direct `A·z ∘ B·z = C·z` evaluator over the finalized matrices.
#![allow(dead_code)]

use ark_bn254::Fr;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, Matrix, OptimizationGoal,
    R1CS_PREDICATE_LABEL,
};
use healthcode_circuits::{
    hashes,
    policy::{Colour, Policy},
    state,
    statement::{HealthCodeCircuit, PublicInputs, Witness},
    tree::SparseTree,
};

pub const EXAMPLE: &str = include_str!("../../../policies/henan-2022.toml");
pub const DAY: u64 = 86_400;
/// 2022-06-14 00:00 UTC, the week the codes turned red.
pub const NOW: u64 = 1_655_164_800;
/// A leaf index that exercises every position digit.
pub const INDEX: u32 = 0xE4B1_9C27;

pub fn example() -> Policy {
    Policy::parse(EXAMPLE).expect("example policy parses")
}

/// A holder at [`INDEX`] in a tree with a few neighbours, and the public inputs for `colour`.
pub fn fixture(state: Vec<u64>, now: u64, colour: Colour, bind: bool) -> (PublicInputs, Witness) {
    let sk = Fr::from(0x5EC2E7_u64);
    let id_hash = hashes::id_hash("G12345678");
    let mut tree = SparseTree::new();
    for (i, other) in [(INDEX ^ 1, 11u64), (INDEX ^ 4, 12), (INDEX ^ 0x1000_0000, 13), (0, 14)] {
        let cm = hashes::commitment(hashes::public_key(Fr::from(other)), Fr::from(other));
        tree.set_leaf(i, hashes::leaf(cm, &state::pack(&[other, 0, 0, 0])));
    }
    let mut witness = Witness { sk, id_hash, state, leaf_index: INDEX, path: Default::default(), bind };
    tree.set_leaf(INDEX, witness.leaf());
    witness.path = tree.path(INDEX);
    let challenge = hashes::challenge("venue:zhengzhou-east-station");
    let public = PublicInputs {
        root: tree.root(),
        now,
        colour,
        challenge,
        binding_tag: witness.binding_tag(challenge),
    };
    (public, witness)
}

/// Synthesises in prove mode with matrices, LCs inlined as for key generation.
pub fn synthesize(
    policy: &Policy,
    public: PublicInputs,
    witness: Witness,
) -> Option<ConstraintSystemRef<Fr>> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    HealthCodeCircuit::new(policy, public, witness).generate_constraints(cs.clone()).ok()?;
    cs.finalize();
    Some(cs)
}

/// Whether the circuit accepts these inputs (synthesis refusing them counts as rejection).
pub fn accepts(policy: &Policy, public: PublicInputs, witness: Witness) -> bool {
    healthcode_circuits::statement::sample::is_satisfied(policy, public, witness).unwrap()
}

/// The finalized R1CS: its three matrices and the full assignment `z = (1, instance…, witness…)`.
pub struct Relation {
    pub a: Matrix<Fr>,
    pub b: Matrix<Fr>,
    pub c: Matrix<Fr>,
    pub z: Vec<Fr>,
    pub num_instance: usize,
}

impl Relation {
    pub fn of(cs: &ConstraintSystemRef<Fr>) -> Self {
        let mut m = cs.to_matrices().unwrap().remove(R1CS_PREDICATE_LABEL).unwrap();
        assert_eq!(m.len(), 3);
        let c = m.pop().unwrap();
        let b = m.pop().unwrap();
        let a = m.pop().unwrap();
        let inst = cs.borrow().unwrap().instance_assignment().unwrap().to_vec();
        let num_instance = inst.len();
        let mut z = inst;
        z.extend_from_slice(cs.borrow().unwrap().witness_assignment().unwrap());
        Relation { a, b, c, z, num_instance }
    }

    fn dot(row: &[(Fr, usize)], z: &[Fr]) -> Fr {
        row.iter().map(|(coeff, i)| *coeff * z[*i]).sum()
    }

    /// `A·z ∘ B·z = C·z` for the given assignment.
    pub fn satisfied_by(&self, z: &[Fr]) -> bool {
        (0..self.a.len())
            .all(|i| Self::dot(&self.a[i], z) * Self::dot(&self.b[i], z) == Self::dot(&self.c[i], z))
    }

    /// For each variable, whether adding `delta` to it (all else fixed) still satisfies every
    /// constraint. Incremental: only the rows a variable appears in are re-evaluated.
    pub fn free_under_perturbation(&self, delta: Fr) -> Vec<bool> {
        let n = self.z.len();
        let rows = self.a.len();
        let eval = |m: &Matrix<Fr>| (0..rows).map(|i| Self::dot(&m[i], &self.z)).collect::<Vec<_>>();
        let (va, vb, vc) = (eval(&self.a), eval(&self.b), eval(&self.c));
        assert!((0..rows).all(|i| va[i] * vb[i] == vc[i]), "honest assignment must satisfy");
        // column → [(row, which matrix, coeff)]
        let mut cols: Vec<Vec<(usize, u8, Fr)>> = vec![Vec::new(); n];
        for (k, m) in [&self.a, &self.b, &self.c].into_iter().enumerate() {
            for (r, row) in m.iter().enumerate() {
                for (coeff, i) in row {
                    cols[*i].push((r, k as u8, *coeff));
                }
            }
        }
        (0..n)
            .map(|v| {
                let mut touched: std::collections::BTreeMap<usize, (Fr, Fr, Fr)> = Default::default();
                for (r, k, coeff) in &cols[v] {
                    let e = touched.entry(*r).or_insert((va[*r], vb[*r], vc[*r]));
                    match k {
                        0 => e.0 += *coeff * delta,
                        1 => e.1 += *coeff * delta,
                        _ => e.2 += *coeff * delta,
                    }
                }
                touched.values().all(|(x, y, w)| *x * y == *w)
            })
            .collect()
    }
}
