//! What a code answers: a checkpoint's venue code, or by default the five-minute time slot it was
//! made in; an identity-bound code answers a secret nonce the checkpoint issues for that one
//! binding. Prover and checkpoint derive the field element the same way, here.

use healthcode_circuits::{hashes, Fr};

/// Length of a default time slot.
pub const SLOT_SECONDS: u64 = 300;

/// The challenge of a venue code shown at a checkpoint (e.g. on a poster).
pub fn venue(code: &str) -> Fr {
    hashes::challenge(&format!("venue:{}", code.trim()))
}

/// The default challenge: the time slot containing `now`.
pub fn time_slot(now: u64) -> Fr {
    hashes::challenge(&format!("slot:{}", now / SLOT_SECONDS))
}

/// Bytes of a binding nonce: 128 bits, so a nonce cannot be guessed to turn a bound code into a
/// test of document numbers.
pub const NONCE_BYTES: usize = 16;

/// A fresh binding nonce, as the hex text the checkpoint shows the holder's device.
pub fn fresh_nonce<R: ark_std::rand::RngCore + ark_std::rand::CryptoRng>(rng: &mut R) -> String {
    let mut b = [0u8; NONCE_BYTES];
    rng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The challenge of a binding nonce given as hex (exactly [`NONCE_BYTES`] bytes).
pub fn nonce(hex_text: &str) -> Result<Fr, String> {
    let b = hex::decode(hex_text.trim())
        .map_err(|e| format!("a nonce is {} hex digits: {e}", 2 * NONCE_BYTES))?;
    if b.len() != NONCE_BYTES {
        return Err(format!(
            "a nonce is {} hex digits ({} random bytes), got {}",
            2 * NONCE_BYTES,
            NONCE_BYTES,
            2 * b.len()
        ));
    }
    Ok(hashes::challenge(&format!("nonce:{}", hex::encode(b))))
}
