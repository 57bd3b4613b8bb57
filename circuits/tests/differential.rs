//! The circuit and the reference evaluator agree on random policies and boundary-heavy states:
//! the circuit is satisfiable with exactly the evaluator's colour.

mod common;

use common::fixture;
use healthcode_circuits::policy::{evaluate, CmpOp, Colour, Policy};
use healthcode_circuits::time::MAX_TIME;
use proptest::prelude::*;

/// A generated expression in source form, with the durations it mentions.
#[derive(Clone, Debug)]
struct Src {
    text: String,
    durations: Vec<u64>,
}

fn duration() -> impl Strategy<Value = (u64, String)> {
    prop_oneof![
        (1u64..=30).prop_map(|d| (d * 86_400, format!("{d}d"))),
        (0u64..=48).prop_map(|h| (h * 3_600, format!("{h}h"))),
        (0u64..=120).prop_map(|m| (m * 60, format!("{m}m"))),
        (0u64..=100).prop_map(|s| (s, format!("{s}s"))),
        Just(((1u64 << 40) - 1, format!("{}s", (1u64 << 40) - 1))),
    ]
}

fn term(events: usize) -> impl Strategy<Value = Src> {
    let atom = prop_oneof![Just("now".to_string()), (0..events).prop_map(|i| format!("e{i}"))];
    (atom, proptest::option::of(duration())).prop_map(|(a, d)| match d {
        None => Src { text: a, durations: vec![] },
        Some((secs, t)) => Src { text: format!("{a} + {t}"), durations: vec![secs] },
    })
}

fn leaf(events: usize) -> impl Strategy<Value = Src> {
    prop_oneof![
        ((0..events), duration())
            .prop_map(|(e, (s, t))| Src { text: format!("within(e{e}, {t})"), durations: vec![s] }),
        (0..events).prop_map(|e| Src { text: format!("never(e{e})"), durations: vec![] }),
        (term(events), proptest::sample::select(CmpOp::ALL.to_vec()), term(events)).prop_map(|(a, op, b)| {
            Src {
                text: format!("{} {} {}", a.text, op.symbol(), b.text),
                durations: [a.durations, b.durations].concat(),
            }
        }),
    ]
}

fn expr(events: usize) -> impl Strategy<Value = Src> {
    leaf(events).prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| Src { text: format!("!({})", a.text), durations: a.durations }),
            inner.clone().prop_map(|a| {
                let bare = a.text.starts_with("within(") || a.text.starts_with("never(");
                Src {
                    text: if bare { format!("!{}", a.text) } else { format!("!({})", a.text) },
                    durations: a.durations,
                }
            }),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Src {
                text: format!("({}) && ({})", a.text, b.text),
                durations: [a.durations, b.durations].concat()
            }),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Src {
                text: format!("{} || {}", a.text, b.text),
                durations: [a.durations, b.durations].concat()
            }),
        ]
    })
}

fn colour() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec!["green", "yellow", "red"])
}

#[derive(Clone, Debug)]
struct Case {
    toml: String,
    durations: Vec<u64>,
}

fn policy() -> impl Strategy<Value = Case> {
    (1usize..=4).prop_flat_map(|n| {
        (colour(), proptest::collection::vec((colour(), expr(n)), 1..=3)).prop_map(move |(default, rules)| {
            let events: Vec<String> = (0..n).map(|i| format!("\"e{i}\"")).collect();
            let mut toml = format!(
                "id = \"gen\"\nversion = 1\nmax_root_age = \"6h\"\nmax_code_age = \"5m\"\nevents = [{}]\ndefault = \"{default}\"\n",
                events.join(", ")
            );
            let mut durations = vec![];
            for (c, e) in rules {
                toml.push_str(&format!("\n[[rules]]\ncolour = \"{c}\"\nbecause = \"generated\"\nwhen = \"{}\"\n", e.text));
                durations.extend(e.durations);
            }
            Case { toml, durations }
        })
    })
}

/// Times heavy on boundaries around `now` and the policy's durations.
fn times(now: u64, durations: &[u64], picks: &[(u8, u64)]) -> Vec<u64> {
    picks
        .iter()
        .map(|&(kind, r)| {
            let d = if durations.is_empty() { 0 } else { durations[(r as usize) % durations.len()] };
            let v = match kind % 10 {
                0 => 0,
                1 => now.saturating_sub(d),
                2 => now.saturating_sub(d).saturating_add(1),
                3 => now.saturating_sub(d).saturating_sub(1),
                4 => now,
                5 => now.saturating_add(r % 1000),
                6 => MAX_TIME,
                7 => 1,
                8 => now.saturating_sub(r % (30 * 86_400)),
                _ => r % (MAX_TIME + 1),
            };
            v.min(MAX_TIME)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn circuit_agrees_with_reference_evaluator(
        case in policy(),
        now_kind in 0u8..4,
        now_r in 0u64..=MAX_TIME,
        picks in proptest::collection::vec((0u8..10, any::<u64>()), 4),
    ) {
        let policy = Policy::parse(&case.toml).map_err(|e| TestCaseError::fail(format!("{e}\n{}", case.toml)))?;
        let now = match now_kind { 0 => 1_655_164_800, 1 => MAX_TIME, 2 => 0, _ => now_r };
        let state = times(now, &case.durations, &picks[..policy.events.len()]);
        let verdict = evaluate(&policy, &state, now).unwrap();
        for c in Colour::ALL {
            let (public, witness) = fixture(state.clone(), now, c, false);
            prop_assert_eq!(common::accepts(&policy, public, witness), c == verdict.colour,
                "policy:\n{}\nstate {:?} now {} colour {}", case.toml, state, now, c);
        }
    }
}
