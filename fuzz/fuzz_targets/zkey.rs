//! Phase-2 `.zkey` files: decoding never panics and never allocates more than the file holds; a
//! decoded key re-encodes to a file that decodes to the same key, and to the very same bytes when
//! the input's sections are in the order the encoder writes them (snarkjs's).
#![no_main]
use healthcode_ceremony::binfile::BinFile;
use healthcode_ceremony::Zkey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(z) = Zkey::decode(data) else { return };
    let again = z.encode();
    assert_eq!(Zkey::decode(&again).expect("a re-encoded zkey decodes"), z);
    let ids = BinFile::parse(data, "zkey", 1).expect("decoded").ids();
    let order: &[u32] = if z.mpc.contributions.is_empty() {
        &[1, 2, 4, 3, 9, 8, 5, 6, 7, 10]
    } else {
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    };
    if ids == order {
        assert!(again == data, "a zkey in canonical section order re-encodes to other bytes");
    }
    let _ = healthcode_ceremony::keys::verifying_key(&z);
});
