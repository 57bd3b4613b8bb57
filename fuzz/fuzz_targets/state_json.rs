//! State files (`policy eval --state`): a JSON object of event names to unix seconds, read as the
//! CLI reads it (`Policy::state_from_names`), against the example policy. Decoding never panics, the map
//! round-trips through JSON, and the evaluator either refuses the state or gives a verdict.
#![no_main]
use healthcode_circuits::policy::eval::{check_state, evaluate};
use healthcode_circuits::state;
use healthcode_circuits::time::MAX_TIME;
use healthcode_fuzz::henan;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(map) = serde_json::from_str::<BTreeMap<String, u64>>(src) else { return };
    let json = serde_json::to_string(&map).expect("a map serialises");
    assert_eq!(serde_json::from_str::<BTreeMap<String, u64>>(&json).unwrap(), map);
    let policy = henan();
    let Ok(times) = policy.state_from_names(&map) else { return };
    let max = times.iter().copied().max().unwrap_or(0);
    for now in [0, max, max.saturating_add(1), MAX_TIME, MAX_TIME + 1] {
        let checked = check_state(policy, &times, now);
        match evaluate(policy, &times, now) {
            Ok(_) => {
                assert!(checked.is_ok());
                let _ = state::pack(&times);
            }
            Err(e) => assert_eq!(checked, Err(e)),
        }
    }
});
