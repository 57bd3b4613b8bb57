//! `healthcode circuit info`.

use crate::cmd::policy::load_policy;
use crate::output::{emit, CliError, CliResult};
use clap::Subcommand;
use healthcode_circuits::{statement::circuit_info, tree};
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum CircuitCmd {
    /// Compile the policy into its circuit and print its size and digest.
    Info {
        /// The policy file (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write the circuit in circom's binary .r1cs format (deterministic), for snarkjs and the
    /// other ceremony tools of the circom ecosystem.
    ExportR1cs {
        /// The policy file (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// Where to write the .r1cs.
        #[arg(short, long)]
        out: PathBuf,
    },
}

pub fn run(cmd: CircuitCmd) -> CliResult {
    match cmd {
        CircuitCmd::ExportR1cs { policy, out } => crate::cmd::ceremony::export_r1cs(&policy, &out),
        CircuitCmd::Info { policy, json } => {
            let p = load_policy(&policy)?;
            let info = circuit_info(&p).map_err(CliError::fail)?;
            let depth = 2 * tree::LEVELS;
            let out = json!({
                "constraints": info.constraints,
                "public_inputs": info.public_inputs,
                "digest": info.digest,
                "tree": {"depth": depth, "arity": tree::ARITY, "levels": tree::LEVELS},
            });
            emit(json, &out, || {
                format!(
                    "circuit for policy {} v{}\n  constraints    {}\n  public inputs  {}\n  digest         {}\n  tree           2^{depth} leaves, arity {}, {} levels",
                    p.id, p.version, info.constraints, info.public_inputs, info.digest, tree::ARITY, tree::LEVELS
                )
            })
        }
    }
}
