//! Bundles of keys, from a ceremony's final `.zkey` ([`finalize`]) or from the single-party
//! setup, for development only: whoever runs it can forge proofs (docs/soundness.md §8).
//!
//! Both go through the ceremony's code: the single-party setup is a ceremony with a phase 1 made
//! from a fresh random τ, α, β and one contribution, so development keys have the same shape
//! (circom-style `H`), the same transcript in the bundle and the same prover as production keys.

use ark_bn254::Bn254;
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_std::rand::{CryptoRng, RngCore};
use healthcode_ceremony::{keys, ptau, Zkey};
use healthcode_circuits::policy::{Policy, PolicyError};
use healthcode_circuits::statement::{info_of, matrices, CircuitInfo};
use healthcode_verifier::bundle::{
    CeremonyEntry, CircuitEntry, KeyEntry, Manifest, PolicyEntry, CEREMONY_FILE, MANIFEST_FILE,
    MANIFEST_FORMAT, POLICY_FILE, PROVING_KEY_FILE, SINGLE_PARTY_WARNING, VERIFYING_KEY_FILE,
};
use healthcode_verifier::keyfile::{self, KeyKind};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Proving keys are written with uncompressed points: loading them then needs no square roots,
/// which makes loading several times faster (see the `prove` bench) for a file about twice as
/// large. Verifying keys are tiny and written compressed.
pub const PROVING_KEY_COMPRESSED: bool = false;
pub const VERIFYING_KEY_COMPRESSED: bool = true;

/// The name the single-party setup's one contribution carries in its transcript.
pub const SINGLE_PARTY_CONTRIBUTION: &str = "single-party development setup";

/// The keys of one policy's circuit, in memory, with the ceremony transcript they came from.
#[derive(Clone)]
pub struct Keys {
    pub info: CircuitInfo,
    pub proving_key: ProvingKey<Bn254>,
    pub verifying_key: VerifyingKey<Bn254>,
    /// The final `.zkey`.
    pub transcript: Zkey,
    /// `"single-party"` or `"ceremony"`.
    pub setup: &'static str,
}

impl Keys {
    /// The keys a ceremony's final `.zkey` stands for.
    pub fn from_zkey(info: CircuitInfo, zkey: Zkey, setup: &'static str) -> Self {
        let proving_key = keys::proving_key(&zkey);
        let verifying_key = proving_key.vk.clone();
        Self { info, proving_key, verifying_key, transcript: zkey, setup }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("the policy cannot be compiled into a circuit: {0}")]
    Circuit(String),
    #[error("ceremony: {0}")]
    Ceremony(String),
    #[error("{0} already holds a bundle (manifest.json); refusing to overwrite its keys")]
    Exists(PathBuf),
    #[error("cannot write {path}: {message}")]
    Io { path: PathBuf, message: String },
}

/// Generates fresh **development** keys for the policy's circuit: a phase 1 from random secrets,
/// the circuit's initial key and one contribution. The randomness is the toxic waste: `rng` must
/// be a cryptographic RNG, and its state is as secret as the keys are trusted.
pub fn generate_keys<R: RngCore + CryptoRng>(policy: &Policy, rng: &mut R) -> Result<Keys, SetupError> {
    let m = matrices(policy).map_err(|e| SetupError::Circuit(e.to_string()))?;
    let info = info_of(&m);
    let r1cs = healthcode_ceremony::R1cs::from_matrices(&m);
    let mut zkey = healthcode_ceremony::init::init_from_secrets(&r1cs, &ptau::Phase1Secrets::random(rng));
    healthcode_ceremony::contribute(&mut zkey, Some(SINGLE_PARTY_CONTRIBUTION), b"", rng)
        .map_err(|e| SetupError::Ceremony(e.to_string()))?;
    Ok(Keys::from_zkey(info, zkey, "single-party"))
}

/// The two key files and the manifest describing them.
pub struct EncodedBundle {
    pub policy_text: String,
    pub proving_key: Vec<u8>,
    pub verifying_key: Vec<u8>,
    /// The final `.zkey`: the ceremony transcript auditors verify.
    pub transcript: Vec<u8>,
    pub manifest: Manifest,
}

/// The manifest's list of contributions (name and hash), in order.
fn contributions(z: &Zkey) -> Vec<String> {
    z.mpc
        .contributions
        .iter()
        .map(|c| {
            let hash = hex::encode(healthcode_ceremony::contribute::contribution_hash(c));
            match &c.name {
                Some(n) => format!("{n}: {hash}"),
                None => hash,
            }
        })
        .collect()
}

