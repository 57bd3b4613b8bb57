//! The registry's public export (`registry export`, read by `audit registry --export`, `receipt
//! check`, `holder history`): parsing never panics; a parsed export round-trips through its JSON
//! form; replaying it (as an auditor does, against the example policy and the key its first head
//! names) never panics.
#![no_main]
use healthcode_fuzz::henan;
use healthcode_registry::audit::replay_all;
use healthcode_registry::LogExport;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(export) = LogExport::parse(text) else { return };
    let back = LogExport::parse(&export.to_json()).expect("a re-encoded export parses");
    assert_eq!(back, export);
    let key = export.heads[0].registry;
    let _ = replay_all(&export.entries, &export.heads, &key, henan());
});
