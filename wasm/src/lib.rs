//! The citizen's prover and the checkpoint for the web pages (`web/`), compiled to
//! `wasm32-unknown-unknown` from the same crates as the command line: no second implementation.
//!
//! * [`citizen`]: the holder's secret (made and kept on the device), its passphrase backup, the
//!   signed request that fetches her witness, and [`citizen::ProverSession`], which proves her
//!   code (in a Web Worker: a proof blocks its thread for a fraction of a second).
//! * [`gate`]: [`gate::Gate`], the checkpoint — trusted heads only under a registry checkpoint
//!   cosigned by a quorum of witnesses (the command line's `verify --registry` check, cache
//!   included), camera frames read with the same QR decoder, codes verified one by one or as
//!   a queue.
//!
//! Everything crosses the boundary as strings, byte arrays and plain objects; every error is a
//! JavaScript `Error` whose message is meant for the person looking at the screen.

pub mod citizen;
pub mod gate;

use wasm_bindgen::prelude::*;

/// Panics (there should be none) reach the browser console with their message, not as
/// "unreachable executed".
#[wasm_bindgen(start)]
pub fn start() {
    #[cfg(target_arch = "wasm32")]
    console_error_panic_hook::set_once();
}

/// A JavaScript time (seconds, as `Date.now() / 1000`) as unix seconds.
fn unix(seconds: f64) -> Result<u64, JsError> {
    if !(0.0..1e12).contains(&seconds) {
        return Err(JsError::new(&format!("not a time: {seconds}")));
    }
    Ok(seconds as u64)
}

fn error(context: &str, e: impl std::fmt::Display) -> JsError {
    JsError::new(&format!("{context}: {e}"))
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| error("internal", e))
}
