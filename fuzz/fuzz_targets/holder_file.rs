//! Holder files: decoding never panics; a decoded holder re-encodes to a file that decodes to the
//! same holder.
#![no_main]
use healthcode_registry::HolderFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(h) = HolderFile::from_json(src) else { return };
    let back = HolderFile::from_json(&h.to_json()).expect("a re-encoded holder file decodes");
    assert!(back == h, "holder file changed through to_json");
});
