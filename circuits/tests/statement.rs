//! The statement circuit on the example policy: every colour, pinned shape, and the negative tests
//! of docs/soundness.md §1, §2, §4 and §5.

mod common;

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field, PrimeField};
use common::*;
use healthcode_circuits::{
    policy::{evaluate, Colour},
    statement::{circuit_info, PUBLIC_INPUTS},
    time::MAX_TIME,
    tree::INDEX_BITS,
};

/// A positive test two days ago: red.
fn red_state() -> Vec<u64> {
    vec![NOW - 2 * DAY, 0, 0, 0]
}

#[test]
fn pinned_shape_of_the_example_circuit() {
    // Changing any of these is a visible decision: the keys and every auditor's digest change.
    let info = circuit_info(&example()).unwrap();
    assert_eq!(info.constraints, 6_309);
    assert_eq!(info.public_inputs, PUBLIC_INPUTS);
    assert_eq!(info.public_inputs, 5);
    assert_eq!(info.witnesses, 6_351);
    assert_eq!(info.digest, "503d3cc0c1ca1006bd0a8dcf8d1a17d4ddfaa2e7c73a404ee352d81afa44d066");
    assert!(info.constraints <= 10_000, "issue target");
}

#[test]
fn digest_depends_on_the_policy_meaning_only() {
    let p = example();
    let reformatted = EXAMPLE.replace("14d", "336h").replace(" = ", "=").replace("# ", "#  ");
    assert_eq!(
        circuit_info(&healthcode_circuits::policy::Policy::parse(&reformatted).unwrap()).unwrap(),
        circuit_info(&p).unwrap()
    );
    let edited = EXAMPLE.replace("within(close_contact, 14d)", "within(close_contact, 15d)");
    let q = healthcode_circuits::policy::Policy::parse(&edited).unwrap();
    assert_ne!(circuit_info(&q).unwrap().digest, circuit_info(&p).unwrap().digest);
}

#[test]
fn every_colour_is_provable_exactly_when_the_evaluator_gives_it() {
    let p = example();
    let cases = [
        (vec![0, NOW - 30 * DAY, 0, 0], Colour::Green),
        (red_state(), Colour::Red),
        (vec![0, 0, NOW - 3 * DAY, 0], Colour::Red),
        (vec![0, 0, 0, NOW - DAY], Colour::Yellow),
        // Cleared: negative test 7+ days after the positive one.
        (vec![NOW - 10 * DAY, NOW - 3 * DAY, 0, 0], Colour::Green),
        // The depositor: only negative tests.
        (vec![0, NOW - DAY, 0, 0], Colour::Green),
    ];
    for (state, expected) in cases {
        assert_eq!(evaluate(&p, &state, NOW).unwrap().colour, expected);
        for colour in Colour::ALL {
            for bind in [false, true] {
                let (public, witness) = fixture(state.clone(), NOW, colour, bind);
                assert_eq!(accepts(&p, public, witness), colour == expected, "{state:?} as {colour}");
            }
        }
    }
}

/// docs/soundness.md §1: every witness variable is constrained. The only variables that may change
/// without breaking a constraint are the inverse hints of `x == 0` tests whose operand is zero
/// (r1cs-std's `is_neq` sets them to 1 and nothing else can depend on them).
#[test]
fn witness_tamper_sweep() {
    let p = example();
    // No time zero: no free hint at all. Two times zero: exactly their two zero-test hints.
    for (state, expected_free) in [
        (vec![NOW - 20 * DAY, NOW - 19 * DAY, NOW - 30 * DAY, NOW - 40 * DAY], 0usize),
        (vec![NOW - 2 * DAY, NOW - DAY, 0, 0], 2),
    ] {
        let colour = evaluate(&p, &state, NOW).unwrap().colour;
        let (public, witness) = fixture(state, NOW, colour, true);
        let cs = synthesize(&p, public, witness).unwrap();
        let rel = Relation::of(&cs);
        assert!(rel.satisfied_by(&rel.z));
        for delta in [Fr::ONE, -Fr::ONE, Fr::from(2u64).inverse().unwrap()] {
            let free = rel.free_under_perturbation(delta);
            assert!(!free[0], "the constant one is fixed");
            for (i, f) in free.iter().enumerate().take(rel.num_instance).skip(1) {
                assert!(!f, "public input {i} perturbed must be rejected (docs/soundness.md §5)");
            }
            let free_witness: Vec<usize> = (rel.num_instance..rel.z.len()).filter(|&i| free[i]).collect();
            assert_eq!(free_witness.len(), expected_free, "unconstrained witnesses: {free_witness:?}");
            for &i in &free_witness {
                assert_eq!(rel.z[i], Fr::ONE, "only is-zero hints (value 1 when the operand is 0)");
            }
        }
    }
}

/// docs/soundness.md §5 on the relation: each public input +1, with the witness fixed, is rejected.
#[test]
fn each_public_input_plus_one_is_rejected() {
    let p = example();
    let (public, witness) = fixture(red_state(), NOW, Colour::Red, true);
    let rel = Relation::of(&synthesize(&p, public, witness).unwrap());
    assert_eq!(rel.num_instance, 1 + PUBLIC_INPUTS);
    for i in 1..rel.num_instance {
        let mut z = rel.z.clone();
        z[i] += Fr::ONE;
        assert!(!rel.satisfied_by(&z), "public input {i}");
    }
}

