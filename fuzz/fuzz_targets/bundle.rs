//! Bundles: `manifest.json`, `policy.toml` and `verifying.key`, packed in one input as
//! `len(u16 LE) manifest ‖ len(u16 LE) policy ‖ key` and written to a scratch directory, then read
//! with `Manifest::read` and `VerifierBundle::load` (what a checkpoint does). Reading never
//! panics; a manifest that reads round-trips through JSON.
#![no_main]
use healthcode_fuzz::split;
use healthcode_verifier::bundle::{Manifest, MANIFEST_FILE, POLICY_FILE, VERIFYING_KEY_FILE};
use healthcode_verifier::VerifierBundle;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let base = std::env::var_os("FUZZ_SCRATCH").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        let d = base.join(format!("healthcode-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch directory");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let [manifest, policy, key] = split::<3>(data);
    let d = dir();
    std::fs::write(d.join(MANIFEST_FILE), manifest).unwrap();
    std::fs::write(d.join(POLICY_FILE), policy).unwrap();
    std::fs::write(d.join(VERIFYING_KEY_FILE), key).unwrap();
    let Ok(m) = Manifest::read(d) else { return };
    let json = serde_json::to_string(&m).expect("a manifest serialises");
    assert_eq!(serde_json::from_str::<Manifest>(&json).expect("re-encoded manifest decodes"), m);
    let _ = VerifierBundle::load(d);
});
