//! Binary log entries (the registry log, the export's `entries`): decoding never panics; the
//! encoding is canonical (`to_bytes(from_bytes(x)) == x`), and the fast `summary` reader agrees
//! with the full decoder on every entry the decoder accepts.
#![no_main]
use healthcode_registry::event::{Entry, EntryBody, Summary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let summary = Entry::summary(data);
    let Ok(e) = Entry::from_bytes(data) else { return };
    assert_eq!(e.to_bytes(), data, "a decoded entry re-encodes to other bytes");
    let summary = summary.expect("summary refuses an entry the decoder accepts");
    match (&e.body, summary) {
        (EntryBody::Enrol { leaf_index, .. }, Summary::Enrol { leaf_index: l }) => assert_eq!(*leaf_index, l),
        (
            EntryBody::SignerAdd { .. }
            | EntryBody::SignerRevoke { .. }
            | EntryBody::AuditorAdd { .. }
            | EntryBody::AuditorRevoke { .. },
            Summary::Accreditation,
        ) => {}
        (EntryBody::Event(ev), Summary::Event { id, holder, kind, time }) => {
            assert_eq!(
                (ev.event.id(), ev.event.holder, &ev.event.kind, ev.event.time),
                (id, holder, &kind, time)
            )
        }
        (EntryBody::Retraction(r), Summary::Retraction { event }) => assert_eq!(r.retraction.event, event),
        (body, s) => panic!("summary {s:?} disagrees with {body:?}"),
    }
});
