//! A policy bundle: the directory `setup` writes and checkpoints and provers read.
//!
//! ```text
//! policy.toml     the policy text as published
//! proving.key     key file (see [`crate::keyfile`]) for the prover
//! verifying.key   key file for checkpoints
//! manifest.json   policy id/version/digest, circuit digest and size, key hashes, a setup warning
//! ```
//!
//! The manifest pins the SHA-256 of each key body, so a key swapped for another one (even for the
//! same circuit) is noticed; the circuit digest in the manifest is checked against the one
//! recomputed from the policy by [`VerifierBundle::load`] (and by auditors).

use crate::input::{MAX_POLICY_BYTES, MAX_SMALL_KEY_BYTES};
use crate::keyfile::{self, KeyFileError};
use ark_bn254::Bn254;
use ark_groth16::VerifyingKey;
use healthcode_circuits::policy::{Policy, PolicyError};
use healthcode_circuits::statement::{circuit_info, CircuitInfo};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const POLICY_FILE: &str = "policy.toml";
pub const PROVING_KEY_FILE: &str = "proving.key";
pub const VERIFYING_KEY_FILE: &str = "verifying.key";
pub const MANIFEST_FILE: &str = "manifest.json";
/// The ceremony's final `.zkey` (snarkjs format): the transcript auditors verify.
pub const CEREMONY_FILE: &str = "ceremony.zkey";
/// Version of the manifest layout.
pub const MANIFEST_FORMAT: u32 = 1;

/// What every single-party setup says about itself (docs/soundness.md §8).
pub const SINGLE_PARTY_WARNING: &str =
    "DEVELOPMENT KEYS: made by a single-party trusted setup. Whoever ran it \
knows the toxic waste and can forge proofs of any colour for anyone. Production keys must come from a \
multi-party ceremony.";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEntry {
    pub file: String,
    pub id: String,
    pub version: u64,
    /// Hex SHA-256 of the canonical policy (`Policy::digest`).
    pub digest: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitEntry {
    /// Hex SHA-256 of the constraint matrices (`circuit_info`).
    pub digest: String,
    pub constraints: usize,
    pub public_inputs: usize,
    pub witnesses: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub file: String,
    /// Hex SHA-256 of the key body (the bytes after the key-file header).
    pub body_sha256: String,
    /// Size of the whole file in bytes.
    pub bytes: u64,
    /// Whether the body stores compressed points.
    pub compressed: bool,
}

/// The ceremony transcript a bundle ships.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CeremonyEntry {
    pub file: String,
    /// Hex SHA-256 of the `.zkey`.
    pub sha256: String,
    /// Hex Blake2b-512 circuit hash the transcript starts from (snarkjs's "Circuit Hash").
    pub circuit_hash: String,
    /// `name: contribution hash` per contribution, in order.
    pub contributions: Vec<String>,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub warning: String,
    /// How the keys were made: `"single-party"` for [`SINGLE_PARTY_WARNING`] keys.
    pub setup: String,
    pub policy: PolicyEntry,
    pub circuit: CircuitEntry,
    pub proving_key: KeyEntry,
    pub verifying_key: KeyEntry,
    /// The ceremony transcript; absent in bundles made before ceremonies existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<CeremonyEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("manifest {path} is not valid: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("unsupported manifest format {0} (this build reads format {MANIFEST_FORMAT})")]
    ManifestFormat(u32),
    #[error("policy {path}: {source}")]
    Policy { path: PathBuf, source: PolicyError },
    #[error("the policy's digest {actual} is not the manifest's {manifest}")]
    PolicyMismatch { manifest: String, actual: String },
    #[error("the policy compiles to circuit {actual}, the manifest names circuit {manifest}")]
    CircuitMismatch { manifest: String, actual: String },
    #[error("the policy cannot be compiled into a circuit: {0}")]
    Circuit(String),
    #[error("{path}: {source}")]
    Key { path: PathBuf, source: KeyFileError },
    #[error("{path}: the verifying key is malformed: {}", .problems.join("; "))]
    MalformedKey { path: PathBuf, problems: Vec<String> },
}

/// Reads one file of a bundle, at most `limit` bytes (see [`crate::input`]).
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, BundleError> {
    crate::input::read_bounded(path, limit)
        .map_err(|e| BundleError::Io { path: path.to_owned(), message: e.to_string() })
}

/// Where a bundle's files come from: a directory on disk, or the files a browser fetched
/// ([`FetchedBundle`]). Every check of a bundle is written once, over this.
pub trait BundleFiles {
    /// The file `name` of the bundle, at most `limit` bytes.
    fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>, BundleError>;
    /// How the file `name` is called in error messages.
    fn path(&self, name: &str) -> PathBuf;
}

impl BundleFiles for Path {
    fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>, BundleError> {
        read(&self.join(name), limit)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.join(name)
    }
}

impl BundleFiles for PathBuf {
    fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>, BundleError> {
        self.as_path().read(name, limit)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.join(name)
    }
}

