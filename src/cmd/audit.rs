//! `healthcode audit circuit | registry`: the auditor's checks, from public artefacts only.
//! Exit 0 clean, 1 findings, 2 bad input.

use crate::output::{emit, read_file, CliError, CliResult};
use clap::Subcommand;
use healthcode_auditor::{circuit, registry, Report};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check that a policy bundle's keys belong to the circuit compiled from the published policy
    /// and that the circuit gives the reference evaluator's colour on boundary and random cases.
    Circuit {
        /// The published policy file (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// The policy bundle checkpoints were given (`healthcode setup`).
        #[arg(long)]
        bundle: PathBuf,
        /// Seed of the random sample of the semantic check.
        #[arg(long, default_value_t = 2022)]
        seed: u64,
        /// Number of random states in the semantic check (boundary cases are always all run).
        #[arg(long, default_value_t = 64)]
        samples: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Replay a registry's whole log: every event signed by a signer accredited at the time,
    /// every head and the stored tree recomputed; counts per signer, kind and epoch.
    Registry {
        /// The registry database file.
        #[arg(long = "dir", value_name = "REGISTRY_DB")]
        db: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn finish(json: bool, report: &Report, extra: impl FnOnce() -> String) -> CliResult {
    let out = serde_json::json!({ "clean": report.clean(), "report": report });
    emit(json, &out, || format!("{report}\n{}", extra()))?;
    if report.clean() {
        Ok(())
    } else {
        Err(CliError::Invalid)
    }
}

pub fn run(cmd: AuditCmd) -> CliResult {
    match cmd {
        AuditCmd::Circuit { policy, bundle, seed, samples, json } => {
            let text = read_file(&policy)?;
            let report = circuit::audit(&text, &bundle, circuit::Options { seed, random_cases: samples })
                .map_err(CliError::BadInput)?;
            finish(json, &report, String::new)
        }
        AuditCmd::Registry { db, json } => {
            if !db.exists() {
                return Err(CliError::bad(format!("{} does not exist", db.display())));
            }
            let report = registry::audit(&db).map_err(CliError::BadInput)?;
            finish(json, &report, || registry::counts_table(&report))
        }
    }
}
