//! The policy file (TOML): parsing never panics; a parsed policy written back as TOML (durations
//! in seconds, each `when` in canonical text) parses to the same policy with the same digest, and
//! the reference evaluator runs on it.
#![no_main]
use healthcode_circuits::policy::{evaluate, Policy};
use healthcode_circuits::time::MAX_TIME;
use healthcode_fuzz::policy_to_toml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(p) = Policy::parse(src) else { return };
    let canonical = p.canonical();
    serde_json::from_str::<serde_json::Value>(&canonical).expect("the canonical form is JSON");
    let again = policy_to_toml(&p);
    let q = Policy::parse(&again).unwrap_or_else(|e| panic!("re-encoded policy refused: {e}\n{again}"));
    assert_eq!(p, q, "policy changed through its TOML form:\n{again}");
    assert_eq!(p.digest(), q.digest());
    for now in [0, 1, 1_700_000_000, MAX_TIME] {
        for t in [0, 1, now / 2, now, MAX_TIME] {
            let state = vec![t; p.events.len()];
            evaluate(&p, &state, now).expect("a state within range evaluates");
        }
    }
});