/// A bundle's files held in memory (fetched over HTTP by the web pages), named as in the
/// manifest; `origin` (a URL) names them in errors.
#[derive(Clone, Debug, Default)]
pub struct FetchedBundle {
    pub origin: String,
    pub files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl BundleFiles for FetchedBundle {
    fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>, BundleError> {
        let bytes = self.files.get(name).ok_or_else(|| BundleError::Io {
            path: self.path(name),
            message: "missing from the bundle".into(),
        })?;
        if bytes.len() as u64 > limit {
            return Err(BundleError::Io {
                path: self.path(name),
                message: format!("larger than the {limit} bytes allowed"),
            });
        }
        Ok(bytes.clone())
    }
    fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("{}/{name}", self.origin.trim_end_matches('/')))
    }
}

/// Parses a 64-digit hex SHA-256.
pub fn parse_digest(s: &str) -> Option<[u8; 32]> {
    let v = hex::decode(s).ok()?;
    v.try_into().ok()
}

impl Manifest {
    pub fn read(dir: &(impl BundleFiles + ?Sized)) -> Result<Self, BundleError> {
        let path = dir.path(MANIFEST_FILE);
        let m: Manifest = serde_json::from_slice(&dir.read(MANIFEST_FILE, MAX_SMALL_KEY_BYTES)?)
            .map_err(|e| BundleError::Manifest { path: path.clone(), message: e.to_string() })?;
        if m.format != MANIFEST_FORMAT {
            return Err(BundleError::ManifestFormat(m.format));
        }
        let bad = |what: &str| BundleError::Manifest {
            path: path.clone(),
            message: format!("{what} is not a hex SHA-256"),
        };
        parse_digest(&m.policy.digest).ok_or_else(|| bad("policy.digest"))?;
        parse_digest(&m.circuit.digest).ok_or_else(|| bad("circuit.digest"))?;
        parse_digest(&m.proving_key.body_sha256).ok_or_else(|| bad("proving_key.body_sha256"))?;
        parse_digest(&m.verifying_key.body_sha256).ok_or_else(|| bad("verifying_key.body_sha256"))?;
        let ceremony = m.ceremony.as_ref().map(|c| &c.file);
        for f in [&m.policy.file, &m.proving_key.file, &m.verifying_key.file].into_iter().chain(ceremony) {
            if Path::new(f).components().count() != 1 || f.contains("..") || Path::new(f).is_absolute() {
                return Err(BundleError::Manifest {
                    path: path.clone(),
                    message: format!("file name {f:?} must be a plain name in the bundle"),
                });
            }
        }
        Ok(m)
    }

    /// The circuit digest as bytes (checked to parse by [`Manifest::read`]).
    pub fn circuit_digest(&self) -> [u8; 32] {
        parse_digest(&self.circuit.digest).unwrap_or_default()
    }

    pub fn proving_key_sha256(&self) -> [u8; 32] {
        parse_digest(&self.proving_key.body_sha256).unwrap_or_default()
    }

    pub fn verifying_key_sha256(&self) -> [u8; 32] {
        parse_digest(&self.verifying_key.body_sha256).unwrap_or_default()
    }
}

/// Reads `policy.toml` and checks it against the manifest's policy digest.
pub fn read_policy(
    dir: &(impl BundleFiles + ?Sized),
    manifest: &Manifest,
) -> Result<(String, Policy), BundleError> {
    let path = dir.path(&manifest.policy.file);
    let bytes = dir.read(&manifest.policy.file, MAX_POLICY_BYTES)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| BundleError::Io { path: path.clone(), message: "not UTF-8".into() })?;
    let policy = Policy::parse(&text).map_err(|source| BundleError::Policy { path, source })?;
    let actual = hex::encode(policy.digest());
    if actual != manifest.policy.digest {
        return Err(BundleError::PolicyMismatch { manifest: manifest.policy.digest.clone(), actual });
    }
    Ok((text, policy))
}

/// Recompiles the policy and checks the circuit digest the manifest names.
pub fn check_circuit(policy: &Policy, manifest: &Manifest) -> Result<CircuitInfo, BundleError> {
    let info = circuit_info(policy).map_err(|e| BundleError::Circuit(e.to_string()))?;
    if info.digest != manifest.circuit.digest {
        return Err(BundleError::CircuitMismatch {
            manifest: manifest.circuit.digest.clone(),
            actual: info.digest,
        });
    }
    Ok(info)
}

/// What a checkpoint needs from a bundle.
#[derive(Clone, Debug)]
pub struct VerifierBundle {
    pub policy: Policy,
    pub manifest: Manifest,
    pub verifying_key: VerifyingKey<Bn254>,
}

impl VerifierBundle {
    /// Loads a bundle, recompiling the policy to check the circuit digest, and reads the verifying
    /// key with full point validation; the key must be for that circuit and match the manifest.
    pub fn load(dir: &(impl BundleFiles + ?Sized)) -> Result<Self, BundleError> {
        let manifest = Manifest::read(dir)?;
        let (_, policy) = read_policy(dir, &manifest)?;
        check_circuit(&policy, &manifest)?;
        let path = dir.path(&manifest.verifying_key.file);
        let verifying_key = keyfile::decode_verifying_key(
            &dir.read(&manifest.verifying_key.file, MAX_SMALL_KEY_BYTES)?,
            &manifest.circuit_digest(),
            Some(&manifest.verifying_key_sha256()),
        )
        .map_err(|source| BundleError::Key { path: path.clone(), source })?;
        let problems = crate::keycheck::verifying_key_problems(&verifying_key);
        if !problems.is_empty() {
            return Err(BundleError::MalformedKey { path, problems });
        }
        Ok(Self { policy, manifest, verifying_key })
    }
}
