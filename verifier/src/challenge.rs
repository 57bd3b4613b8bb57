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

/// The time slots a checkpoint at `clock` takes a default code for: the current one, and the one
/// before (a code made just before a slot boundary).
pub fn posted_slots(clock: u64) -> [Fr; 2] {
    [time_slot(clock), time_slot(clock.saturating_sub(SLOT_SECONDS))]
}

/// The first second at which checkpoints refuse a code made at `made_at`: once it is older than
/// `max_code_age`, and for a code answering its time slot (`slotted`), once neither of
/// [`posted_slots`] is its own. What the citizen's page shows as "checkpoints take it until".
pub fn refused_from(made_at: u64, max_code_age: u64, slotted: bool) -> u64 {
    let by_age = made_at.saturating_add(max_code_age).saturating_add(1);
    if !slotted {
        return by_age;
    }
    by_age.min((made_at / SLOT_SECONDS + 2).saturating_mul(SLOT_SECONDS))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The window the page shows agrees with what a checkpoint takes: a code's own slot among
    /// [`posted_slots`] and its age within `max_code_age` (the checkpoint's two checks), second by
    /// second around every boundary, for a short and a long `max_code_age`.
    #[test]
    fn refused_from_is_where_a_checkpoint_starts_refusing() {
        for max_code_age in [60, SLOT_SECONDS, 900] {
            for made_at in [1_700_000_000, 1_700_000_299, 1_700_000_300, 1_700_000_150] {
                let own = time_slot(made_at);
                for clock in made_at..made_at + 4 * SLOT_SECONDS {
                    let in_age = clock - made_at <= max_code_age;
                    let taken = in_age && posted_slots(clock).contains(&own);
                    assert_eq!(clock < refused_from(made_at, max_code_age, true), taken, "{made_at} {clock}");
                    assert_eq!(
                        clock < refused_from(made_at, max_code_age, false),
                        in_age,
                        "{made_at} {clock}"
                    );
                }
            }
        }
    }
}
