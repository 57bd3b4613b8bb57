//! Checkpoint decisions: each reason in its place in the order of checks, every flipped byte
//! rejected, freshness of heads and codes (docs/soundness.md §13), batch verification (§10).

use ark_bn254::{Bn254, Fr};
use ark_groth16::Groth16;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use healthcode_circuits::hashes;
use healthcode_circuits::policy::{Colour, Policy};
use healthcode_prover::fixtures::Fixture;
use healthcode_verifier::checkpoint::{batch_check, verifying_key_digest, CheckpointError};
use healthcode_verifier::{Checkpoint, Invalid, Payload, TrustedHead};
use std::sync::OnceLock;

const VENUE: &str = "venue:zhengzhou-east-station";

/// Bound and unbound codes of every fixture holder, with the holder's id hash.
fn codes() -> &'static Vec<(Payload, Fr)> {
    static CODES: OnceLock<Vec<(Payload, Fr)>> = OnceLock::new();
    CODES.get_or_init(|| {
        let f = Fixture::shared();
        let mut v = Vec::new();
        for h in &f.population.holders {
            for bind in [false, true] {
                v.push((f.prove(h, VENUE, bind).payload, hashes::id_hash(&h.document_number)));
            }
        }
        v
    })
}

fn now() -> u64 {
    Fixture::NOW
}

fn challenge() -> Option<Fr> {
    Some(hashes::challenge(VENUE))
}

#[test]
fn good_codes_verify_in_every_form() {
    let f = Fixture::shared();
    let cp = f.checkpoint();
    for (p, id) in codes() {
        let bytes = p.encode().unwrap();
        let text = p.to_text().unwrap();
        assert_eq!(cp.verify(&bytes, now(), challenge(), None), Ok(p.colour));
        if p.binding_tag.is_some() {
            // A bound code answers the checkpoint's nonce, which it does not carry.
            assert_eq!(p.challenge, None);
            assert_eq!(cp.verify(text.as_bytes(), now(), challenge(), None), Ok(p.colour));
            assert_eq!(cp.verify(&bytes, now(), challenge(), Some(*id)), Ok(p.colour));
            assert_eq!(cp.verify(&bytes, now(), None, None), Err(Invalid::NonceRequired));
        } else {
            assert_eq!(cp.verify(text.as_bytes(), now(), None, None), Ok(p.colour));
        }
    }
}

#[test]
fn every_byte_flipped_is_rejected_never_panics() {
    let f = Fixture::shared();
    let cp = f.checkpoint();
    let (p, id) = &codes()[1]; // bound: exercises every field
    let bytes = p.encode().unwrap();
    let mut reasons = std::collections::BTreeMap::new();
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            let err = cp.verify(&b, now(), None, None).expect_err(&format!("byte {i} ^ {mask:#x} accepted"));
            *reasons.entry(err.reason()).or_insert(0) += 1;
            // With the checkpoint's own challenge and identity the answer is still a rejection.
            assert!(cp.verify(&b, now(), challenge(), Some(*id)).is_err());
        }
    }
    println!("reasons over {} flips: {reasons:?}", bytes.len() * 3);
    assert!(reasons.contains_key("malformed") && reasons.contains_key("bad-proof"));
}

