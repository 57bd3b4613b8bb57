//! Proving: every colour the rules give is provable and verifies; no other colour is; each public
//! input is bound; proofs are rerandomisable without changing any decision.

use ark_bn254::{Bn254, Fr};
use ark_groth16::Groth16;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal};
use ark_std::rand::{rngs::StdRng, SeedableRng};
use healthcode_circuits::hashes;
use healthcode_circuits::policy::Colour;
use healthcode_circuits::statement::{HealthCodeCircuit, PublicInputs, PUBLIC_INPUTS};
use healthcode_prover::fixtures::{Fixture, DAY};
use healthcode_prover::{prove, ProveError, ProveRequest};
use healthcode_verifier::checkpoint::ProofCheckError;

fn request(f: &Fixture, claim: Option<Colour>) -> ProveRequest {
    ProveRequest {
        head: f.population.head,
        now: f.population.now,
        challenge: hashes::challenge("venue:zhengzhou-east-station"),
        bind: false,
        claim,
    }
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(99)
}

#[test]
fn every_colour_is_provable_and_verifies() {
    let f = Fixture::shared();
    let checkpoint = f.checkpoint();
    for holder in &f.population.holders {
        for bind in [false, true] {
            let proved = f.prove(holder, "venue:zhengzhou-east-station", bind);
            assert_eq!(proved.verdict.colour, holder.expected, "{}", holder.name);
            assert_eq!(proved.payload.colour, holder.expected);
            assert_eq!(proved.payload.binding_tag.is_some(), bind);
            let id = bind.then(|| hashes::id_hash(&holder.document_number));
            let code = proved.payload.encode().unwrap();
            let got = checkpoint.verify(&code, f.population.now + 10, Some(proved.public.challenge), id);
            assert_eq!(got, Ok(holder.expected), "{} bind={bind}", holder.name);
        }
    }
    let colours: std::collections::BTreeSet<_> = f.population.holders.iter().map(|h| h.expected).collect();
    assert_eq!(colours.len(), 3, "the fixture covers green, yellow and red");
}

#[test]
fn the_explanation_names_the_rule_and_its_events() {
    let f = Fixture::shared();
    let red = &f.population.holders[0];
    let proved = f.prove(red, "slot:2022-06-14T12", false);
    let e = &proved.explanation;
    assert_eq!((e.colour, e.rule), (Colour::Red, Some(0)));
    assert!(e.because.as_deref().unwrap().contains("positive test"));
    let kinds: Vec<_> = e.events.iter().map(|x| x.kind.as_str()).collect();
    assert_eq!(kinds, ["positive_test", "negative_test"]);
    assert_eq!(e.events[0].time, f.population.now - 2 * DAY);
    let green = f.prove(f.population.holder(Colour::Green), "slot:2022-06-14T12", false);
    assert_eq!((green.explanation.rule, green.explanation.events.len()), (None, 0));
    assert!(green.explanation.to_string().contains("default"));
}

#[test]
fn a_colour_the_state_does_not_give_cannot_be_proved() {
    let f = Fixture::shared();
    for holder in &f.population.holders {
        for claimed in Colour::ALL.into_iter().filter(|c| *c != holder.expected) {
            // The prover refuses ...
            let err = prove(
                &f.policy,
                &f.keys.proving_key,
                &holder.witness,
                &request(f, Some(claimed)),
                &mut rng(),
            )
            .unwrap_err();
            assert!(matches!(err, ProveError::ColourNotGiven { .. }), "{err}");
            // ... and the circuit itself is unsatisfiable with that colour as public input.
            let r = request(f, None);
            let public = PublicInputs {
                root: r.head.root,
                now: r.now,
                colour: claimed,
                challenge: r.challenge,
                binding_tag: Fr::from(0u64),
            };
            let cs = ConstraintSystem::<Fr>::new_ref();
            cs.set_optimization_goal(OptimizationGoal::Constraints);
            HealthCodeCircuit::new(&f.policy, public, holder.witness.clone())
                .generate_constraints(cs.clone())
                .unwrap();
            cs.finalize();
            assert!(!cs.is_satisfied().unwrap(), "{} as {claimed}", holder.name);
            // ... and the low-level prover refuses rather than emitting a bogus proof.
            let err = healthcode_prover::groth16_prove(
                &f.policy,
                &f.keys.proving_key,
                public,
                holder.witness.clone(),
                &mut rng(),
            )
            .unwrap_err();
            assert!(matches!(err, ProveError::Unsatisfied(_)), "{err}");
        }
    }
}

