//! The Groth16 prover, prepared once per proving key.
//!
//! Why not `Groth16::prove`: arkworks re-derives the constraint matrices on every proof (LC
//! inlining costs more than synthesising the witness), only `debug_assert!`s satisfiability, and
//! runs its MSMs over every base, including the ~30% of B-query points that are the identity
//! because their variable never appears on the B side. Here the matrices are built once, each
//! assignment is checked against them row by row before anything is proved, and the A/B queries
//! are compacted to their non-identity bases. The group equations are those of arkworks'
//! `create_proof_with_assignment` (same keys, same proofs' distribution); tests check that every
//! proof verifies with arkworks' own verifier.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{PrimeField, UniformRand};
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_groth16::{Proof, ProvingKey};
use ark_poly::GeneralEvaluationDomain;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, Matrix, OptimizationGoal, SynthesisMode, R1CS_PREDICATE_LABEL,
};
use ark_std::rand::{CryptoRng, RngCore};
use healthcode_circuits::policy::Policy;
use healthcode_circuits::statement::{HealthCodeCircuit, PublicInputs, Witness};

use crate::prove::ProveError;

/// A query compacted to its non-identity bases, with the assignment index of each.
struct Sparse<G> {
    index: Vec<usize>,
    bases: Vec<G>,
}

impl<G: AffineRepr> Sparse<G> {
    fn new(query: &[G]) -> Self {
        let (index, bases) =
            query.iter().enumerate().filter(|(_, p)| !p.is_zero()).map(|(i, p)| (i, *p)).unzip();
        Self { index, bases }
    }

    fn msm(&self, assignment: &[<Fr as PrimeField>::BigInt]) -> G::Group
    where
        G::Group: VariableBaseMSM<MulBase = G, ScalarField = Fr>,
    {
        let scalars: Vec<_> = self.index.iter().map(|&i| assignment[i]).collect();
        G::Group::msm_bigint(&self.bases, &scalars)
    }
}

/// A proving key with its circuit's matrices, ready to prove many times.
pub struct Prover<'a> {
    policy: &'a Policy,
    pk: &'a ProvingKey<Bn254>,
    /// A, B, C of the R1CS.
    matrices: Vec<Matrix<Fr>>,
    num_inputs: usize,
    num_constraints: usize,
    a: Sparse<G1Affine>,
    b_g1: Sparse<G1Affine>,
    b_g2: Sparse<G2Affine>,
}

fn synthesis(e: impl std::fmt::Display) -> ProveError {
    ProveError::Synthesis(e.to_string())
}

/// `Σ coeff·z[col]` over one matrix row.
fn row_dot(row: &[(Fr, usize)], z: &[Fr]) -> Fr {
    row.iter().map(|(c, i)| *c * z[*i]).sum()
}

impl<'a> Prover<'a> {
    /// Builds the matrices of `policy`'s circuit (as key generation did) and checks the key fits
    /// them. The key's circuit digest was checked when it was loaded.
    pub fn new(policy: &'a Policy, pk: &'a ProvingKey<Bn254>) -> Result<Self, ProveError> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        HealthCodeCircuit::for_setup(policy).generate_constraints(cs.clone()).map_err(synthesis)?;
        cs.finalize();
        let mut all = cs.to_matrices().map_err(synthesis)?;
        if all.len() != 1 {
            return Err(synthesis("the circuit has predicates other than R1CS"));
        }
        let matrices = all.remove(R1CS_PREDICATE_LABEL).ok_or_else(|| synthesis("no R1CS predicate"))?;
        let num_inputs = cs.num_instance_variables();
        let num_vars = num_inputs + cs.num_witness_variables();
        let num_constraints = cs.num_constraints();
        if matrices.len() != 3
            || pk.vk.gamma_abc_g1.len() != num_inputs
            || pk.a_query.len() != num_vars
            || pk.b_g1_query.len() != num_vars
            || pk.b_g2_query.len() != num_vars
            || pk.l_query.len() != num_vars - num_inputs
        {
            return Err(ProveError::KeyMismatch);
        }
        Ok(Self {
            policy,
            pk,
            matrices,
            num_inputs,
            num_constraints,
            a: Sparse::new(&pk.a_query),
            b_g1: Sparse::new(&pk.b_g1_query),
            b_g2: Sparse::new(&pk.b_g2_query),
        })
    }

    pub fn policy(&self) -> &'a Policy {
        self.policy
    }

    /// Synthesises the witness, refuses an unsatisfied assignment (naming the first failing
    /// constraint) and proves.
    pub fn prove<R: RngCore + CryptoRng>(
        &self,
        public: PublicInputs,
        witness: Witness,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, ProveError> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Prove { construct_matrices: false, generate_lc_assignments: false });
        HealthCodeCircuit::new(self.policy, public, witness)
            .generate_constraints(cs.clone())
            .map_err(synthesis)?;
        let mut z = cs.instance_assignment().map_err(synthesis)?;
        z.extend(cs.witness_assignment().map_err(synthesis)?);
        if cs.num_instance_variables() != self.num_inputs || z.len() != self.pk.a_query.len() {
            return Err(ProveError::KeyMismatch);
        }
        let (ma, mb, mc) = (&self.matrices[0], &self.matrices[1], &self.matrices[2]);
        for (i, ((a, b), c)) in ma.iter().zip(mb).zip(mc).enumerate() {
            if row_dot(a, &z) * row_dot(b, &z) != row_dot(c, &z) {
                return Err(ProveError::Unsatisfied(format!("#{i}")));
            }
        }
        let h = LibsnarkReduction::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
            &self.matrices,
            self.num_inputs,
            self.num_constraints,
            &z,
        )
        .map_err(synthesis)?;
        Ok(self.group_part(&z, &h, Fr::rand(rng), Fr::rand(rng)))
    }

    /// `A = α + Σ zᵢaᵢ + rδ`, `B = β + Σ zᵢbᵢ + sδ`, `C = Σ_aux zᵢlᵢ + Σ hᵢHᵢ + sA + rB₁ − rsδ`.
    fn group_part(&self, z: &[Fr], h: &[Fr], r: Fr, s: Fr) -> Proof<Bn254> {
        let pk = self.pk;
        let zb: Vec<_> = z.iter().map(|x| x.into_bigint()).collect();
        let hb: Vec<_> = h.iter().map(|x| x.into_bigint()).collect();
        let h_acc = G1Projective::msm_bigint(&pk.h_query, &hb);
        let l_acc = G1Projective::msm_bigint(&pk.l_query, &zb[self.num_inputs..]);
        let g_a = self.a.msm(&zb) + pk.vk.alpha_g1 + pk.delta_g1 * r;
        let g1_b = self.b_g1.msm(&zb) + pk.beta_g1 + pk.delta_g1 * s;
        let g2_b: G2Projective = self.b_g2.msm(&zb) + pk.vk.beta_g2 + pk.vk.delta_g2 * s;
        let g_c = g_a * s + g1_b * r - pk.delta_g1 * (r * s) + l_acc + h_acc;
        Proof { a: g_a.into_affine(), b: g2_b.into_affine(), c: g_c.into_affine() }
    }
}
