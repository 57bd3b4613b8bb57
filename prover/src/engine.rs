//! The Groth16 prover, prepared once per proving key.
//!
//! Why not `Groth16::prove`: arkworks builds the constraint matrices on every proof (inlining every
//! linear combination costs more than synthesising the witness), only `debug_assert!`s
//! satisfiability, and runs its MSMs over every base and scalar. Here:
//!
//! - no matrices at all: the witness is synthesised once with its linear-combination values
//!   recorded, so each constraint's `⟨Aᵢ,z⟩, ⟨Bᵢ,z⟩, ⟨Cᵢ,z⟩` is read off, not recomputed from
//!   inlined rows. Every row is checked (`a·b = c`) before anything is proved, and the QAP quotient
//!   is computed from those values in the circom style the ceremony's keys need
//!   ([`crate::reduction::CircomReduction`] is its arkworks-trait twin, compared in tests);
//! - the A/B queries are compacted to their non-identity bases (~30% of the B query is the identity),
//!   and in every MSM zero scalars are dropped and bases with scalar one are summed instead of
//!   entering Pippenger's buckets;
//! - the `L` and `H` MSMs, which only ever appear summed in `C`, are one MSM over both queries;
//! - no MSM over the `B` query in G1: the proof is computed with zero blinding and then
//!   rerandomised (see `Prover::group_part`), which gives the same distribution of proofs as
//!   arkworks' `create_proof_with_assignment` without the `r·B₁` term that needs that MSM;
//! - every MSM splits its scalars GLV-style ([`crate::glv`]) and accumulates buckets in batch-affine
//!   form ([`crate::msm`]); with `parallel`, the MSMs and the quotient's FFTs share the threads;
//! - the `A` and `B` MSMs need only the assignment, so a second worker can compute them
//!   ([`crate::ab_queries`]) while the first computes the quotient and `C₀` (the browser's split).
//!
//! Tests check every proof with arkworks' own verifier and the row values against the setup
//! matrices.

use ark_bn254::{Bn254, Fr, G1Affine, G2Projective};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{FftField, Field, One, UniformRand, Zero};
use ark_groth16::{Proof, ProvingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, OptimizationGoal, SynthesisMode,
    R1CS_PREDICATE_LABEL,
};
use ark_std::rand::{CryptoRng, RngCore};
use healthcode_circuits::policy::Policy;
use healthcode_circuits::statement::{HealthCodeCircuit, PublicInputs, Witness, PUBLIC_INPUTS};

use crate::ab_queries::{AbQueries, AbSums};
use crate::prove::ProveError;

/// Bases of one MSM with the assignment index of each; identity bases are left out.
pub(crate) struct Sparse<G> {
    pub(crate) index: Vec<usize>,
    pub(crate) bases: Vec<G>,
}

impl<P: GLVConfig<ScalarField = Fr> + crate::msm::Buckets> Sparse<Affine<P>> {
    pub(crate) fn new(query: impl IntoIterator<Item = (usize, Affine<P>)>) -> Self {
        let (index, bases) = query.into_iter().filter(|(_, p)| !p.is_zero()).unzip();
        Self { index, bases }
    }

    /// `Σ scalar(index[j])·bases[j]`, where the scalars are `z` followed by `h`. Zero scalars are
    /// skipped and scalar-one bases added directly: a 0/1 value costs at most one addition instead
    /// of a share of every window.
    pub(crate) fn msm(&self, z: &[Fr], h: &[Fr]) -> Projective<P> {
        let mut ones = Projective::<P>::zero();
        let mut bases = Vec::with_capacity(self.bases.len());
        let mut big = Vec::with_capacity(self.bases.len());
        for (&i, base) in self.index.iter().zip(&self.bases) {
            let s = if i < z.len() { z[i] } else { h[i - z.len()] };
            if s.is_zero() {
                continue;
            }
            if s.is_one() {
                ones += base;
            } else {
                bases.push(*base);
                big.push(s);
            }
        }
        ones + crate::msm::msm(&bases, &big)
    }
}

