//! `healthcode policy check|eval`.

use crate::output::{emit, read_file, unix_time, CliError, CliResult};
use clap::Subcommand;
use healthcode_circuits::policy::{evaluate, Policy};
use healthcode_verifier::input::{MAX_JSON_BYTES, MAX_POLICY_BYTES};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Validate a policy file and print its id, version and digest.
    Check {
        /// The policy file (TOML).
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a policy on a holder state with the reference evaluator.
    Eval {
        /// The policy file (TOML).
        file: PathBuf,
        /// JSON object mapping event names to unix seconds; a missing event means never.
        #[arg(long)]
        state: PathBuf,
        /// The time to evaluate at, in unix seconds.
        #[arg(long, value_parser = unix_time())]
        now: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Reads and validates a policy; errors name the file, line and column.
pub fn load_policy(path: &Path) -> Result<Policy, CliError> {
    let src = read_file(path, MAX_POLICY_BYTES)?;
    Policy::parse(&src).map_err(|e| CliError::BadInput(format!("{}:{e}", path.display())))
}

/// Reads a state file (`{"event": unix_seconds, …}`) into the policy's event order.
pub fn load_state(policy: &Policy, path: &Path) -> Result<Vec<u64>, CliError> {
    let src = read_file(path, MAX_JSON_BYTES)?;
    let map: BTreeMap<String, u64> = serde_json::from_str(&src).map_err(|e| {
        CliError::BadInput(format!(
            "{}: expected a JSON object of event names to unix seconds: {e}",
            path.display()
        ))
    })?;
    policy.state_from_names(&map).map_err(|e| CliError::BadInput(format!("{}: {e}", path.display())))
}

pub fn run(cmd: PolicyCmd) -> CliResult {
    match cmd {
        PolicyCmd::Check { file, json } => {
            let p = load_policy(&file)?;
            let digest = hex::encode(p.digest());
            let out = json!({
                "id": p.id, "version": p.version, "digest": digest,
                "rules": p.rules.len(), "events": p.events,
            });
            emit(json, &out, || {
                format!(
                    "policy {} v{} is valid\n  digest  {digest}\n  events  {}\n  rules   {}",
                    p.id,
                    p.version,
                    p.events.join(", "),
                    p.rules.len()
                )
            })
        }
        PolicyCmd::Eval { file, state, now, json } => {
            let p = load_policy(&file)?;
            let s = load_state(&p, &state)?;
            let v = evaluate(&p, &s, now).map_err(CliError::bad)?;
            emit(json, &v, || match (&v.rule, &v.because) {
                (Some(i), Some(b)) => format!("{} (rule {i}: {b})", v.colour.name().to_uppercase()),
                _ => format!("{} (no rule applies: default colour)", v.colour.name().to_uppercase()),
            })
        }
    }
}
