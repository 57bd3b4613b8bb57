//! Loading a policy bundle on the holder's device: fast, because the citizen waits for it.
//!
//! The circuit digest is taken from the manifest rather than recomputed (recompiling the policy is
//! an auditor's and a checkpoint's job, see [`VerifierBundle::load`]); the proving key must carry
//! that digest and its body must hash to the SHA-256 the manifest pins.
//!
//! [`VerifierBundle::load`]: healthcode_verifier::VerifierBundle::load

use ark_bn254::Bn254;
use ark_groth16::{ProvingKey, VerifyingKey};
use healthcode_circuits::policy::Policy;
use healthcode_verifier::bundle::{self, BundleError, BundleFiles, Manifest};
use healthcode_verifier::input::{MAX_PROVING_KEY_BYTES, MAX_SMALL_KEY_BYTES};
use healthcode_verifier::keyfile;
use std::fmt;

/// What a prover needs from a bundle.
pub struct ProverBundle {
    pub policy_text: String,
    pub policy: Policy,
    pub manifest: Manifest,
    pub proving_key: ProvingKey<Bn254>,
    /// The checkpoints' key, to check each proof before it is shown.
    pub verifying_key: VerifyingKey<Bn254>,
}

impl fmt::Debug for ProverBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProverBundle")
            .field("policy", &self.policy.id)
            .field("circuit", &self.manifest.circuit.digest)
            .finish_non_exhaustive()
    }
}

impl ProverBundle {
    /// Loads the policy (checked against the manifest's digest) and the proving key (checked
    /// against the manifest's circuit digest and body hash).
    pub fn load(dir: &(impl BundleFiles + ?Sized)) -> Result<Self, BundleError> {
        Self::load_inner(dir, false)
    }

    /// [`ProverBundle::load`], additionally recompiling the policy to check the circuit digest.
    pub fn load_recompiled(dir: &(impl BundleFiles + ?Sized)) -> Result<Self, BundleError> {
        Self::load_inner(dir, true)
    }

    /// A prover prepared for this bundle's proving key (checks its shape and compacts its queries;
    /// keep it to prove again, e.g. when the code is refreshed).
    pub fn prover(&self) -> Result<crate::Prover<'_>, crate::ProveError> {
        Ok(crate::Prover::new(&self.policy, &self.proving_key)?.with_verifying_key(&self.verifying_key))
    }

    fn load_inner(dir: &(impl BundleFiles + ?Sized), recompile: bool) -> Result<Self, BundleError> {
        let manifest = Manifest::read(dir)?;
        let (policy_text, policy) = bundle::read_policy(dir, &manifest)?;
        if recompile {
            bundle::check_circuit(&policy, &manifest)?;
        }
        let path = dir.path(&manifest.proving_key.file);
        let bytes = dir.read(&manifest.proving_key.file, MAX_PROVING_KEY_BYTES)?;
        let proving_key = keyfile::decode_proving_key(
            &bytes,
            &manifest.circuit_digest(),
            Some(&manifest.proving_key_sha256()),
        )
        .map_err(|source| BundleError::Key { path, source })?;
        let path = dir.path(&manifest.verifying_key.file);
        let bytes = dir.read(&manifest.verifying_key.file, MAX_SMALL_KEY_BYTES)?;
        let verifying_key = keyfile::decode_verifying_key(
            &bytes,
            &manifest.circuit_digest(),
            Some(&manifest.verifying_key_sha256()),
        )
        .map_err(|source| BundleError::Key { path, source })?;
        Ok(Self { policy_text, policy, manifest, proving_key, verifying_key })
    }
}