/// A proving key prepared for proving many times.
pub struct Prover<'a> {
    policy: &'a Policy,
    pk: &'a ProvingKey<Bn254>,
    num_inputs: usize,
    /// The `A` (G1) and `B` (G2) queries, compacted.
    ab: AbQueries,
    /// `L` (indexed by assignment, from `num_inputs`) followed by `H` (indexed from `z.len()`).
    lh: Sparse<G1Affine>,
    domain: GeneralEvaluationDomain<Fr>,
    /// ω₂ₙ: the quotient is evaluated on the coset `ω₂ₙ·⟨ωₙ⟩`.
    odd_shift: Fr,
    /// The verifying key every proof is checked with before it leaves the device.
    check: ark_groth16::PreparedVerifyingKey<Bn254>,
}

fn synthesis(e: impl std::fmt::Display) -> ProveError {
    ProveError::Synthesis(e.to_string())
}

impl<'a> Prover<'a> {
    /// Checks the key's shape (the circuit digest was checked when it was loaded) and compacts its
    /// queries. No constraint synthesis here: the circuit is synthesised once per proof.
    pub fn new(policy: &'a Policy, pk: &'a ProvingKey<Bn254>) -> Result<Self, ProveError> {
        let num_inputs = pk.vk.gamma_abc_g1.len();
        let num_vars = pk.a_query.len();
        // The QAP domain has one point per constraint and per input; `H` one base per point.
        let domain = GeneralEvaluationDomain::<Fr>::new(pk.h_query.len()).ok_or(ProveError::KeyMismatch)?;
        let odd_shift = Fr::get_root_of_unity(2 * domain.size() as u64).ok_or(ProveError::KeyMismatch)?;
        if num_inputs != PUBLIC_INPUTS + 1
            || pk.b_g1_query.len() != num_vars
            || pk.b_g2_query.len() != num_vars
            || pk.l_query.len() + num_inputs != num_vars
            || domain.size() != pk.h_query.len()
        {
            return Err(ProveError::KeyMismatch);
        }
        let lh = pk
            .l_query
            .iter()
            .enumerate()
            .map(|(i, p)| (num_inputs + i, *p))
            .chain(pk.h_query.iter().enumerate().map(|(i, p)| (num_vars + i, *p)));
        Ok(Self {
            policy,
            pk,
            num_inputs,
            ab: AbQueries::new(pk),
            lh: Sparse::new(lh),
            domain,
            odd_shift,
            check: ark_groth16::prepare_verifying_key(&pk.vk),
        })
    }

    /// Checks proofs with the bundle's own verifying key instead of the copy inside the proving
    /// key, so a proving key whose queries were altered (with or without its embedded key) is
    /// caught before a code is shown.
    pub fn with_verifying_key(mut self, vk: &ark_groth16::VerifyingKey<Bn254>) -> Self {
        self.check = ark_groth16::prepare_verifying_key(vk);
        self
    }

    /// Whether `proof` verifies for `public` under the checking key.
    pub fn self_check(&self, proof: &Proof<Bn254>, public: &PublicInputs) -> bool {
        ark_groth16::Groth16::<Bn254>::verify_proof(&self.check, proof, &public.to_field_elements())
            == Ok(true)
    }

