//! `when` expressions: parsing never panics; the canonical text of a parsed expression parses to
//! the same expression (and is a fixed point); evaluation never panics on in-range states.
#![no_main]
use healthcode_circuits::policy::eval::holds;
use healthcode_circuits::policy::expr::{parse, Canonical};
use healthcode_circuits::time::MAX_TIME;
use libfuzzer_sys::fuzz_target;

const EVENTS: [&str; 5] = ["positive_test", "negative_test", "close_contact", "secondary_contact", "a"];

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let events: Vec<String> = EVENTS.iter().map(|e| e.to_string()).collect();
    let Ok(e) = parse(src, &events) else { return };
    let text = Canonical { expr: &e, events: &events }.to_string();
    let back = parse(&text, &events).unwrap_or_else(|err| panic!("canonical text {text:?} refused: {err:?}"));
    assert_eq!(back, e, "canonical text {text:?} changed the expression");
    assert_eq!(Canonical { expr: &back, events: &events }.to_string(), text);
    for now in [0, 1_700_000_000, MAX_TIME] {
        for t in [0, 1, now, MAX_TIME] {
            let state = vec![t; events.len()];
            let _ = holds(&e, &state, now);
        }
    }
});
