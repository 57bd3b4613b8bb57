//! The text form `HCV1:<base64url>`: decoding never panics; a decoded code's text form is the input
//! without its surrounding whitespace (one spelling per code); `decode_any` agrees.
#![no_main]
use healthcode_verifier::payload::{Payload, TEXT_PREFIX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let decoded = Payload::from_text(text);
    if text.trim() == text.trim_ascii() && text.trim().starts_with(TEXT_PREFIX) {
        assert_eq!(Payload::decode_any(data), decoded);
    }
    let Ok(p) = decoded else { return };
    assert_eq!(p.to_text().expect("a decoded payload has a text form"), text.trim());
    assert_eq!(Payload::decode(&p.encode().unwrap()).unwrap(), p);
});
