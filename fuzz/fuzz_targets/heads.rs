//! Signed heads (`--heads` files: an array of heads or one head): decoding never panics; heads
//! round-trip through JSON; verifying them and checking their order never panic.
#![no_main]
use healthcode_registry::head::{check_order, verify_chain};
use healthcode_registry::SignedHead;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    // As the CLI's `load_heads` reads them.
    let Ok(heads) = serde_json::from_str::<Vec<SignedHead>>(src)
        .or_else(|_| serde_json::from_str::<SignedHead>(src).map(|h| vec![h]))
    else {
        return;
    };
    let json = serde_json::to_string(&heads).expect("heads serialise");
    assert_eq!(serde_json::from_str::<Vec<SignedHead>>(&json).expect("re-encoded heads decode"), heads);
    for h in &heads {
        let _ = h.verify(&h.registry, &h.policy);
    }
    let _ = check_order(&heads);
    if let Some(h) = heads.first() {
        let _ = verify_chain(&heads, &h.registry, &h.policy);
    }
});
