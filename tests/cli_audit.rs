//! `healthcode audit`: clean on the demo's artefacts (exit 0), findings exit 1, bad input exit 2.

use assert_cmd::Command;

fn hc() -> Command {
    Command::cargo_bin("healthcode").unwrap()
}

#[test]
fn audit_exit_codes_on_demo_artefacts() {
    let dir = tempfile::tempdir().unwrap();
    let out = hc().args(["demo", "--no-qr", "--dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (bundle, db) = (dir.path().join("bundle"), dir.path().join("registry.db"));

    let out = hc()
        .args([
            "audit",
            "circuit",
            "--policy",
            "policies/henan-2022.toml",
            "--samples",
            "4",
            "--json",
            "--bundle",
        ])
        .arg(&bundle)
        .arg("--ptau")
        .arg(dir.path().join("phase1.ptau"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["clean"], true);
    assert!(
        out.stderr.is_empty(),
        "no progress output with --json: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = hc().args(["audit", "registry", "--db"]).arg(&db).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("clean: 6 checks passed") && text.contains("positive_test"), "{text}");

    // The same audit from the registry's public export, with the key and policy pinned.
    let export = dir.path().join("registry-log.json");
    let out = hc().args(["registry", "export"]).arg(&db).arg("--out").arg(&export).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let head = hc().args(["registry", "head", "--json"]).arg(&db).output().unwrap();
    let head: serde_json::Value = serde_json::from_slice(&head.stdout).unwrap();
    let key = head["registry"].as_str().unwrap().to_string();
    let audit_export = |policy: &str, key: &str| {
        hc().args(["audit", "registry", "--export"])
            .arg(&export)
            .args(["--policy", policy, "--registry-key", key])
            .output()
            .unwrap()
    };
    let out = audit_export("policies/henan-2022.toml", &key);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("clean: 6 checks passed") && text.contains("heads name the pinned registry key"),
        "{text}"
    );
    let stranger = "11".repeat(32);
    let out = audit_export("policies/henan-2022.toml", &hex_key_of(&stranger));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[FAIL] heads name the pinned registry key"));
    let out = hc().args(["audit", "registry", "--export"]).arg(&export).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--export needs --policy and --registry-key");

    let edited = dir.path().join("edited.toml");
    std::fs::write(&edited, include_str!("../policies/henan-2022.toml").replace("14d)\"", "13d)\"")).unwrap();
    let out = hc()
        .args(["audit", "circuit", "--samples", "0", "--policy"])
        .arg(&edited)
        .arg("--bundle")
        .arg(&bundle)
        .arg("--ptau")
        .arg(dir.path().join("phase1.ptau"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[FAIL] circuit digest"));

    let out = hc().args(["audit", "registry", "--dir", "/no/such/registry.db"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A valid Ed25519 public key other than the registry's (derived from `seed_hex`).
fn hex_key_of(seed_hex: &str) -> String {
    let seed: [u8; 32] = hex::decode(seed_hex).unwrap().try_into().unwrap();
    hex::encode(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().as_bytes())
}
