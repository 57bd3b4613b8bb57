//! `healthcode`: the thin command-line front of the workspace crates.
//!
//! Exit codes: 0 success, 1 failure (or, for `verify`, an invalid code), 2 bad input.

mod cmd;
mod output;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "healthcode",
    version,
    about = "Verifiable health codes: a green / yellow / red colour proven \
from signed test and contact data under a published policy"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a policy file or evaluate it on a holder state (the reference evaluator).
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCmd),
    /// Inspect the circuit compiled from a policy.
    #[command(subcommand)]
    Circuit(cmd::circuit::CircuitCmd),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Policy(c) => cmd::policy::run(c),
        Command::Circuit(c) => cmd::circuit::run(c),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
