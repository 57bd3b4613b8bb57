//! `healthcode`: the thin command-line front of the workspace crates.
//!
//! Exit codes: 0 success, 1 failure (or, for `verify`, an invalid code), 2 bad input, 3 a network
//! service unreachable, too slow, or answering garbage.

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
    /// Run the whole story end to end in a fresh directory: registry, lab and tracer, four
    /// holders, keys, proofs, QR codes, checkpoint, and the 2022 attack being refused.
    Demo(cmd::demo::DemoArgs),
    /// Check a policy file or evaluate it on a holder state (the reference evaluator).
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCmd),
    /// Inspect the circuit compiled from a policy.
    #[command(subcommand)]
    Circuit(cmd::circuit::CircuitCmd),
    /// Run a registry: signers, enrolment, events, epochs, witnesses, proofs.
    #[command(subcommand)]
    Registry(cmd::registry::RegistryCmd),
    /// The citizen's device side: create a holder secret and its commitment.
    #[command(subcommand)]
    Holder(cmd::holder::HolderCmd),
    /// The lab / tracer side: make a signing key.
    #[command(subcommand)]
    Signer(cmd::sign_event::SignerCmd),
    /// The lab / tracer side: sign a test result or contact event for a registry.
    SignEvent(cmd::sign_event::SignEventArgs),
    /// The lab / tracer side: sign the retraction of one of your own events.
    SignRetraction(cmd::sign_event::SignRetractionArgs),
    /// Policy authority: the multi-party key ceremony (snarkjs-compatible .ptau/.zkey files):
    /// init, contribute, beacon, verify, finalize.
    #[command(subcommand)]
    Ceremony(cmd::ceremony::CeremonyCmd),
    /// DEVELOPMENT ONLY: make a policy's keys alone. Whoever runs it can forge any code;
    /// production keys come from `healthcode ceremony`.
    Setup(cmd::code::SetupArgs),
    /// Citizen's device: prove your colour from your witness and show it as a health code.
    Prove(cmd::code::ProveArgs),
    /// Checkpoint: verify a health code offline. Exit 0 valid, 1 invalid, 2 bad input.
    Verify(cmd::code::VerifyArgs),
    /// Checkpoint: a fresh secret nonce for one identity binding (show it to the holder's device
    /// only; verify the bound code with the same --nonce).
    Nonce(cmd::code::NonceArgs),
    /// Holder or lab: check an inclusion receipt against the registry's public export.
    /// Exit 0 included or pending, 1 not included after the deadline, 2 bad input.
    #[command(subcommand)]
    Receipt(cmd::receipt::ReceiptCmd),
    /// Run the registry as a network service (HTTP or HTTPS): labs and tracers submit, holders
    /// fetch their witness, gates fetch cosigned heads, the operator acts by signed requests.
    Serve(cmd::serve::ServeArgs),
    /// Run or key a transparency-log witness that cosigns the registry's head log.
    #[command(subcommand)]
    Witness(cmd::serve::WitnessCmd),
    /// The registry operator's actions on a running registry service (signed requests).
    Operator(cmd::operator::OperatorArgs),
    /// Auditor: check a bundle against the published policy, or replay a registry's log.
    /// Exit 0 clean, 1 findings, 2 bad input.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCmd),
}

/// Lets a closed stdout (`healthcode registry head DB | head -1`) end the program as it ends `cat`
/// or `head`: quietly, by SIGPIPE (status 141 in a shell). Rust ignores SIGPIPE by default, which
/// turns every later `println!` into a "Broken pipe" panic. Everything a command must not lose
/// (a registry epoch, a key file) is committed before its summary is printed.
fn die_quietly_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: called first in `main`, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    die_quietly_on_closed_stdout();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Policy(c) => cmd::policy::run(c),
        Command::Circuit(c) => cmd::circuit::run(c),
        Command::Registry(c) => cmd::registry::run(c),
        Command::Holder(c) => cmd::holder::run(c),
        Command::Signer(c) => cmd::sign_event::run_signer(c),
        Command::SignEvent(a) => cmd::sign_event::run_sign_event(a),
        Command::SignRetraction(a) => cmd::sign_event::run_sign_retraction(a),
        Command::Ceremony(c) => cmd::ceremony::run(c),
        Command::Setup(a) => cmd::code::run_setup(a),
        Command::Prove(a) => cmd::code::run_prove(a),
        Command::Verify(a) => cmd::code::run_verify(a),
        Command::Nonce(a) => cmd::code::run_nonce(a),
        Command::Audit(c) => cmd::audit::run(c),
        Command::Serve(a) => cmd::serve::run_serve(a),
        Command::Witness(c) => cmd::serve::run_witness(c),
        Command::Operator(a) => cmd::operator::run(a),
        Command::Receipt(c) => cmd::receipt::run(c),
    };
    if let Err(e) = result {
        if !matches!(e, output::CliError::Invalid) {
            eprintln!("error: {e}");
        }
        std::process::exit(e.exit_code());
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every option and argument of every command explains itself in `--help`: a checkpoint
    /// operator reads nothing else.
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "healthcode", &mut missing);
        assert!(missing.is_empty(), "arguments without help text:\n{}", missing.join("\n"));
        Cli::command().debug_assert();
    }
}
