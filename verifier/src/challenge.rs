//! What a code answers: a checkpoint's venue code, or by default the five-minute time slot it was
//! made in. Prover and checkpoint derive the field element the same way, here.

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
