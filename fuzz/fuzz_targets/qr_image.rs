//! QR images (PNG/JPEG, what a checkpoint scans): reading never panics; `decode_image` is
//! `decode_any` of the bytes `read_image` finds.
#![no_main]
use healthcode_verifier::qr::{decode_image, read_image};
use healthcode_verifier::Payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(bytes) = read_image(data) else { return };
    assert_eq!(decode_image(data).ok(), Payload::decode_any(&bytes).ok());
});