/// docs/soundness.md §2: `now` is range-checked before any comparison.
#[test]
fn now_is_range_checked() {
    let p = example();
    let state = vec![0, NOW - DAY, 0, 0];
    let (public, witness) = fixture(state.clone(), MAX_TIME, Colour::Green, false);
    assert!(accepts(&p, public, witness), "2^40 - 1 is a valid time");
    let minus_one = -Fr::ONE;
    let half_plus_one = Fr::from_bigint(Fr::MODULUS_MINUS_ONE_DIV_TWO).unwrap() + Fr::ONE;
    for bad in [Fr::from(1u64 << 40), minus_one, half_plus_one] {
        // Build an honest relation at some `now`, then present `bad` as `now` with any witness
        // the prover likes: the range-check bits cannot sum to it.
        let (public, witness) = fixture(state.clone(), NOW, Colour::Green, false);
        let rel = Relation::of(&synthesize(&p, public, witness).unwrap());
        let mut z = rel.z.clone();
        z[2] = bad;
        assert!(!rel.satisfied_by(&z));
    }
}

/// §2 for state times: a time ≥ 2^40 cannot be expressed, and the prover is refused.
#[test]
fn state_times_are_range_checked() {
    let p = example();
    let (public, witness) = fixture(vec![MAX_TIME, 0, 0, 0], NOW, Colour::Red, false);
    assert!(accepts(&p, public, witness), "2^40 - 1 accepted (an event after now: within() holds)");
    assert_eq!(evaluate(&p, &[MAX_TIME, 0, 0, 0], NOW).unwrap().colour, Colour::Red);
    for bad in [1u64 << 40, u64::MAX] {
        let (public, mut witness) = fixture(vec![0, 0, 0, 0], NOW, Colour::Green, false);
        witness.state[0] = bad;
        assert!(!accepts(&p, public, witness));
        assert!(evaluate(&p, &[bad, 0, 0, 0], NOW).is_err());
    }
}

/// §4: the path is bound to the index and direction bits are boolean.
#[test]
fn merkle_path_is_bound_to_index_and_root() {
    let p = example();
    let state = red_state();
    let (public, witness) = fixture(state.clone(), NOW, Colour::Red, false);
    assert!(accepts(&p, public, witness.clone()));
    for flip in [1u32, 2, 4, 1 << 16, 1 << 31] {
        let mut w = witness.clone();
        w.leaf_index ^= flip;
        assert!(!accepts(&p, public, w), "wrong index (xor {flip:#x})");
    }
    let mut w = witness.clone();
    w.path.siblings[7][1] += Fr::ONE;
    assert!(!accepts(&p, public, w), "tampered sibling");
    let mut wrong_root = public;
    wrong_root.root += Fr::ONE;
    assert!(!accepts(&p, wrong_root, witness.clone()), "membership is enforced");
    let mut w = witness.clone();
    w.sk += Fr::ONE;
    assert!(!accepts(&p, public, w), "someone else's secret");
    let mut w = witness.clone();
    w.state[1] = NOW - 3 * DAY;
    assert!(!accepts(&p, public, w), "a state the registry never committed");

    // A raw direction bit of 2: locate the index bits in z (they follow sk, id_hash and the
    // 4 × 40 time bits) and set one to 2 — booleanity fails.
    let rel = Relation::of(&synthesize(&p, public, witness).unwrap());
    let first_index_bit = rel.num_instance + 2 + 4 * 40;
    for b in 0..INDEX_BITS {
        let i = first_index_bit + b;
        assert!(rel.z[i] == Fr::ZERO || rel.z[i] == Fr::ONE);
        let mut z = rel.z.clone();
        z[i] = Fr::from(2u64);
        assert!(!rel.satisfied_by(&z), "index bit {b} = 2");
    }
    assert_eq!(
        (0..INDEX_BITS).map(|b| (rel.z[first_index_bit + b] == Fr::ONE) as u32 * (1 << b)).sum::<u32>(),
        INDEX,
        "the located variables are the index bits"
    );
}

#[test]
fn binding_tag_is_enforced() {
    let p = example();
    let state = vec![0, 0, 0, NOW - DAY];
    let (public, witness) = fixture(state.clone(), NOW, Colour::Yellow, true);
    assert_ne!(public.binding_tag, Fr::ZERO);
    assert!(accepts(&p, public, witness.clone()));
    let mut zero = public;
    zero.binding_tag = Fr::ZERO;
    assert!(!accepts(&p, zero, witness.clone()), "a bound proof cannot claim no binding");
    let mut other = public;
    other.challenge += Fr::ONE;
    assert!(!accepts(&p, other, witness.clone()), "tag is for one challenge");
    let (unbound, w) = fixture(state, NOW, Colour::Yellow, false);
    let mut forged = unbound;
    forged.binding_tag = public.binding_tag;
    assert!(!accepts(&p, forged, w), "an unbound witness cannot present a tag");
}