    pub fn policy(&self) -> &'a Policy {
        self.policy
    }

    /// The key's `A` and `B` queries, for a second worker (see [`crate::ab_queries`]).
    pub fn ab_queries(&self) -> &AbQueries {
        &self.ab
    }

    /// Synthesises the witness, refuses an unsatisfied assignment (naming the first failing
    /// constraint) and proves.
    pub fn prove<R: RngCore + CryptoRng>(
        &self,
        public: PublicInputs,
        witness: Witness,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, ProveError> {
        self.prove_assigned(self.assign(public, witness)?, None, rng)
    }

    /// Synthesises the witness and checks every constraint, naming the first that fails.
    pub fn assign(&self, public: PublicInputs, witness: Witness) -> Result<Assignment, ProveError> {
        let cs = synthesise(self.policy, public, witness)?;
        let (z, rows) = assignment_and_rows(&cs)?;
        drop(cs);
        if z.len() != self.pk.a_query.len() || rows[0].len() + self.num_inputs > self.domain.size() {
            return Err(ProveError::KeyMismatch);
        }
        if let Some(i) = (0..rows[0].len()).find(|&i| rows[0][i] * rows[1][i] != rows[2][i]) {
            return Err(ProveError::Unsatisfied(format!("#{i}")));
        }
        Ok(Assignment { z, rows: Some(rows), c0: None })
    }

    /// Computes the assignment's `C₀` (the quotient and the `L`/`H` MSM) now, if not yet: what the
    /// first worker does while a second computes [`AbSums`].
    pub fn compute_c(&self, assignment: &mut Assignment) {
        if let Some(rows) = assignment.rows.take() {
            assignment.c0 = Some(self.c0(&assignment.z, rows));
        }
    }

    /// The proof of a checked assignment, with its `A`/`B` sums from a second worker or, without
    /// them, computed here (alongside `C₀` with `parallel`). Draws `r₁ ≠ 0` then `r₂`.
    pub fn prove_assigned<R: RngCore + CryptoRng>(
        &self,
        assignment: Assignment,
        ab: Option<AbSums>,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, ProveError> {
        let r1 = loop {
            let r1 = Fr::rand(rng);
            if !r1.is_zero() {
                break r1;
            }
        };
        self.group_part(assignment, ab, r1, Fr::rand(rng))
    }

    /// The quotient's evaluations as the ceremony's `H` query expects them (the circom-style
    /// reduction snarkjs and every `.zkey` use): the rows, with the inputs appended to `A`, are
    /// interpolated on the domain and evaluated on its odd coset `ω₂ₙ·⟨ωₙ⟩`, where the vanishing
    /// polynomial is the constant −2; `a·b − c` there, unscaled, is what multiplies `H` (the
    /// `1/t` is in the key). Two FFTs fewer than coefficients would need.
    fn quotient(&self, rows: [Vec<Fr>; 3], z: &[Fr]) -> Vec<Fr> {
        let domain = self.domain;
        let n = domain.size();
        let [mut a, mut b, mut c] = rows;
        debug_assert!(a.len() + self.num_inputs <= n);
        a.extend_from_slice(&z[..self.num_inputs]);
        for v in [&mut a, &mut b, &mut c] {
            v.resize(n, Fr::zero());
        }
        let odd = domain.get_coset(self.odd_shift).expect("ω₂ₙ gives a coset");
        let to_coset = |v: &mut Vec<Fr>| {
            domain.ifft_in_place(v);
            odd.fft_in_place(v);
        };
        join(|| to_coset(&mut a), || join(|| to_coset(&mut b), || to_coset(&mut c)));
        a.iter().zip(&b).zip(&c).map(|((x, y), w)| *x * y - w).collect()
    }

    /// The proof with zero blinding, `A₀ = α + Σ zᵢaᵢ`, `B₀ = β + Σ zᵢbᵢ`,
    /// `C₀ = Σ_aux zᵢlᵢ + Σ hᵢHᵢ` (`h` the [quotient](Self::quotient) of the rows), rerandomised with `r₁ ≠ 0` and `r₂`:
    /// `A = A₀/r₁`, `B = r₁(B₀ + r₂δ)`, `C = C₀ + r₂A₀`.
    ///
    /// This passes the same check (`e(A,B) = e(A₀,B₀)·e(r₂A₀,δ)`) and has the distribution of
    /// arkworks' blinded proofs, which is what zero knowledge rests on: there `A` is uniform in G1
    /// (the `rδ` term) and `B` uniform in G2 independently of `A` (the `sδ` term), and `C` is fixed
    /// by the verification equation. Here `A` is uniform in G1 minus the identity (`r₁` uniform,
    /// `A₀ ≠ 0`), `B` uniform given `A` (`r₂` uniform), and `C` again fixed: the two differ by the
    /// probability `1/|G1|` that a blinded `A` is the identity. Unblinded `C₀` lacks the
    /// `sA + rB₁ − rsδ` terms, so the MSM over the key's `B` query in G1 is never needed.
    ///
    /// `A₀ = 0` would mean the witness met `α = −Σ zᵢaᵢ(τ)`, a relation on the setup's secrets; it
    /// is refused rather than rerandomised (dividing it would leave `A = 0`).
    ///
    /// With `parallel`, the quotient and the `L`/`H` MSM that needs it run alongside the `A` and
    /// `B` MSMs, which need only `z`: idle threads take windows of any MSM or a share of the FFTs
    /// instead of waiting for each step.
    fn group_part(
        &self,
        assignment: Assignment,
        ab: Option<AbSums>,
        r1: Fr,
        r2: Fr,
    ) -> Result<Proof<Bn254>, ProveError> {
        let pk = self.pk;
        let Assignment { z, rows, c0 } = assignment;
        let c0 = || match (c0, rows) {
            (Some(c0), _) => c0,
            (None, Some(rows)) => self.c0(&z, rows),
            (None, None) => unreachable!("an assignment keeps its rows until C₀ is computed"),
        };
        let (c0, sums) = match ab {
            Some(sums) => (c0(), sums),
            None => join(c0, || self.ab.sums_of(&z)),
        };
        let (a0, b0): (_, G2Projective) = (sums.a + pk.vk.alpha_g1, sums.b + pk.vk.beta_g2);
        if a0.is_zero() {
            return Err(ProveError::Degenerate);
        }
        let r1_inv = r1.inverse().expect("r₁ ≠ 0");
        let a = a0 * r1_inv;
        let b = (b0 + pk.vk.delta_g2 * r2) * r1;
        let c = c0 + a0 * r2;
        Ok(Proof { a: a.into_affine(), b: b.into_affine(), c: c.into_affine() })
    }
}

impl Prover<'_> {
    /// `C₀ = Σ_aux zᵢlᵢ + Σ hᵢHᵢ`.
    fn c0(&self, z: &[Fr], rows: [Vec<Fr>; 3]) -> ark_bn254::G1Projective {
        self.lh.msm(z, &self.quotient(rows, z))
    }
}

