//! Signed events (`sign-event` output, `registry submit` input, JSON): decoding never panics; a
//! decoded event round-trips through JSON and, as a log entry, through the binary encoding;
//! verifying it never panics.
#![no_main]
use healthcode_registry::event::{Entry, EntryBody, Summary};
use healthcode_registry::SignedEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(e) = serde_json::from_str::<SignedEvent>(src) else { return };
    let json = serde_json::to_string(&e).expect("an event serialises");
    assert_eq!(serde_json::from_str::<SignedEvent>(&json).expect("re-encoded event decodes"), e);
    let _ = e.verify();
    let id = e.event.id();
    if e.event.kind.len() <= u16::MAX as usize {
        let entry = Entry { at: 7, body: EntryBody::Event(e.clone()) };
        let bytes = entry.to_bytes();
        assert_eq!(Entry::from_bytes(&bytes).expect("entry decodes"), entry);
        match Entry::summary(&bytes).expect("summary") {
            Summary::Event { id: sid, holder, kind, time } => {
                assert_eq!((sid, holder, &kind, time), (id, e.event.holder, &e.event.kind, e.event.time))
            }
            other => panic!("summary of an event entry: {other:?}"),
        }
    }
});