#[test]
fn each_reason_in_order() {
    let f = Fixture::shared();
    let cp = f.checkpoint();
    let (p, id) = &codes()[1];
    let head = f.population.head;
    let v = |p: &Payload, clock, c, i| cp.verify_payload(p, clock, c, i);

    // Wrong policy: another policy's digest prefix.
    let mut q = p.clone();
    q.policy_prefix[0] ^= 1;
    assert!(matches!(v(&q, now(), challenge(), Some(*id)), Err(Invalid::WrongPolicy { .. })));
    // Unknown epoch.
    let mut q = p.clone();
    q.epoch = 8;
    assert_eq!(v(&q, now(), challenge(), None), Err(Invalid::UnknownHead { epoch: 8 }));
    // Stale head: the code is fresh but its head is past max_root_age (an older head of the same
    // registry, once stale, is refused).
    let clock = head.issued_at + f.policy.max_root_age + 1;
    let mut q = p.clone();
    q.now = clock - 10;
    assert!(matches!(v(&q, clock, challenge(), Some(*id)), Err(Invalid::StaleHead { epoch: 7, .. })));
    // Stale code.
    let clock = p.now + f.policy.max_code_age + 1;
    assert_eq!(
        v(p, clock, challenge(), Some(*id)),
        Err(Invalid::StaleCode { age: f.policy.max_code_age + 1, max: f.policy.max_code_age })
    );
    assert_eq!(
        v(p, p.now + f.policy.max_code_age, challenge(), Some(*id)),
        Ok(p.colour),
        "the boundary is inclusive"
    );
    // From the future.
    assert!(matches!(v(p, p.now - 61, challenge(), None), Err(Invalid::CodeFromFuture { ahead: 61, .. })));
    assert_eq!(v(p, p.now - 60, challenge(), None), Ok(p.colour));
    // Wrong challenge: an unbound code carries its own; a bound code answers the checkpoint's
    // nonce, so another nonce is a binding mismatch (with a document) or a bad proof.
    let (unbound, _) = &codes()[0];
    let elsewhere = Some(hashes::challenge("venue:elsewhere"));
    assert_eq!(v(unbound, now(), elsewhere, None), Err(Invalid::WrongChallenge));
    assert_eq!(v(p, now(), elsewhere, Some(*id)), Err(Invalid::BindingMismatch));
    assert_eq!(v(p, now(), elsewhere, None), Err(Invalid::BadProof));
    assert_eq!(v(p, now(), None, None), Err(Invalid::NonceRequired));
    // Binding.
    assert_eq!(v(unbound, now(), challenge(), Some(*id)), Err(Invalid::BindingRequired));
    assert_eq!(
        v(p, now(), challenge(), Some(hashes::id_hash("410100000000009999"))),
        Err(Invalid::BindingMismatch)
    );
    // Bad proof: everything else right, the proof of another code.
    let mut q = p.clone();
    q.proof = codes()[3].0.proof.clone();
    assert_eq!(v(&q, now(), challenge(), Some(*id)), Err(Invalid::BadProof));
    // A changed claim with the original proof: the colour is a public input.
    let mut q = p.clone();
    q.colour = Colour::Green;
    assert_eq!(v(&q, now(), challenge(), None), Err(Invalid::BadProof));
    let mut q = p.clone();
    q.now += 1;
    assert_eq!(v(&q, now(), challenge(), None), Err(Invalid::BadProof));

    // Order: a code that is stale AND has the wrong challenge AND the wrong proof is "stale".
    let mut q = p.clone();
    q.proof = codes()[3].0.proof.clone();
    let clock = p.now + f.policy.max_code_age + 1;
    assert!(matches!(
        v(&q, clock, Some(Fr::from(5u64)), Some(Fr::from(6u64))),
        Err(Invalid::StaleCode { .. })
    ));
    // Every reason renders a message and a stable code.
    assert_eq!(Invalid::BadProof.reason(), "bad-proof");
}

#[test]
fn heads_are_managed_explicitly() {
    let f = Fixture::shared();
    let mut cp = f.checkpoint();
    let head = f.population.head;
    assert_eq!(cp.add_head(head), Ok(()));
    let forked = TrustedHead { root: head.root + Fr::from(1u64), ..head };
    assert_eq!(cp.add_head(forked), Err(CheckpointError::ConflictingHead { epoch: 7 }));
    let (p, _) = &codes()[0];
    assert_eq!(cp.verify_payload(p, now(), None, None), Ok(p.colour), "the first head is kept");
    // A checkpoint that does not trust the head refuses.
    let bare = Checkpoint::new(&f.policy, &f.keys.verifying_key).unwrap();
    assert_eq!(bare.verify_payload(p, now(), None, None), Err(Invalid::UnknownHead { epoch: 7 }));
    // A head issued in the checkpoint's future (its clock is wrong, or the head is bogus).
    let mut cp = Checkpoint::new(&f.policy, &f.keys.verifying_key).unwrap();
    cp.add_head(TrustedHead { issued_at: now() + 3600, ..head }).unwrap();
    assert!(matches!(cp.verify_payload(p, now(), None, None), Err(Invalid::HeadFromFuture { .. })));
}

/// Issue 11, item 1: a holder proves green over epoch 7, signed before her positive test; epoch 8
/// (with the test) exists and the checkpoint holds it. The code over epoch 7 is accepted for
/// `head_grace` after epoch 8 was issued, then refused as `superseded-head`, although epoch 7 is
/// far from `max_root_age`.
#[test]
fn a_code_over_a_superseded_head_is_refused_after_the_grace() {
    let f = Fixture::shared();
    let green = f.prove(f.population.holder(Colour::Green), VENUE, false).payload;
    let head = f.population.head;
    let grace = f.policy.head_grace;
    assert_eq!(grace, 600, "the example policy's head_grace");
    let newer = TrustedHead { epoch: 8, issued_at: now() - grace, root: head.root + Fr::from(1u64) };
    let mut cp = f.checkpoint();
    assert_eq!(cp.verify_payload(&green, now(), challenge(), None), Ok(Colour::Green), "newest head");
    cp.add_head(newer).unwrap();
    // Within the grace (boundary inclusive): still accepted.
    assert_eq!(cp.verify_payload(&green, now(), challenge(), None), Ok(Colour::Green));
    // One second past it: refused, although epoch 7 is only an hour old (max_root_age 6 h).
    let late = cp.verify_payload(&green, now() + 1, challenge(), None);
    assert_eq!(late, Err(Invalid::SupersededHead { epoch: 7, newer: 8, since: grace + 1, grace }));
    assert_eq!(late.unwrap_err().reason(), "superseded-head");
    // The same decision in a batch.
    let queue = [green.encode().unwrap()];
    assert!(matches!(
        cp.verify_batch(&queue, now() + 1, challenge(), None)[0],
        Err(Invalid::SupersededHead { .. })
    ));
    // The grace runs from the earliest newer head the checkpoint knows.
    let mut cp = f.checkpoint();
    cp.add_head(TrustedHead { epoch: 9, issued_at: now(), ..newer }).unwrap();
    assert_eq!(cp.verify_payload(&green, now() + 1, challenge(), None), Ok(Colour::Green));
    cp.add_head(newer).unwrap();
    assert!(matches!(
        cp.verify_payload(&green, now() + 1, challenge(), None),
        Err(Invalid::SupersededHead { newer: 8, .. })
    ));
}

