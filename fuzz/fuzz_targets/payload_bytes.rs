//! The binary payload (what a QR code carries): decoding never panics; the encoding is canonical
//! (`encode(decode(x)) == x`); the text form of a decoded payload decodes to the same payload;
//! `decode_any` agrees with `decode` on binary input.
#![no_main]
use healthcode_verifier::payload::{Payload, TEXT_PREFIX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = Payload::decode(data);
    if !data.trim_ascii().starts_with(TEXT_PREFIX.as_bytes()) {
        assert_eq!(Payload::decode_any(data), decoded);
    }
    let Ok(p) = decoded else { return };
    assert_eq!(p.encode().expect("a decoded payload encodes"), data);
    let text = p.to_text().expect("a decoded payload has a text form");
    assert_eq!(Payload::from_text(&text).expect("its text form decodes"), p);
    let _ = p.public_inputs(ark_bn254::Fr::from(1u64), Some(ark_bn254::Fr::from(2u64)));
});
