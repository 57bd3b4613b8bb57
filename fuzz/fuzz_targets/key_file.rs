//! Key files (`proving.key`, `verifying.key`). The first byte picks how the rest is read:
//! even: as a whole key file, whose circuit digest is taken from its own header; odd: as the
//! header's kind/encoding bytes and a key body, framed with a correct header (length and SHA-256)
//! so the body decoders are reached. Decoding never panics; a decoded key re-encodes, with the
//! same kind, digest and encoding, to a file that decodes to the same key.
#![no_main]
use ark_bn254::Bn254;
use ark_groth16::{ProvingKey, VerifyingKey};
use healthcode_verifier::keycheck::verifying_key_problems;
use healthcode_verifier::keyfile::{self, KeyKind, HEADER_LEN, MAGIC};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const DIGEST: [u8; 32] = [7; 32];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let file: Vec<u8> = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let Some((&kind, rest)) = rest.split_first() else { return };
        let Some((&enc, body)) = rest.split_first() else { return };
        let mut f = MAGIC.to_vec();
        f.push(if kind & 1 == 0 { b'V' } else { b'P' });
        f.push(keyfile::FORMAT_VERSION);
        f.push(enc % 3);
        f.extend_from_slice(&DIGEST);
        f.extend_from_slice(&Sha256::digest(body));
        f.extend_from_slice(&(body.len() as u64).to_be_bytes());
        f.extend_from_slice(body);
        f
    };
    let digest: [u8; 32] = match file.get(9..41) {
        Some(d) => d.try_into().unwrap(),
        None => DIGEST,
    };
    let compressed = file.get(8) == Some(&0);
    let pinned: [u8; 32] = Sha256::digest(file.get(HEADER_LEN..).unwrap_or_default()).into();

    if let Ok(vk) = keyfile::decode_verifying_key(&file, &digest, Some(&pinned)) {
        let _ = verifying_key_problems(&vk);
        let again = keyfile::encode(KeyKind::Verifying, &digest, &vk, compressed);
        let back: VerifyingKey<Bn254> =
            keyfile::decode_verifying_key(&again, &digest, None).expect("re-encoded verifying key decodes");
        assert_eq!(back, vk);
    }
    let fast = keyfile::decode_proving_key(&file, &digest, Some(&pinned));
    let full = keyfile::decode_proving_key_fully_checked(&file, &digest, Some(&pinned));
    if let Ok(pk) = &full {
        assert_eq!(fast.as_ref().ok(), Some(pk), "the fast reader refuses a key the full reader accepts");
    }
    if let Ok(pk) = fast {
        let again = keyfile::encode(KeyKind::Proving, &digest, &pk, compressed);
        let back: ProvingKey<Bn254> =
            keyfile::decode_proving_key(&again, &digest, None).expect("re-encoded proving key decodes");
        assert_eq!(back, pk);
    }
});
