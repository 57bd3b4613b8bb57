//! Inclusion receipts and withheld-event evidence (JSON): decoding never panics; both round-trip
//! through JSON; verifying a receipt and judging evidence against an empty record never panic.
#![no_main]
use healthcode_registry::receipt::{judge, Evidence, Receipt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    if let Ok(r) = Receipt::from_json(src) {
        let json = serde_json::to_string(&r).expect("a receipt serialises");
        assert_eq!(Receipt::from_json(&json).expect("re-encoded receipt decodes"), r);
        let _ = r.verify(&r.registry);
    }
    if let Ok(e) = serde_json::from_str::<Evidence>(src) {
        let json = serde_json::to_string(&e).expect("evidence serialises");
        assert_eq!(serde_json::from_str::<Evidence>(&json).expect("re-encoded evidence decodes"), e);
        let _ = judge(&e, std::slice::from_ref(&e.head), &[], &e.receipt.registry);
    }
});