#[test]
fn a_witness_not_under_the_root_is_refused() {
    let f = Fixture::shared();
    let green = f.population.holder(Colour::Green);
    // A forged state (the 2022 attack: a red mark without a signed event) changes the leaf.
    let mut forged = green.witness.clone();
    forged.state[f.policy.event_index("close_contact").unwrap()] = f.population.now - DAY;
    let err = prove(&f.policy, &f.keys.proving_key, &forged, &request(f, Some(Colour::Red)), &mut rng())
        .unwrap_err();
    assert!(matches!(err, ProveError::NotInTree { epoch: 7 }), "{err}");
    // A wrong leaf index.
    let mut moved = green.witness.clone();
    moved.leaf_index ^= 1;
    let err = prove(&f.policy, &f.keys.proving_key, &moved, &request(f, None), &mut rng()).unwrap_err();
    assert!(matches!(err, ProveError::NotInTree { .. }), "{err}");
    // Another root.
    let mut r = request(f, None);
    r.head.root += Fr::from(1u64);
    let err = prove(&f.policy, &f.keys.proving_key, &green.witness, &r, &mut rng()).unwrap_err();
    assert!(matches!(err, ProveError::NotInTree { .. }), "{err}");
    // A truncated path.
    let mut short = green.witness.clone();
    short.path.siblings.pop();
    let err = prove(&f.policy, &f.keys.proving_key, &short, &request(f, None), &mut rng()).unwrap_err();
    assert!(matches!(err, ProveError::PathShape(15)), "{err}");
}

#[test]
fn bad_states_and_stale_heads_are_refused_with_a_reason() {
    let f = Fixture::shared();
    let green = f.population.holder(Colour::Green);
    let mut w = green.witness.clone();
    w.state.push(0);
    let err = prove(&f.policy, &f.keys.proving_key, &w, &request(f, None), &mut rng()).unwrap_err();
    assert!(matches!(err, ProveError::State(_)), "{err}");
    let mut w = green.witness.clone();
    w.state[0] = 1 << 40;
    let err = prove(&f.policy, &f.keys.proving_key, &w, &request(f, None), &mut rng()).unwrap_err();
    assert!(matches!(err, ProveError::State(_)), "{err}");
    let mut r = request(f, None);
    r.now = r.head.issued_at + f.policy.max_root_age + 1;
    let err = prove(&f.policy, &f.keys.proving_key, &green.witness, &r, &mut rng()).unwrap_err();
    assert!(matches!(err, ProveError::StaleHead { epoch: 7, .. }), "{err}");
}

#[test]
fn each_public_input_is_bound_and_the_input_count_is_checked() {
    let f = Fixture::shared();
    let checkpoint = f.checkpoint();
    for bind in [false, true] {
        let proved = f.prove(&f.population.holders[2], "venue:bank-branch-7", bind);
        let inputs = proved.public.to_field_elements();
        assert_eq!(inputs.len(), PUBLIC_INPUTS);
        assert_eq!(checkpoint.check_proof(&proved.payload.proof, &inputs), Ok(()));
        for i in 0..PUBLIC_INPUTS {
            let mut bad = inputs.clone();
            bad[i] += Fr::from(1u64);
            assert_eq!(
                checkpoint.check_proof(&proved.payload.proof, &bad),
                Err(ProofCheckError::Rejected),
                "input {i}"
            );
        }
        for n in [0, PUBLIC_INPUTS - 1, PUBLIC_INPUTS + 1] {
            let mut v = inputs.clone();
            v.resize(n, Fr::from(0u64));
            assert_eq!(
                checkpoint.check_proof(&proved.payload.proof, &v),
                Err(ProofCheckError::InputCount { expected: PUBLIC_INPUTS, got: n })
            );
        }
    }
}

