//! The semantic check: on boundary cases derived from the policy's own durations and comparisons,
//! plus a seeded random sample, the circuit accepts exactly the colour the reference evaluator
//! gives and refuses the two others.

use healthcode_circuits::policy::{evaluate, Atom, Colour, Expr, Policy};
use healthcode_circuits::statement::sample::{is_satisfied, synthetic};
use healthcode_circuits::time::MAX_TIME;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeSet;

/// The reference `now` of the boundary cases: 2022-06-14 00:00 UTC.
pub const AUDIT_NOW: u64 = 1_655_164_800;
/// Leaf index of the synthetic holder (every position digit differs).
const AUDIT_LEAF: u32 = 0x9C27_E4B1;
const DAY: u64 = 86_400;

/// One state the policy is checked on.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    pub state: Vec<u64>,
    pub now: u64,
    /// Why this case was chosen, e.g. `positive_test = now - 1209600s + 1`.
    pub origin: String,
}

/// A case where the circuit and the evaluator disagree.
#[derive(Clone, Debug, Serialize)]
pub struct Disagreement {
    pub case: Case,
    pub evaluator: Colour,
    /// The colours the circuit accepted (it should accept exactly `[evaluator]`).
    pub circuit_accepts: Vec<Colour>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SemanticReport {
    pub cases: usize,
    pub boundary_cases: usize,
    pub random_cases: usize,
    pub seed: u64,
    pub disagreements: Vec<Disagreement>,
}

fn collect(e: &Expr, durations: &mut BTreeSet<u64>, pairs: &mut BTreeSet<(usize, usize, i128)>) {
    match e {
        Expr::Within { duration, .. } => {
            durations.insert(*duration);
        }
        Expr::Never { .. } => {}
        Expr::Cmp { lhs, rhs, .. } => {
            durations.insert(lhs.offset);
            durations.insert(rhs.offset);
            // `a + x ? b + y` flips at `a = b + y - x`.
            let shift = rhs.offset as i128 - lhs.offset as i128;
            match (lhs.atom, rhs.atom) {
                (Atom::Event(a), Atom::Event(b)) => {
                    pairs.insert((a, b, shift));
                }
                (Atom::Event(_), Atom::Now) | (Atom::Now, Atom::Event(_)) => {
                    durations.insert(shift.unsigned_abs() as u64);
                }
                (Atom::Now, Atom::Now) => {}
            }
        }
        Expr::Not(x) => collect(x, durations, pairs),
        Expr::And(a, b) | Expr::Or(a, b) => {
            collect(a, durations, pairs);
            collect(b, durations, pairs);
        }
    }
}

fn clamp(t: i128) -> Option<u64> {
    (0..=MAX_TIME as i128).contains(&t).then_some(t as u64)
}

/// Boundary cases: every event never; each event at `now − d − 1`, `now − d`, `now − d + 1`
/// (and just after `now`) for each duration `d` the policy names; each pair of events ordered both
/// ways around every offset; each event-to-event comparison at its exact boundary.
pub fn boundary_cases(policy: &Policy, now: u64) -> Vec<Case> {
    let n = policy.events.len();
    let mut durations = BTreeSet::from([0u64]);
    let mut pairs = BTreeSet::new();
    for r in &policy.rules {
        collect(&r.when, &mut durations, &mut pairs);
    }
    let name = |i: usize| policy.events[i].as_str();
    let mut cases = vec![Case { state: vec![0; n], now, origin: "every event never".into() }];
    let mut push = |assign: Vec<(usize, i128)>, origin: String| {
        let mut state = vec![0; n];
        for (i, t) in assign {
            match clamp(t) {
                Some(t) => state[i] = t,
                None => return,
            }
        }
        cases.push(Case { state, now, origin });
    };
    let now_i = now as i128;
    for e in 0..n {
        for &d in &durations {
            for delta in [-1i128, 0, 1] {
                push(vec![(e, now_i - d as i128 + delta)], format!("{} = now - {d}s {delta:+}", name(e)));
            }
        }
        push(vec![(e, now_i + 1)], format!("{} = now + 1s (after now)", name(e)));
    }
    let base = now_i - 3 * DAY as i128;
    for a in 0..n {
        for b in 0..n {
            if a == b {
                continue;
            }
            for &d in &durations {
                for delta in [-1i128, 0, 1] {
                    let t = base + d as i128 + delta;
                    push(vec![(b, base), (a, t)], format!("{} = {} + {d}s {delta:+}", name(a), name(b)));
                }
            }
        }
    }
    for (a, b, shift) in pairs {
        for delta in [-1i128, 0, 1] {
            if a == b {
                continue;
            }
            push(
                vec![(b, base), (a, base + shift + delta)],
                format!("{} = {} + ({shift})s {delta:+}", name(a), name(b)),
            );
        }
    }
    cases
}

/// `count` random states from `seed`: each event never with probability 1/3, else within the last
/// 30 days (occasionally just after `now`).
pub fn random_cases(policy: &Policy, now: u64, seed: u64, count: usize) -> Vec<Case> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..count)
        .map(|k| {
            let state = (0..policy.events.len())
                .map(|_| match rng.gen_range(0..6) {
                    0 | 1 => 0,
                    2 => now + rng.gen_range(0..DAY),
                    _ => now - rng.gen_range(0..30 * DAY),
                })
                .collect();
            Case { state, now, origin: format!("random #{k} (seed {seed})") }
        })
        .collect()
}

/// Runs every case through the evaluator and the circuit (with each of the three colours).
pub fn check(policy: &Policy, seed: u64, random: usize) -> Result<SemanticReport, String> {
    let boundary = boundary_cases(policy, AUDIT_NOW);
    let rand = random_cases(policy, AUDIT_NOW, seed, random);
    let (boundary_cases, random_cases) = (boundary.len(), rand.len());
    let all: Vec<Case> = boundary.into_iter().chain(rand).collect();
    let results = all
        .into_par_iter()
        .map(|case| {
            let verdict = evaluate(policy, &case.state, case.now).map_err(|e| e.to_string())?;
            let mut accepts = Vec::new();
            for colour in Colour::ALL {
                let (public, witness) = synthetic(case.state.clone(), case.now, colour, AUDIT_LEAF, false);
                if is_satisfied(policy, public, witness).map_err(|e| e.to_string())? {
                    accepts.push(colour);
                }
            }
            Ok((accepts != [verdict.colour]).then_some(Disagreement {
                case,
                evaluator: verdict.colour,
                circuit_accepts: accepts,
            }))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(SemanticReport {
        cases: boundary_cases + random_cases,
        boundary_cases,
        random_cases,
        seed,
        disagreements: results.into_iter().flatten().collect(),
    })
}
