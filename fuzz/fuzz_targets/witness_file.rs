//! Witness files: decoding never panics; a decoded witness re-encodes to one that decodes to the
//! same value; checking it against the example policy and the key it names never panics.
#![no_main]
use healthcode_fuzz::henan;
use healthcode_registry::WitnessFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(w) = WitnessFile::from_json(src) else { return };
    let back = WitnessFile::from_json(&w.to_json()).expect("a re-encoded witness decodes");
    assert!(back == w, "witness changed through to_json");
    let _ = w.check(&w.head.registry, henan());
});
