//! Times and durations: the only values the policy compares.
//!
//! Every time is a u64 of seconds since the Unix epoch below 2^40 (year 36812), and every duration
//! is below 2^40 too, so `time + duration < 2^41` and a comparison never wraps around the field.
//! In the circuit a time only exists as 40 boolean bits ([`gadget::TimeVar`]), so nothing can be
//! compared before it is range-checked (docs/soundness.md §2).

pub mod gadget;

/// Bits of every time (and of `now`).
pub const TIME_BITS: usize = 40;
/// The largest representable time; 0 means "never".
pub const MAX_TIME: u64 = (1 << TIME_BITS) - 1;
/// The largest duration a policy may name.
pub const MAX_DURATION: u64 = (1 << TIME_BITS) - 1;
/// Bits of `time + duration`.
pub const TERM_BITS: usize = TIME_BITS + 1;

/// `a < b` for two `time + duration` terms, the native twin of [`gadget::less_than`].
pub fn less_than(a: u64, b: u64) -> bool {
    debug_assert!(a >> TERM_BITS == 0 && b >> TERM_BITS == 0);
    a < b
}
