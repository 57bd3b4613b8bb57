//! `healthcode ceremony …`: the policy's Groth16 keys from a multi-party ceremony, in snarkjs's
//! `.ptau` / `.zkey` formats so that contributors and auditors may use snarkjs as well.
//!
//! The usual run: the authority takes a public phase 1 (production: Hermez's
//! `powersOfTau28_hez_final_13.ptau`), runs `init`; each contributor runs `contribute` on the
//! previous file and publishes the hash it prints; a beacon announced in advance is applied with
//! `beacon`; anyone runs `verify`; the authority runs `finalize` to make the bundle.

use crate::cmd::policy::load_policy;
use crate::output::{emit, read_bytes, read_file, CliError, CliResult};
use clap::Subcommand;
use healthcode_ceremony::{ptau, verify_ceremony, Ptau, R1cs, Zkey};
use healthcode_circuits::statement::{info_of, matrices, Matrices};
use healthcode_verifier::input::{MAX_POLICY_BYTES, MAX_PTAU_BYTES, MAX_ZKEY_BYTES};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum CeremonyCmd {
    /// DEVELOPMENT ONLY: make a prepared phase-1 file (.ptau) from fresh random secrets that
    /// this process forgets. Whoever runs it could have kept them: production uses a public
    /// ceremony's file (Hermez's powersOfTau28_hez_final_13.ptau).
    NewPtau {
        /// Powers of two of the largest circuit it serves (13 for the example policy).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=ptau::MAX_POWER as i64))]
        power: u32,
        /// Where to write the .ptau.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Check a phase-1 file: every point valid, the powers consistent, the prepared (Lagrange)
    /// sections the inverse FFT of the powers; says whether it is a pinned public file.
    VerifyPtau {
        /// The .ptau file.
        file: PathBuf,
        /// Check only what a circuit of 2^POWER rows needs (default: the whole file).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=ptau::MAX_POWER as i64))]
        power: Option<u32>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Start phase 2: the policy's circuit and the phase-1 file give the initial .zkey (the same
    /// bytes `snarkjs groth16 setup` makes from `healthcode circuit export-r1cs`).
    Init {
        /// The published policy file (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// The phase-1 file (.ptau, prepared for phase 2).
        #[arg(long)]
        ptau: PathBuf,
        /// Where to write the initial .zkey.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Add your contribution. Your secret comes from the operating system's randomness mixed
    /// with --entropy, is used once and erased. Keep the printed hash: it is how you find your
    /// contribution in the final transcript.
    Contribute {
        /// The previous .zkey.
        input: PathBuf,
        /// Where to write the new .zkey.
        output: PathBuf,
        /// Your name as the transcript records it (at most 64 bytes).
        #[arg(long)]
        name: String,
        /// Extra randomness of your own (typed text, dice rolls); never required.
        #[arg(long, default_value = "")]
        entropy: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The last contribution, from a public randomness beacon announced in advance (for
    /// example a future block hash): anyone can recompute it, nobody could choose it.
    Beacon {
        /// The previous .zkey.
        input: PathBuf,
        /// Where to write the new .zkey.
        output: PathBuf,
        /// The beacon's value, in hex (1 to 255 bytes).
        #[arg(long)]
        beacon: String,
        /// SHA-256 iterations, as a power of two (10 to 63; verifiers recompute up to 2^32).
        #[arg(long, value_parser = clap::value_parser!(u8).range(10..=63))]
        iterations: u8,
        /// The name the transcript records.
        #[arg(long, default_value = "final beacon")]
        name: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Everything an auditor checks of a .zkey: the phase-1 file, the chain of contributions
    /// (hashes, proofs of knowledge, δ), the beacon recomputed, and every section against the key
    /// the policy's circuit and the phase-1 file determine. Exit 0 valid, 1 failures, 2 bad input.
    Verify {
        /// The published policy file (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// The phase-1 file the ceremony was started from.
        #[arg(long)]
        ptau: PathBuf,
        /// The .zkey to check.
        zkey: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Verify the final .zkey and write the policy bundle the provers and checkpoints use
    /// (policy, proving and verifying keys, the transcript, a manifest).
    Finalize {
        /// The final .zkey (after the beacon).
        zkey: PathBuf,
        /// The published policy file (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// The phase-1 file the ceremony was started from.
        #[arg(long)]
        ptau: PathBuf,
        /// Directory for the bundle.
        #[arg(long)]
        out: PathBuf,
    },
}

fn write_new(path: &Path, bytes: &[u8]) -> CliResult {
    crate::output::write_file(path, bytes)
}

fn circuit(policy: &Path) -> Result<Matrices, CliError> {
    let p = load_policy(policy)?;
    matrices(&p)
        .map_err(|e| CliError::bad(format!("{}: the policy cannot be compiled: {e}", policy.display())))
}

fn zkey(path: &Path) -> Result<Zkey, CliError> {
    Zkey::decode(&read_bytes(path, MAX_ZKEY_BYTES)?)
        .map_err(|e| CliError::bad(format!("{}: {e}", path.display())))
}

fn parse_ptau<'a>(path: &Path, bytes: &'a [u8]) -> Result<Ptau<'a>, CliError> {
    Ptau::parse(bytes).map_err(|e| CliError::bad(format!("{}: {e}", path.display())))
}

fn ptau_text(r: &ptau::PtauReport) -> String {
    let mut s = format!("phase 1: power {}, SHA-256 {}\n", r.power, r.sha256);
    match &r.pinned {
        Some(p) => s += &format!("  pinned: {p}\n"),
        None => s += "  not a pinned public file: its phase 1 is only as trustworthy as whoever made it\n",
    }
    s += &format!("  {} phase-1 contributions recorded", r.contributions.len());
    for f in &r.failures {
        s += &format!("\n  FAILED: {f}");
    }
    s
}

pub fn run(cmd: CeremonyCmd) -> CliResult {
    let mut rng = rand::rngs::OsRng;
    match cmd {
        CeremonyCmd::NewPtau { power, out } => {
            let bytes = ptau::generate(power, &ptau::Phase1Secrets::random(&mut rng));
            write_new(&out, &bytes)?;
            println!(
                "wrote {} (power {power}, {} bytes)\nDEVELOPMENT ONLY: a single party made this phase 1. Production keys start from a public ceremony's file.",
                out.display(),
                bytes.len()
            );
            Ok(())
        }
        CeremonyCmd::VerifyPtau { file, power, json } => {
            let bytes = read_bytes(&file, MAX_PTAU_BYTES)?;
            let p = parse_ptau(&file, &bytes)?;
            let report = ptau::check(&p, power.unwrap_or(p.power), &mut rng)
                .map_err(|e| CliError::bad(format!("{}: {e}", file.display())))?;
            emit(json, &json!({ "ok": report.failures.is_empty(), "ptau": report }), || ptau_text(&report))?;
            if report.failures.is_empty() {
                Ok(())
            } else {
                Err(CliError::Invalid)
            }
        }
        CeremonyCmd::Init { policy, ptau: ptau_path, out } => {
            let m = circuit(&policy)?;
            let bytes = read_bytes(&ptau_path, MAX_PTAU_BYTES)?;
            let p = parse_ptau(&ptau_path, &bytes)?;
            let r1cs = R1cs::from_matrices(&m);
            let report = ptau::check(&p, healthcode_ceremony::circuit_power(&r1cs), &mut rng)
                .map_err(|e| CliError::bad(format!("{}: {e}", ptau_path.display())))?;
            if !report.failures.is_empty() {
                return Err(CliError::bad(format!(
                    "{}: {}",
                    ptau_path.display(),
                    report.failures.join("; ")
                )));
            }
            let z = healthcode_ceremony::init(&r1cs, &p).map_err(CliError::bad)?;
            write_new(&out, &z.encode())?;
            println!(
                "wrote {}: the initial key of circuit {} ({} constraints)\n  circuit hash {}",
                out.display(),
                info_of(&m).digest,
                m.constraints(),
                hex::encode(z.mpc.cs_hash)
            );
            Ok(())
        }
        CeremonyCmd::Contribute { input, output, name, entropy, json } => {
            let mut z = zkey(&input)?;
            let hash = healthcode_ceremony::contribute(&mut z, Some(&name), entropy.as_bytes(), &mut rng)
                .map_err(CliError::bad)?;
            write_new(&output, &z.encode())?;
            let out =
                json!({ "contribution": z.mpc.contributions.len(), "name": name, "hash": hex::encode(hash) });
            emit(json, &out, || {
                format!(
                    "contribution #{} ({name}) written to {}\ncontribution hash (keep it, find it in the final transcript):\n  {}",
                    z.mpc.contributions.len(),
                    output.display(),
                    hex::encode(hash)
                )
            })
        }
        CeremonyCmd::Beacon { input, output, beacon, iterations, name, json } => {
            let hash = hex::decode(&beacon).map_err(|e| CliError::bad(format!("--beacon: not hex: {e}")))?;
            let mut z = zkey(&input)?;
            let c =
                healthcode_ceremony::beacon(&mut z, Some(&name), &hash, iterations).map_err(CliError::bad)?;
            write_new(&output, &z.encode())?;
            let out =
                json!({ "contribution": z.mpc.contributions.len(), "name": name, "hash": hex::encode(c) });
            emit(json, &out, || {
                format!("beacon contribution written to {}\n  hash {}", output.display(), hex::encode(c))
            })
        }
        CeremonyCmd::Verify { policy, ptau: ptau_path, zkey: zkey_path, json } => {
            let m = circuit(&policy)?;
            let ptau_bytes = read_bytes(&ptau_path, MAX_PTAU_BYTES)?;
            let zkey_bytes = read_bytes(&zkey_path, MAX_ZKEY_BYTES)?;
            let (report, _) = verify_ceremony(&m, &ptau_bytes, &zkey_bytes, &mut rng)
                .map_err(|e| CliError::bad(format!("{e}")))?;
            let ok = report.ok();
            emit(json, &json!({ "ok": ok, "report": report }), || {
                let mut s = ptau_text(&report.ptau);
                if let Some(t) = &report.transcript {
                    s += &format!("\nphase 2: circuit hash {}\n", t.circuit_hash);
                    for c in &t.contributions {
                        s += &format!(
                            "  #{} {}: {}",
                            c.index,
                            c.name.as_deref().unwrap_or("(unnamed)"),
                            c.hash
                        );
                        if let Some(b) = &c.beacon {
                            s += &format!(" (beacon {}, 2^{} iterations)", b.hash, b.iterations_exp);
                        }
                        s += "\n";
                    }
                    for f in &t.failures {
                        s += &format!("  FAILED {}: {}\n", f.check, f.detail);
                    }
                }
                s + if ok { "ceremony verified" } else { "ceremony NOT verified" }
            })?;
            if ok {
                Ok(())
            } else {
                Err(CliError::Invalid)
            }
        }
        CeremonyCmd::Finalize { zkey: zkey_path, policy, ptau: ptau_path, out } => {
            let text = read_file(&policy, MAX_POLICY_BYTES)?;
            let m = circuit(&policy)?;
            let ptau_bytes = read_bytes(&ptau_path, MAX_PTAU_BYTES)?;
            let zkey_bytes = read_bytes(&zkey_path, MAX_ZKEY_BYTES)?;
            let (report, z) = verify_ceremony(&m, &ptau_bytes, &zkey_bytes, &mut rng)
                .map_err(|e| CliError::bad(format!("{e}")))?;
            if !report.ok() {
                let mut why: Vec<String> = report.ptau.failures.clone();
                if let Some(t) = &report.transcript {
                    why.extend(t.failures.iter().map(|f| format!("{}: {}", f.check, f.detail)));
                }
                return Err(CliError::fail(format!(
                    "{} does not verify; no bundle written: {}",
                    zkey_path.display(),
                    why.join("; ")
                )));
            }
            let manifest = healthcode_prover::setup::finalize(&text, z, &out).map_err(CliError::fail)?;
            println!(
                "bundle written to {}\n  policy   {} v{}\n  circuit  {}\n  {} contributions",
                out.display(),
                manifest.policy.id,
                manifest.policy.version,
                manifest.circuit.digest,
                manifest.ceremony.as_ref().map_or(0, |c| c.contributions.len())
            );
            Ok(())
        }
    }
}

/// `healthcode circuit export-r1cs`.
pub fn export_r1cs(policy: &Path, out: &Path) -> CliResult {
    let m = circuit(policy)?;
    let bytes = R1cs::from_matrices(&m).encode();
    write_new(out, &bytes)?;
    println!(
        "wrote {} ({} bytes, SHA-256 {})\n  circuit {} ({} constraints, {} public inputs)",
        out.display(),
        bytes.len(),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        info_of(&m).digest,
        m.constraints(),
        m.instance_variables - 1
    );
    Ok(())
}