/// A synthesised assignment whose every constraint holds, on its way to a proof: `z = (1, inputs,
/// witnesses)` and each constraint's `A`, `B`, `C` values until `C₀` is computed from them.
pub struct Assignment {
    z: Vec<Fr>,
    rows: Option<[Vec<Fr>; 3]>,
    c0: Option<ark_bn254::G1Projective>,
}

impl Assignment {
    /// `z`, what the `A`/`B` MSMs need ([`AbQueries::sums`]).
    pub fn z(&self) -> &[Fr] {
        &self.z
    }
}

/// `rayon::join` with `parallel`; one after the other without.
pub(crate) fn join<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    #[cfg(feature = "parallel")]
    return rayon::join(a, b);
    #[cfg(not(feature = "parallel"))]
    (a(), b())
}

/// Synthesises the circuit in prove mode, recording the value of every linear combination (what
/// makes the rows readable without matrices) but not inlining them.
fn synthesise(
    policy: &Policy,
    public: PublicInputs,
    witness: Witness,
) -> Result<ConstraintSystemRef<Fr>, ProveError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    // The same goal as key generation: gadgets may shape constraints by it.
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove { construct_matrices: true, generate_lc_assignments: true });
    HealthCodeCircuit::new(policy, public, witness).generate_constraints(cs.clone()).map_err(synthesis)?;
    Ok(cs)
}