#[test]
fn a_rerandomised_proof_verifies_and_changes_no_decision() {
    let f = Fixture::shared();
    let checkpoint = f.checkpoint();
    let proved = f.prove(&f.population.holders[0], "venue:zhengzhou-east-station", true);
    let id = hashes::id_hash(&f.population.holders[0].document_number);
    let challenge = proved.public.challenge;
    let mut rerandomised = proved.payload.clone();
    rerandomised.proof =
        Groth16::<Bn254>::rerandomize_proof(&f.keys.verifying_key, &proved.payload.proof, &mut rng());
    assert_ne!(rerandomised.proof, proved.payload.proof, "new proof bytes");
    assert_ne!(rerandomised.encode().unwrap(), proved.payload.encode().unwrap());
    let now = f.population.now;
    // The same decision as the original for every clock, challenge and identity check.
    let stale = now + f.policy.max_code_age + 1;
    let late_head = f.population.head.issued_at + f.policy.max_root_age + 1;
    for clock in [now, now + 60, stale, late_head] {
        for expected_challenge in [None, Some(challenge), Some(hashes::challenge("elsewhere"))] {
            for expected_id in [None, Some(id), Some(hashes::id_hash("someone else"))] {
                let a = checkpoint.verify_payload(&proved.payload, clock, expected_challenge, expected_id);
                let b = checkpoint.verify_payload(&rerandomised, clock, expected_challenge, expected_id);
                assert_eq!(a, b, "clock {clock}");
            }
        }
    }
    assert_eq!(checkpoint.verify_payload(&rerandomised, now, Some(challenge), Some(id)), Ok(Colour::Red));
}

/// The prover's blinding (see `engine::Prover::group_part`) leaves nothing of one proof in the
/// next: for the same statement and witness, every element of the proof changes with the
/// randomness, and each proof verifies.
#[test]
fn every_proof_element_is_blinded() {
    let f = Fixture::shared();
    let checkpoint = f.checkpoint();
    let holder = &f.population.holders[3];
    let req = request(f, None);
    let proofs: Vec<_> = (1..=3u64)
        .map(|seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            prove(&f.policy, &f.keys.proving_key, &holder.witness, &req, &mut rng).unwrap().payload
        })
        .collect();
    for (i, p) in proofs.iter().enumerate() {
        assert_eq!(
            checkpoint.verify_payload(p, f.population.now, Some(req.challenge), None),
            Ok(holder.expected)
        );
        for q in &proofs[i + 1..] {
            assert_ne!(p.proof.a, q.proof.a);
            assert_ne!(p.proof.b, q.proof.b);
            assert_ne!(p.proof.c, q.proof.c);
        }
    }
    let mut again = StdRng::seed_from_u64(1);
    let same = prove(&f.policy, &f.keys.proving_key, &holder.witness, &req, &mut again).unwrap().payload;
    assert_eq!(same.proof, proofs[0].proof, "the randomness is the only source of difference");
}

/// Every fixture proof verifies with arkworks' own verifier end to end (its input preparation
/// included), and the checkpoint's faster path agrees with it on good and tampered inputs.
#[test]
fn arkworks_verifier_accepts_every_proof_and_agrees_with_the_checkpoint() {
    let f = Fixture::shared();
    let pvk = ark_groth16::prepare_verifying_key(&f.keys.verifying_key);
    let checkpoint = f.checkpoint();
    for holder in &f.population.holders {
        let proved = f.prove(holder, "venue:arkworks", true);
        let inputs = proved.public.to_field_elements();
        assert_eq!(Groth16::<Bn254>::verify_proof(&pvk, &proved.payload.proof, &inputs), Ok(true));
        assert!(checkpoint.check_proof(&proved.payload.proof, &inputs).is_ok());
        for i in 0..inputs.len() {
            let mut tampered = inputs.clone();
            tampered[i] += Fr::from(1u64);
            assert_eq!(Groth16::<Bn254>::verify_proof(&pvk, &proved.payload.proof, &tampered), Ok(false));
            assert_eq!(
                checkpoint.check_proof(&proved.payload.proof, &tampered),
                Err(ProofCheckError::Rejected)
            );
        }
    }
}
