//! circom `.r1cs` files: decoding never panics and never allocates more than the file holds; a
//! decoded circuit re-encodes to a file that decodes to the same circuit.
#![no_main]
use healthcode_ceremony::{circuit_power, R1cs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = R1cs::decode(data) else { return };
    let again = r.encode();
    assert_eq!(R1cs::decode(&again).expect("a re-encoded r1cs decodes"), r);
    let _ = circuit_power(&r);
});