/// The full assignment `z = (1, inputs, witnesses)` and, per constraint, the values of its `A`,
/// `B` and `C` combinations.
fn assignment_and_rows(cs: &ConstraintSystemRef<Fr>) -> Result<(Vec<Fr>, [Vec<Fr>; 3]), ProveError> {
    let cs = cs.borrow().ok_or_else(|| synthesis("no constraint system"))?;
    let predicates = &cs.predicate_constraint_systems;
    if predicates.len() != 1 {
        return Err(synthesis("the circuit has predicates other than R1CS"));
    }
    let r1cs = predicates.get(R1CS_PREDICATE_LABEL).ok_or_else(|| synthesis("no R1CS predicate"))?;
    let lcs = r1cs.get_constraints();
    if lcs.len() != 3 {
        return Err(synthesis("R1CS constraints do not have three sides"));
    }
    let mut rows = [Vec::new(), Vec::new(), Vec::new()];
    for (side, vars) in rows.iter_mut().zip(lcs) {
        *side = vars
            .iter()
            .map(|v| cs.assigned_value(*v).ok_or_else(|| synthesis("a constraint has no value")))
            .collect::<Result<_, _>>()?;
    }
    let mut z = cs.assignments.instance_assignment.clone();
    z.extend_from_slice(&cs.assignments.witness_assignment);
    Ok((z, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_relations::gr1cs::Matrix;

    /// The public inputs and witness of fixture holder `i`'s code.
    fn statement(f: &crate::fixtures::Fixture, i: usize) -> (PublicInputs, Witness) {
        let holder = &f.population.holders[i];
        let challenge = healthcode_circuits::hashes::challenge("venue:test");
        let (verdict, _) = crate::explain(&f.policy, &holder.witness, f.population.now).unwrap();
        let public = PublicInputs {
            root: f.population.head.root,
            now: f.population.now,
            colour: verdict.colour,
            challenge,
            binding_tag: holder.witness.binding_tag(challenge),
        };
        (public, holder.witness.clone())
    }

    /// The blinding is exactly the rerandomisation `A = A₀/r₁`, `B = r₁(B₀ + r₂δ)`,
    /// `C = C₀ + r₂A₀` of the unblinded proof `(r₁, r₂) = (1, 0)`.
    #[test]
    fn blinding_rerandomises_the_unblinded_proof() {
        use ark_ec::AffineRepr;
        let f = crate::fixtures::Fixture::shared();
        let (public, witness) = statement(f, 1);
        let prover = Prover::new(&f.policy, &f.keys.proving_key).unwrap();
        let plain = prover
            .group_part(prover.assign(public, witness.clone()).unwrap(), None, Fr::one(), Fr::zero())
            .unwrap();
        let (r1, r2) = (Fr::from(7u64), Fr::from(11u64));
        let blinded = prover.group_part(prover.assign(public, witness).unwrap(), None, r1, r2).unwrap();
        let delta = f.keys.proving_key.vk.delta_g2;
        assert_eq!(blinded.a * r1, plain.a.into_group());
        assert_eq!(blinded.b, ((plain.b + delta * r2) * r1).into_affine());
        assert_eq!(blinded.c, (plain.c + plain.a * r2).into_affine());
        let pvk = ark_groth16::prepare_verifying_key(&f.keys.verifying_key);
        let inputs = public.to_field_elements();
        for proof in [&plain, &blinded] {
            assert_eq!(ark_groth16::Groth16::<Bn254>::verify_proof(&pvk, proof, &inputs), Ok(true));
        }
    }

    /// With `(r₁, r₂) = (1, 0)` the proof is arkworks' unblinded one (`r = s = 0`) bit for bit, and
    /// `prove` with a seeded RNG is exactly arkworks' `rerandomize_proof` of it with the same RNG
    /// (both draw `r₁` then `r₂`): the quotient, the compacted MSMs and the blinding all agree
    /// with arkworks, and every proof passes arkworks' verifier.
    #[test]
    fn proofs_equal_arkworks_unblinded_and_rerandomised() {
        use ark_std::rand::{rngs::StdRng, SeedableRng};
        type G = ark_groth16::Groth16<Bn254, crate::reduction::CircomReduction>;
        let f = crate::fixtures::Fixture::shared();
        let pk = &f.keys.proving_key;
        let pvk = ark_groth16::prepare_verifying_key(&f.keys.verifying_key);
        let prover = Prover::new(&f.policy, pk).unwrap();
        let (public, witness) = statement(f, 0);
        let inputs = public.to_field_elements();
        let circuit = HealthCodeCircuit::new(&f.policy, public, witness.clone());
        let unblinded = G::create_proof_with_reduction_no_zk(circuit, pk).unwrap();
        let assignment = prover.assign(public, witness.clone()).unwrap();
        assert_eq!(prover.group_part(assignment, None, Fr::one(), Fr::zero()).unwrap(), unblinded);
        for seed in 0..3 {
            let ours = prover.prove(public, witness.clone(), &mut StdRng::seed_from_u64(seed)).unwrap();
            let theirs =
                G::rerandomize_proof(&f.keys.verifying_key, &unblinded, &mut StdRng::seed_from_u64(seed));
            assert_eq!(ours, theirs, "seed {seed}");
            assert_eq!(G::verify_proof(&pvk, &ours, &inputs), Ok(true));
        }
    }

    /// `Sparse::msm` against the naive sum: identity bases dropped, zero and one scalars taken by
    /// the shortcuts, indices past `z` read from `h`, repeated bases.
    #[test]
    fn sparse_msm_is_the_indexed_sum() {
        use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(3);
        let (nz, nh) = (40, 25);
        let z: Vec<Fr> = (0..nz)
            .map(|i| match i % 4 {
                0 => Fr::zero(),
                1 => Fr::one(),
                2 => -Fr::one(),
                _ => Fr::rand(&mut rng),
            })
            .collect();
        let h: Vec<Fr> = (0..nh).map(|i| if i % 5 == 0 { Fr::one() } else { Fr::rand(&mut rng) }).collect();
        let p = ark_bn254::G1Projective::rand(&mut rng).into_affine();
        // Every index once, some twice, with identity and repeated bases among them.
        let mut query: Vec<(usize, G1Affine)> = (0..nz + nh)
            .map(|i| match i % 7 {
                0 => (i, G1Affine::zero()),
                1 => (i, p),
                _ => (i, ark_bn254::G1Projective::rand(&mut rng).into_affine()),
            })
            .collect();
        query.extend((0..20).map(|_| (rng.gen_range(0..nz + nh), p)));
        let scalar = |i: usize| if i < nz { z[i] } else { h[i - nz] };
        let expected: ark_bn254::G1Projective = query.iter().map(|(i, b)| *b * scalar(*i)).sum();
        let sparse = Sparse::new(query.iter().copied());
        assert!(sparse.bases.iter().all(|b| !b.is_zero()));
        assert_eq!(sparse.msm(&z, &h), expected);
        // All scalars zero or one: no Pippenger at all.
        let bits: Vec<Fr> = (0..nz).map(|i| if i % 2 == 0 { Fr::one() } else { Fr::zero() }).collect();
        let only_z = Sparse::new(query.iter().copied().filter(|(i, _)| *i < nz));
        let expected: ark_bn254::G1Projective =
            query.iter().filter(|(i, _)| *i < nz).map(|(i, b)| *b * bits[*i]).sum();
        assert_eq!(only_z.msm(&bits, &[]), expected);
    }

    /// The row values read from the prove-mode synthesis are the setup matrices times `z`: the
    /// prover checks and proves the very constraint system the key was made for.
    #[test]
    fn rows_equal_setup_matrices_times_assignment() {
        let f = crate::fixtures::Fixture::shared();
        let (public, witness) = statement(f, 2);
        let cs = synthesise(&f.policy, public, witness).unwrap();
        let (z, rows) = assignment_and_rows(&cs).unwrap();

        let setup = ConstraintSystem::<Fr>::new_ref();
        setup.set_optimization_goal(OptimizationGoal::Constraints);
        setup.set_mode(SynthesisMode::Setup);
        HealthCodeCircuit::for_setup(&f.policy).generate_constraints(setup.clone()).unwrap();
        setup.finalize();
        let matrices: Vec<Matrix<Fr>> = setup.to_matrices().unwrap().remove(R1CS_PREDICATE_LABEL).unwrap();
        assert_eq!(rows[0].len(), setup.num_constraints());
        for (side, matrix) in rows.iter().zip(&matrices) {
            for (value, row) in side.iter().zip(matrix) {
                let dot: Fr = row.iter().map(|(c, i)| *c * z[*i]).sum();
                assert_eq!(*value, dot);
            }
        }
    }
}
