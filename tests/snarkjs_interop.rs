//! The ceremony's files against snarkjs 0.7.6, both ways (`tools/snarkjs`, installed by
//! `npm ci --prefix tools/snarkjs`; `.ci/run` does it and runs this test with `--ignored`):
//!
//! 1. `snarkjs groth16 setup` on our exported `.r1cs` makes the same `.zkey`, byte for byte, as
//!    `healthcode ceremony init`;
//! 2. a contribution made by `snarkjs zkey contribute` passes `healthcode ceremony verify`;
//! 3. our contribution and beacon on top pass `snarkjs zkey verify`;
//! 4. a tampered transcript fails both.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn snarkjs() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/snarkjs/node_modules/snarkjs/build/cli.cjs");
    assert!(p.is_file(), "snarkjs is not installed: run `npm ci --prefix tools/snarkjs`");
    p
}

fn run_snarkjs(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("node").arg(snarkjs()).args(args).current_dir(dir).output().unwrap();
    println!("snarkjs {}: {}", args.join(" "), String::from_utf8_lossy(&out.stdout));
    out
}

fn hc(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::cargo_bin("healthcode").unwrap().args(args).current_dir(dir).output().unwrap();
    println!(
        "healthcode {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
#[ignore = "needs snarkjs: npm ci --prefix tools/snarkjs (CI runs it)"]
fn ceremony_files_interoperate_with_snarkjs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/henan-2022.toml");
    let policy = policy.to_str().unwrap();
    assert!(hc(dir, &["circuit", "export-r1cs", "--policy", policy, "-o", "c.r1cs"]).status.success());
    assert!(hc(dir, &["ceremony", "new-ptau", "--power", "13", "-o", "p.ptau"]).status.success());

    // 1. The same initial key.
    assert!(run_snarkjs(dir, &["groth16", "setup", "c.r1cs", "p.ptau", "snarkjs_0000.zkey"])
        .status
        .success());
    assert!(hc(dir, &["ceremony", "init", "--policy", policy, "--ptau", "p.ptau", "-o", "ours_0000.zkey"])
        .status
        .success());
    let (theirs, ours) = (
        std::fs::read(dir.join("snarkjs_0000.zkey")).unwrap(),
        std::fs::read(dir.join("ours_0000.zkey")).unwrap(),
    );
    assert_eq!(theirs.len(), ours.len());
    assert!(theirs == ours, "snarkjs's initial key differs from ours");

    // 2. snarkjs contributes to our file; we verify.
    let out = run_snarkjs(
        dir,
        &["zkey", "contribute", "ours_0000.zkey", "s1.zkey", "--name=snarkjs contributor", "-e=some entropy"],
    );
    assert!(out.status.success());
    let out = hc(dir, &["ceremony", "verify", "--policy", policy, "--ptau", "p.ptau", "s1.zkey"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("snarkjs contributor"));

    // 3. We contribute and apply the beacon; snarkjs verifies.
    assert!(hc(dir, &["ceremony", "contribute", "s1.zkey", "o2.zkey", "--name", "healthcode contributor"])
        .status
        .success());
    let beacon = [
        "ceremony",
        "beacon",
        "o2.zkey",
        "o3.zkey",
        "--beacon",
        "0102030405060708090a0b0c0d0e0f10",
        "--iterations",
        "10",
    ];
    assert!(hc(dir, &beacon).status.success());
    let out = run_snarkjs(dir, &["zkey", "verify", "c.r1cs", "p.ptau", "o3.zkey"]);
    assert!(out.status.success(), "snarkjs refuses our contribution or beacon");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ZKey Ok!"));

    // 4. A tampered H query fails both verifiers.
    let mut bytes = std::fs::read(dir.join("o3.zkey")).unwrap();
    let v = ours_section_9_point(&bytes);
    bytes[v..v + 64].copy_from_slice(&std::fs::read(dir.join("o3.zkey")).unwrap()[v + 64..v + 128]);
    std::fs::write(dir.join("bad.zkey"), &bytes).unwrap();
    assert_eq!(
        hc(dir, &["ceremony", "verify", "--policy", policy, "--ptau", "p.ptau", "bad.zkey"]).status.code(),
        Some(1)
    );
    let out = run_snarkjs(dir, &["zkey", "verify", "c.r1cs", "p.ptau", "bad.zkey"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ZKey Ok!"));
}

/// Offset of the first point of section 9 (H) in a `.zkey` written in section order 1–10.
fn ours_section_9_point(b: &[u8]) -> usize {
    let mut pos = 12;
    loop {
        let id = u32::from_le_bytes(b[pos..pos + 4].try_into().unwrap());
        let size = u64::from_le_bytes(b[pos + 4..pos + 12].try_into().unwrap()) as usize;
        if id == 9 {
            return pos + 12;
        }
        pos += 12 + size;
    }
}