#[test]
fn a_bundle_for_another_policy_rejects_by_digest() {
    let f = Fixture::shared();
    let other =
        Policy::parse(&f.policy_text.replace("within(close_contact, 14d)", "within(close_contact, 10d)"))
            .unwrap();
    let mut cp = Checkpoint::new(&other, &f.keys.verifying_key).unwrap();
    cp.add_head(f.population.head).unwrap();
    let (p, _) = &codes()[0];
    assert!(matches!(cp.verify_payload(p, now(), None, None), Err(Invalid::WrongPolicy { .. })));
}

#[test]
fn batch_verification_names_the_bad_codes() {
    let f = Fixture::shared();
    let cp = f.checkpoint();
    let mut rng = StdRng::seed_from_u64(5);
    // 16 codes: the fixture's 8 and rerandomised copies (distinct bytes, same statements).
    let mut queue: Vec<Vec<u8>> = codes().iter().map(|(p, _)| p.encode().unwrap()).collect();
    for (p, _) in codes() {
        let mut q = p.clone();
        q.proof = Groth16::<Bn254>::rerandomize_proof(&f.keys.verifying_key, &p.proof, &mut rng);
        queue.push(q.encode().unwrap());
    }
    let expected: Vec<_> = queue.iter().map(|c| cp.verify(c, now(), challenge(), None)).collect();
    assert!(expected.iter().all(|r| r.is_ok()));
    assert_eq!(cp.verify_batch(&queue, now(), challenge(), None), expected);

    // Swap the proofs of a red and a yellow code (each a valid proof, of the other statement; two
    // unbound red codes at the same time and venue are the same statement), corrupt one code's bytes
    // and make one stale: the batch names exactly those.
    let mut bad = queue.clone();
    let (a, b) = (codes()[0].0.clone(), codes()[4].0.clone());
    let (mut a2, mut b2) = (a.clone(), b.clone());
    a2.proof = b.proof;
    b2.proof = a.proof;
    bad[0] = a2.encode().unwrap();
    bad[4] = b2.encode().unwrap();
    bad[5][20] ^= 1;
    let mut old = codes()[6].0.clone();
    old.now -= f.policy.max_code_age + 1;
    bad[6] = old.encode().unwrap();
    let results = cp.verify_batch(&bad, now(), challenge(), None);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r, &cp.verify(&bad[i], now(), challenge(), None), "code {i}");
    }
    assert_eq!(results[0], Err(Invalid::BadProof));
    assert_eq!(results[4], Err(Invalid::BadProof));
    assert!(matches!(results[6], Err(Invalid::StaleCode { .. })));
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), queue.len() - 4);
    assert!(cp.verify_batch::<Vec<u8>>(&[], now(), None, None).is_empty());
}

#[test]
fn the_batch_equation_binds_every_input_and_proof() {
    let f = Fixture::shared();
    let cp = f.checkpoint();
    let pvk = cp.prepared_verifying_key();
    let vkd = verifying_key_digest(&f.keys.verifying_key);
    let items: Vec<(Vec<Fr>, ark_groth16::Proof<Bn254>)> = codes()
        .iter()
        .map(|(p, _)| {
            (
                p.public_inputs(f.population.head.root, challenge()).unwrap().to_field_elements(),
                p.proof.clone(),
            )
        })
        .collect();
    let batch = |items: &[(Vec<Fr>, ark_groth16::Proof<Bn254>)]| {
        let refs: Vec<(&[Fr], &ark_groth16::Proof<Bn254>)> =
            items.iter().map(|(x, p)| (x.as_slice(), p)).collect();
        batch_check(pvk, &vkd, &refs)
    };
    assert!(batch(&items));
    for i in 0..items.len() {
        for j in 0..5 {
            let mut bad = items.clone();
            bad[i].0[j] += Fr::from(1u64);
            assert!(!batch(&bad), "code {i} input {j}");
        }
        let mut short = items.clone();
        short[i].0.pop();
        assert!(!batch(&short), "input count");
    }
    // Two wrong proofs whose errors would cancel with equal coefficients do not pass.
    let mut swapped = items.clone();
    let (x, y) = (swapped[0].1.clone(), swapped[1].1.clone());
    swapped[0].1 = y;
    swapped[1].1 = x;
    assert!(!batch(&swapped));
}
