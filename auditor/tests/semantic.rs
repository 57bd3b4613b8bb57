//! The semantic check passes on the example policy and catches a circuit that means something else.

use healthcode_auditor::semantic::{boundary_cases, check, AUDIT_NOW};
use healthcode_circuits::policy::Policy;

const EXAMPLE: &str = include_str!("../../policies/henan-2022.toml");

#[test]
fn example_policy_agrees_on_every_boundary_and_sample() {
    let p = Policy::parse(EXAMPLE).unwrap();
    let report = check(&p, 7, 16).unwrap();
    assert!(report.boundary_cases > 100, "{}", report.boundary_cases);
    assert_eq!(report.random_cases, 16);
    assert!(report.disagreements.is_empty(), "{:?}", report.disagreements);
}

#[test]
fn boundaries_include_the_policy_durations() {
    let p = Policy::parse(EXAMPLE).unwrap();
    let cases = boundary_cases(&p, AUDIT_NOW);
    let day = 86_400;
    for t in [AUDIT_NOW - 14 * day - 1, AUDIT_NOW - 14 * day, AUDIT_NOW - 14 * day + 1, AUDIT_NOW - 7 * day] {
        assert!(cases.iter().any(|c| c.state[0] == t && c.state[1..].iter().all(|&x| x == 0)));
    }
    // The negative-after-positive comparison at its exact boundary, both sides.
    let base = AUDIT_NOW - 3 * day;
    for delta in [-1i64, 0, 1] {
        let neg = (base as i64 + 7 * day as i64 + delta) as u64;
        assert!(cases.iter().any(|c| c.state[0] == base && c.state[1] == neg));
    }
}

/// A circuit compiled from a *different* policy (what an issuer with an undisclosed criterion
/// would ship) disagrees with the published policy's evaluator: checking that circuit against the
/// published evaluator must report disagreements.
#[test]
fn a_circuit_for_other_rules_is_caught() {
    use healthcode_auditor::semantic::boundary_cases;
    use healthcode_circuits::policy::{evaluate, Colour};
    use healthcode_circuits::statement::sample::{is_satisfied, synthetic};
    let published = Policy::parse(EXAMPLE).unwrap();
    let secret =
        Policy::parse(&EXAMPLE.replace("within(close_contact, 14d)", "within(close_contact, 21d)")).unwrap();
    let mut caught = 0;
    for case in boundary_cases(&published, AUDIT_NOW) {
        let expected = evaluate(&published, &case.state, case.now).unwrap().colour;
        let (public, witness) = synthetic(case.state.clone(), case.now, expected, 1, false);
        if !is_satisfied(&secret, public, witness).unwrap() {
            caught += 1;
            assert_eq!(expected, Colour::Green);
        }
    }
    assert!(caught > 0);
}
