//! The Groth16 setup ceremony of a policy's circuit, in the file formats of the ecosystem's
//! ceremony tools (snarkjs's `.ptau`, `.zkey` and circom's `.r1cs`), so that contributors may use
//! snarkjs — on the command line or in a browser — or `healthcode ceremony`, and auditors may
//! check either with either.
//!
//! * **Phase 1** ([`ptau`]): universal powers of tau — in production the Perpetual Powers of Tau
//!   as finalised by Hermez, pinned by its published hash; checked for internal consistency
//!   whatever its origin.
//! * **Phase 2** ([`init`], [`contribute`]): the circuit's initial key, then contributions, each
//!   multiplying δ by a secret and proving knowledge of it, then a public beacon.
//! * **Verification** ([`verify`]): the chain of contributions, and every section of the final
//!   key against the initial key rebuilt from the circuit and the `.ptau`.
//! * **Keys** ([`keys`]): the arkworks keys the prover and checkpoints use.

pub mod binfile;
pub mod contribute;
pub mod encoding;
pub mod ffjs;
pub mod init;
pub mod keys;
pub mod ptau;
pub mod r1cs;
pub mod verify;
pub mod zkey;

pub use binfile::FormatError;
pub use contribute::{beacon, contribute, ContributeError};
pub use init::{circuit_power, init, InitError};
pub use ptau::{Ptau, PtauReport};
pub use r1cs::R1cs;
pub use verify::{Failure, Verification};
pub use zkey::Zkey;

use ark_std::rand::{CryptoRng, RngCore};
use healthcode_circuits::statement::Matrices;
use serde::Serialize;

/// Everything `ceremony verify` establishes about a `.zkey`.
#[derive(Clone, Debug, Serialize)]
pub struct CeremonyReport {
    pub ptau: PtauReport,
    /// `None` when the `.ptau` failed its checks (phase 2 is then not examined).
    pub transcript: Option<Verification>,
}

impl CeremonyReport {
    pub fn ok(&self) -> bool {
        self.ptau.failures.is_empty() && self.transcript.as_ref().is_some_and(Verification::ok)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    #[error("{0}")]
    Format(#[from] FormatError),
    #[error("{0}")]
    Init(#[from] InitError),
}

/// Checks the `.ptau` for the circuit's size, rebuilds the initial key from the circuit and the
/// `.ptau`, and verifies the `.zkey`'s transcript against it. Errors only for unreadable input.
pub fn verify_ceremony<R: RngCore + CryptoRng>(
    circuit: &Matrices,
    ptau_bytes: &[u8],
    zkey_bytes: &[u8],
    rng: &mut R,
) -> Result<(CeremonyReport, Zkey), CeremonyError> {
    let zkey = Zkey::decode(zkey_bytes)?;
    let r1cs = R1cs::from_matrices(circuit);
    let ptau = Ptau::parse(ptau_bytes)?;
    let report = ptau::check(&ptau, circuit_power(&r1cs), rng)?;
    if !report.failures.is_empty() {
        return Ok((CeremonyReport { ptau: report, transcript: None }, zkey));
    }
    let initial = initial_key(&r1cs, &ptau)?;
    let transcript = verify::verify(&zkey, &initial, rng);
    Ok((CeremonyReport { ptau: report, transcript: Some(transcript) }, zkey))
}

/// [`init`], remembered per process for each (`.ptau`, circuit) pair: rebuilding the initial key is
/// the slow part of a verification (a sum of points per wire, ~10 s for the example policy), and an
/// auditor or a test suite verifies several transcripts of one circuit.
fn initial_key(r1cs: &R1cs, ptau: &Ptau<'_>) -> Result<std::sync::Arc<Zkey>, InitError> {
    use sha2::{Digest, Sha256};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    /// (SHA-256 of the `.ptau`, SHA-256 of the `.r1cs`) → the initial key they determine.
    type Cache = Mutex<HashMap<([u8; 32], [u8; 32]), Arc<Zkey>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (ptau.sha256, Sha256::digest(r1cs.encode()).into());
    // Held while computing: concurrent verifications of one circuit wait for the first.
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(z) = cache.get(&key) {
        return Ok(z.clone());
    }
    let z = Arc::new(init(r1cs, ptau)?);
    cache.insert(key, z.clone());
    Ok(z)
}