/// Encodes keys into key files and a manifest (no disk access).
pub fn encode_bundle(policy_text: &str, policy: &Policy, keys: &Keys) -> EncodedBundle {
    let digest = crate::circuit_digest_bytes(&keys.info);
    let proving_key = keyfile::encode(KeyKind::Proving, &digest, &keys.proving_key, PROVING_KEY_COMPRESSED);
    let verifying_key =
        keyfile::encode(KeyKind::Verifying, &digest, &keys.verifying_key, VERIFYING_KEY_COMPRESSED);
    let entry = |file: &str, bytes: &[u8], compressed| KeyEntry {
        file: file.into(),
        body_sha256: hex::encode(Sha256::digest(&bytes[keyfile::HEADER_LEN..])),
        bytes: bytes.len() as u64,
        compressed,
    };
    let transcript = keys.transcript.encode();
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        warning: if keys.setup == "single-party" { SINGLE_PARTY_WARNING.into() } else { String::new() },
        setup: keys.setup.into(),
        policy: PolicyEntry {
            file: POLICY_FILE.into(),
            id: policy.id.clone(),
            version: policy.version,
            digest: hex::encode(policy.digest()),
        },
        circuit: CircuitEntry {
            digest: keys.info.digest.clone(),
            constraints: keys.info.constraints,
            public_inputs: keys.info.public_inputs,
            witnesses: keys.info.witnesses,
        },
        proving_key: entry(PROVING_KEY_FILE, &proving_key, PROVING_KEY_COMPRESSED),
        verifying_key: entry(VERIFYING_KEY_FILE, &verifying_key, VERIFYING_KEY_COMPRESSED),
        ceremony: Some(CeremonyEntry {
            file: CEREMONY_FILE.into(),
            sha256: hex::encode(Sha256::digest(&transcript)),
            circuit_hash: hex::encode(keys.transcript.mpc.cs_hash),
            contributions: contributions(&keys.transcript),
        }),
    };
    EncodedBundle { policy_text: policy_text.into(), proving_key, verifying_key, transcript, manifest }
}

/// `healthcode setup`: parses the policy, generates development keys and writes the bundle
/// directory. Refuses to overwrite an existing bundle.
pub fn setup<R: RngCore + CryptoRng>(
    policy_text: &str,
    out: &Path,
    rng: &mut R,
) -> Result<Manifest, SetupError> {
    let policy = Policy::parse(policy_text)?;
    if out.join(MANIFEST_FILE).exists() {
        return Err(SetupError::Exists(out.to_owned()));
    }
    let keys = generate_keys(&policy, rng)?;
    write_bundle(out, &encode_bundle(policy_text, &policy, &keys))
}

/// `healthcode ceremony finalize`: the bundle of a ceremony's final `.zkey`, which the caller has
/// verified against the policy and the phase-1 file. Refuses to overwrite an existing bundle.
pub fn finalize(policy_text: &str, zkey: Zkey, out: &Path) -> Result<Manifest, SetupError> {
    let policy = Policy::parse(policy_text)?;
    if out.join(MANIFEST_FILE).exists() {
        return Err(SetupError::Exists(out.to_owned()));
    }
    let info = healthcode_circuits::statement::circuit_info(&policy)
        .map_err(|e| SetupError::Circuit(e.to_string()))?;
    let keys = Keys::from_zkey(info, zkey, "ceremony");
    write_bundle(out, &encode_bundle(policy_text, &policy, &keys))
}

/// Writes `policy.toml`, the key files, the transcript and, last, `manifest.json`.
pub fn write_bundle(out: &Path, bundle: &EncodedBundle) -> Result<Manifest, SetupError> {
    let write = |name: &str, bytes: &[u8]| {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|e| SetupError::Io { path, message: e.to_string() })
    };
    std::fs::create_dir_all(out)
        .map_err(|e| SetupError::Io { path: out.to_owned(), message: e.to_string() })?;
    write(POLICY_FILE, bundle.policy_text.as_bytes())?;
    write(PROVING_KEY_FILE, &bundle.proving_key)?;
    write(VERIFYING_KEY_FILE, &bundle.verifying_key)?;
    write(CEREMONY_FILE, &bundle.transcript)?;
    // The manifest last: its presence marks a complete bundle.
    let json = serde_json::to_string_pretty(&bundle.manifest).expect("the manifest serialises");
    write(MANIFEST_FILE, format!("{json}\n").as_bytes())?;
    Ok(bundle.manifest.clone())
}
