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
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["clean"], true);

    let out = hc().args(["audit", "registry", "--dir"]).arg(&db).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("clean: 4 checks passed") && text.contains("positive_test"), "{text}");

    let edited = dir.path().join("edited.toml");
    std::fs::write(&edited, include_str!("../policies/henan-2022.toml").replace("14d)\"", "13d)\"")).unwrap();
    let out = hc()
        .args(["audit", "circuit", "--samples", "0", "--policy"])
        .arg(&edited)
        .arg("--bundle")
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[FAIL] circuit digest"));

    let out = hc().args(["audit", "registry", "--dir", "/no/such/registry.db"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
