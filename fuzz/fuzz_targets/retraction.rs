//! Signed retractions (`registry retract` input, JSON): decoding never panics; a decoded
//! retraction round-trips through JSON and, as a log entry, through the binary encoding.
#![no_main]
use healthcode_registry::event::{Entry, EntryBody};
use healthcode_registry::SignedRetraction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(r) = serde_json::from_str::<SignedRetraction>(src) else { return };
    let json = serde_json::to_string(&r).expect("a retraction serialises");
    assert_eq!(serde_json::from_str::<SignedRetraction>(&json).expect("re-encoded retraction decodes"), r);
    let _ = r.verify();
    let entry = Entry { at: u64::MAX, body: EntryBody::Retraction(r) };
    let bytes = entry.to_bytes();
    assert_eq!(Entry::from_bytes(&bytes).expect("entry decodes"), entry);
});
