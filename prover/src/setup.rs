//! Single-party Groth16 setup, for development: whoever runs it can forge proofs (SOUNDNESS row 8).
//! Production keys come from a multi-party ceremony; the bundle format is the same.

use ark_bn254::Bn254;
use ark_groth16::{Groth16, ProvingKey, VerifyingKey};
use ark_std::rand::{CryptoRng, RngCore};
use healthcode_circuits::policy::{Policy, PolicyError};
use healthcode_circuits::statement::{circuit_info, CircuitInfo, HealthCodeCircuit};
use healthcode_verifier::bundle::{
    CircuitEntry, KeyEntry, Manifest, PolicyEntry, MANIFEST_FILE, MANIFEST_FORMAT, POLICY_FILE,
    PROVING_KEY_FILE, SINGLE_PARTY_WARNING, VERIFYING_KEY_FILE,
};
use healthcode_verifier::keyfile::{self, KeyKind};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Proving keys are written with uncompressed points: loading them then needs no square roots,
/// which makes loading several times faster (see the `prove` bench) for a file about twice as
/// large. Verifying keys are tiny and written compressed.
pub const PROVING_KEY_COMPRESSED: bool = false;
pub const VERIFYING_KEY_COMPRESSED: bool = true;

/// The keys of one policy's circuit, in memory.
#[derive(Clone)]
pub struct Keys {
    pub info: CircuitInfo,
    pub proving_key: ProvingKey<Bn254>,
    pub verifying_key: VerifyingKey<Bn254>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("the policy cannot be compiled into a circuit: {0}")]
    Circuit(String),
    #[error("{0} already holds a bundle (manifest.json); refusing to overwrite its keys")]
    Exists(PathBuf),
    #[error("cannot write {path}: {message}")]
    Io { path: PathBuf, message: String },
}

/// Generates fresh keys for the policy's circuit. The randomness is the toxic waste: `rng` must be
/// a cryptographic RNG, and its state is as secret as the keys are trusted.
pub fn generate_keys<R: RngCore + CryptoRng>(policy: &Policy, rng: &mut R) -> Result<Keys, SetupError> {
    let info = circuit_info(policy).map_err(|e| SetupError::Circuit(e.to_string()))?;
    let proving_key = Groth16::<Bn254>::generate_random_parameters_with_reduction(
        HealthCodeCircuit::for_setup(policy),
        rng,
    )
    .map_err(|e| SetupError::Circuit(e.to_string()))?;
    let verifying_key = proving_key.vk.clone();
    Ok(Keys { info, proving_key, verifying_key })
}

/// The two key files and the manifest describing them.
pub struct EncodedBundle {
    pub policy_text: String,
    pub proving_key: Vec<u8>,
    pub verifying_key: Vec<u8>,
    pub manifest: Manifest,
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
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        warning: SINGLE_PARTY_WARNING.into(),
        setup: "single-party".into(),
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
    };
    EncodedBundle { policy_text: policy_text.into(), proving_key, verifying_key, manifest }
}

/// `healthcode setup`: parses the policy, generates keys and writes the bundle directory
/// (`policy.toml`, `proving.key`, `verifying.key`, `manifest.json`). Refuses to overwrite an
/// existing bundle.
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
    let bundle = encode_bundle(policy_text, &policy, &keys);
    let write = |name: &str, bytes: &[u8]| {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|e| SetupError::Io { path, message: e.to_string() })
    };
    std::fs::create_dir_all(out)
        .map_err(|e| SetupError::Io { path: out.to_owned(), message: e.to_string() })?;
    write(POLICY_FILE, bundle.policy_text.as_bytes())?;
    write(PROVING_KEY_FILE, &bundle.proving_key)?;
    write(VERIFYING_KEY_FILE, &bundle.verifying_key)?;
    // The manifest last: its presence marks a complete bundle.
    let json = serde_json::to_string_pretty(&bundle.manifest).expect("the manifest serialises");
    write(MANIFEST_FILE, format!("{json}\n").as_bytes())?;
    Ok(bundle.manifest)
}
