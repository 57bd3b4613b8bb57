//! Constraint generation for the example policy: what key generation, the auditor and every
//! prover pay before any cryptography.

use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode};
use criterion::{criterion_group, criterion_main, Criterion};
use healthcode_circuits::{
    policy::Policy,
    statement::{circuit_info, HealthCodeCircuit},
};

fn bench(c: &mut Criterion) {
    let policy = Policy::parse(include_str!("../policies/henan-2022.toml")).unwrap();
    c.bench_function("policy/parse", |b| {
        b.iter(|| Policy::parse(include_str!("../policies/henan-2022.toml")).unwrap())
    });
    c.bench_function("circuit/generate-constraints (setup mode)", |b| {
        b.iter(|| {
            let cs = ConstraintSystem::<Fr>::new_ref();
            cs.set_optimization_goal(OptimizationGoal::Constraints);
            cs.set_mode(SynthesisMode::Setup);
            HealthCodeCircuit::for_setup(&policy).generate_constraints(cs.clone()).unwrap();
            cs.finalize();
            cs.num_constraints()
        })
    });
    c.bench_function("circuit/digest", |b| b.iter(|| circuit_info(&policy).unwrap()));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
