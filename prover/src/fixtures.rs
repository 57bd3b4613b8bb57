//! A small deterministic population for tests, benches and the demo: four holders enrolled in a
//! registry tree under the example policy's event kinds, one per interesting colour.
//!
//! Not for production: secrets come from a seeded RNG.

use ark_bn254::Fr;
use ark_ff::UniformRand;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use healthcode_circuits::hashes;
use healthcode_circuits::policy::{Colour, Policy};
use healthcode_circuits::state;
use healthcode_circuits::statement::Witness;
use healthcode_circuits::tree::SparseTree;
use healthcode_verifier::TrustedHead;
use std::sync::OnceLock;

/// The example policy of the repository (`policies/henan-2022.toml`).
pub const EXAMPLE_POLICY: &str = include_str!("../../policies/henan-2022.toml");

/// Seconds in a day.
pub const DAY: u64 = 86_400;

/// One enrolled holder. `Debug` shows only the name and colour.
#[derive(Clone)]
pub struct Holder {
    pub name: &'static str,
    /// The colour the example policy gives this holder at the population's `now`.
    pub expected: Colour,
    pub document_number: String,
    pub witness: Witness,
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Holder")
            .field("name", &self.name)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

/// Holders, the tree they are enrolled in and a head over its root.
#[derive(Clone, Debug)]
pub struct Population {
    pub now: u64,
    pub head: TrustedHead,
    pub tree: SparseTree,
    pub holders: Vec<Holder>,
}

impl Population {
    /// Four holders under the example policy's events (`positive_test`, `negative_test`,
    /// `close_contact`, `secondary_contact`) at `now`: a positive test two days ago (red), a
    /// close contact five days ago (red), a secondary contact a day ago (yellow) and a depositor
    /// with only a negative test (green). The head is issued one hour before `now`, epoch 7.
    pub fn example(policy: &Policy, now: u64) -> Self {
        let kinds = ["positive_test", "negative_test", "close_contact", "secondary_contact"];
        let at = |kind: &str, time: u64| -> Vec<u64> {
            let mut s = vec![0; policy.events.len()];
            if let Some(i) = policy.event_index(kind) {
                s[i] = time;
            }
            s
        };
        debug_assert!(kinds.iter().all(|k| policy.event_index(k).is_some()));
        let specs: [(&'static str, Colour, Vec<u64>); 4] = [
            ("positive", Colour::Red, at("positive_test", now - 2 * DAY)),
            ("close-contact", Colour::Red, at("close_contact", now - 5 * DAY)),
            ("secondary-contact", Colour::Yellow, at("secondary_contact", now - DAY)),
            ("depositor", Colour::Green, at("negative_test", now - 3 * DAY)),
        ];
        let mut rng = StdRng::seed_from_u64(0x4845_414c_5448);
        let mut tree = SparseTree::new();
        let mut enrolled = Vec::new();
        for (i, (name, expected, st)) in specs.into_iter().enumerate() {
            let sk = Fr::rand(&mut rng);
            let document_number = format!("4101{:014}", 1000 + i);
            let id_hash = hashes::id_hash(&document_number);
            // Spread the leaves so paths have non-empty siblings at several levels.
            let leaf_index = (i as u32) * 0x0101_0101 + 3;
            let cm = hashes::commitment(hashes::public_key(sk), id_hash);
            tree.set_leaf(leaf_index, hashes::leaf(cm, &state::pack(&st)));
            enrolled.push((name, expected, document_number, sk, id_hash, st, leaf_index));
        }
        let holders = enrolled
            .into_iter()
            .map(|(name, expected, document_number, sk, id_hash, st, leaf_index)| Holder {
                name,
                expected,
                document_number,
                witness: Witness {
                    sk,
                    id_hash,
                    state: st,
                    leaf_index,
                    path: tree.path(leaf_index),
                    bind: false,
                },
            })
            .collect();
        let head = TrustedHead { epoch: 7, issued_at: now - 3600, root: tree.root() };
        Self { now, head, tree, holders }
    }

    pub fn holder(&self, colour: Colour) -> &Holder {
        self.holders.iter().find(|h| h.expected == colour).expect("every colour has a holder")
    }
}

/// The example policy, development keys for it (seeded, so every run agrees) and the example
/// population at [`Fixture::NOW`]: what tests and benches share instead of re-running setup.
pub struct Fixture {
    pub policy_text: &'static str,
    pub policy: Policy,
    pub keys: crate::Keys,
    pub population: Population,
}

impl Fixture {
    /// 2022-06-14 12:00:00 UTC, the week of the Zhengzhou red codes.
    pub const NOW: u64 = 1_655_208_000;

    /// Built once per process (setup takes a second or two).
    pub fn shared() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let policy = Policy::parse(EXAMPLE_POLICY).expect("the example policy parses");
            let keys =
                crate::generate_keys(&policy, &mut StdRng::seed_from_u64(2022)).expect("setup succeeds");
            let population = Population::example(&policy, Self::NOW);
            Fixture { policy_text: EXAMPLE_POLICY, policy, keys, population }
        })
    }

    /// A checkpoint for the fixture's policy trusting the population's head.
    pub fn checkpoint(&self) -> healthcode_verifier::Checkpoint {
        let mut c = healthcode_verifier::Checkpoint::new(&self.policy, &self.keys.verifying_key)
            .expect("the key fits the statement");
        c.add_head(self.population.head).expect("a single head");
        c
    }

    /// Proves `holder`'s colour at [`Fixture::NOW`] for the challenge text `challenge`.
    pub fn prove(&self, holder: &Holder, challenge: &str, bind: bool) -> crate::Proved {
        let request = crate::ProveRequest {
            head: self.population.head,
            now: self.population.now,
            challenge: hashes::challenge(challenge),
            bind,
            claim: None,
        };
        let mut rng = StdRng::seed_from_u64(u64::from(holder.witness.leaf_index) ^ u64::from(bind));
        crate::prove(&self.policy, &self.keys.proving_key, &holder.witness, &request, &mut rng)
            .expect("fixture holders prove")
    }
}

/// A small ceremony over `policy`, for tests and the demo: a development phase 1 from secrets
/// drawn from `seed` and then dropped, the initial key (by the fast path, equal to the `.ptau`
/// one), two participants and a beacon. Returns the phase-1 file and the final `.zkey`.
pub fn small_ceremony(policy: &Policy, seed: u64) -> (Vec<u8>, healthcode_ceremony::Zkey) {
    use healthcode_ceremony::{beacon, circuit_power, contribute, init::init_from_secrets, ptau, R1cs};
    let r1cs =
        R1cs::from_matrices(&healthcode_circuits::statement::matrices(policy).expect("the policy compiles"));
    let mut rng = StdRng::seed_from_u64(seed);
    let secrets = ptau::Phase1Secrets::random(&mut rng);
    let phase1 = ptau::generate(circuit_power(&r1cs), &secrets);
    let mut zkey = init_from_secrets(&r1cs, &secrets);
    drop(secrets);
    contribute(&mut zkey, Some("alice"), b"test", &mut rng).expect("a short name");
    contribute(&mut zkey, Some("bob"), b"", &mut rng).expect("a short name");
    beacon(&mut zkey, Some("final beacon"), &seed.to_be_bytes(), 10).expect("valid beacon parameters");
    (phase1, zkey)
}
