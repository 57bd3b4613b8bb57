//! `healthcode audit circuit | registry`: the auditor's checks, from public artefacts only.
//! Exit 0 clean, 1 findings, 2 bad input.

use crate::cmd::operator::client_error;
use crate::output::{emit, read_bytes, read_file, CliError, CliResult};
use clap::Subcommand;
use healthcode_auditor::{circuit, registry, Report};
use healthcode_circuits::policy::Policy;
use healthcode_registry::event::key_from_hex;
use healthcode_registry::receipt::Evidence;
use healthcode_service::client::Client;
use healthcode_verifier::input::{MAX_EXPORT_BYTES, MAX_JSON_BYTES, MAX_POLICY_BYTES, MAX_PTAU_BYTES};
use std::path::{Path, PathBuf};

/// The semantic check runs the circuit once per sample (milliseconds each): a hundred thousand
/// is already a long audit, and more only risks exhausting memory.
const MAX_SAMPLES: u64 = 100_000;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check that a policy bundle's keys belong to the circuit compiled from the published policy
    /// and that the circuit gives the reference evaluator's colour on boundary and random cases.
    Circuit {
        /// The published policy file (TOML).
        #[arg(long)]
        policy: PathBuf,
        /// The policy bundle checkpoints were given (`healthcode ceremony finalize`).
        #[arg(long)]
        bundle: PathBuf,
        /// The phase-1 file (.ptau) you trust the ceremony to have started from (production:
        /// Hermez's powersOfTau28_hez_final_13.ptau, SHA-256 95751b52…).
        #[arg(long)]
        ptau: PathBuf,
        /// Seed of the random sample of the semantic check.
        #[arg(long, default_value_t = 2022)]
        seed: u64,
        /// Number of random states in the semantic check (boundary cases are always all run).
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(0..=MAX_SAMPLES))]
        samples: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Replay a registry's whole log: every event signed by a signer accredited at the time,
    /// every head (and, from the database, the stored tree) recomputed; counts per signer, kind
    /// and epoch. Either the registry database (`--db`) or its public export (`--export`, from
    /// `healthcode registry export`) with the registry key and policy you trust.
    Registry {
        /// The registry database file (`--dir` is accepted too, its old name).
        #[arg(
            long = "db",
            alias = "dir",
            value_name = "REGISTRY_DB",
            required_unless_present_any = ["export", "url"],
            conflicts_with_all = ["export", "url"]
        )]
        db: Option<PathBuf>,
        /// The registry's public export (no database or registry secret needed).
        #[arg(long, value_name = "EXPORT", requires_all = ["policy", "registry_key"], conflicts_with = "url")]
        export: Option<PathBuf>,
        /// A registry service's URL: fetch every head and, with --auditor-key (an accredited
        /// auditor's key file), every log entry, and replay them like an export.
        #[arg(long, requires_all = ["policy", "registry_key", "auditor_key"])]
        url: Option<String>,
        /// With `--url`: your auditor key file (`healthcode signer keygen`), accredited by the
        /// registry operator (`healthcode operator … add-auditor`).
        #[arg(long, requires = "url")]
        auditor_key: Option<PathBuf>,
        /// With `--export` or `--url`: the published policy file every head must name.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// With `--export` or `--url`: the registry's Ed25519 public key (hex) every head must be
        /// signed by.
        #[arg(long)]
        registry_key: Option<String>,
        /// With `--export` or `--url`: evidence of a withheld event (`healthcode receipt check`): a receipt
        /// and a signed head issued after its deadline that lacks the event. Repeatable.
        #[arg(long)]
        evidence: Vec<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A spinner naming the audit's current step on stderr when it is a terminal; hidden with `--json`
/// or when stderr is redirected, so scripts see only the report.
fn progress_spinner(json: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

/// Audits a registry database: the one replay behind both `audit registry --db` and the
/// operator's `registry audit`, so the two can never disagree.
pub fn audit_db(db: &Path, json: bool) -> CliResult {
    crate::cmd::registry::existing_db_file(db)?;
    let report = registry::audit(db).map_err(CliError::BadInput)?;
    finish(json, &report, || registry::counts_table(&report))
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
        AuditCmd::Circuit { policy, bundle, ptau, seed, samples, json } => {
            let text = read_file(&policy, MAX_POLICY_BYTES)?;
            let ptau = read_bytes(&ptau, MAX_PTAU_BYTES)?;
            let spinner = progress_spinner(json);
            let options = circuit::Options { seed, random_cases: samples as usize };
            let report = circuit::audit_with_progress(&text, &bundle, &ptau, options, &|step| {
                spinner.set_message(step.to_string())
            });
            spinner.finish_and_clear();
            let report = report.map_err(CliError::BadInput)?;
            finish(json, &report, String::new)
        }
        AuditCmd::Registry { db, export, url, auditor_key, policy, registry_key, evidence, json } => {
            if let Some(db) = db {
                return audit_db(&db, json);
            }
            let (Some(policy), Some(key)) = (policy, registry_key) else {
                return Err(CliError::bad(
                    "give --db, or --export (or --url with --auditor-key) with --policy and --registry-key",
                ));
            };
            let (source, text) = match (export, url, auditor_key) {
                (Some(export), _, _) => (export.display().to_string(), read_file(&export, MAX_EXPORT_BYTES)?),
                (None, Some(url), Some(auditor)) => {
                    let auditor = crate::cmd::sign_event::load_key(&auditor)?;
                    let record = Client::new(&url).fetch_record(&auditor).map_err(client_error)?;
                    (url, record.to_json())
                }
                _ => return Err(CliError::bad("give --db, --export, or --url with --auditor-key")),
            };
            let policy_text = read_file(&policy, MAX_POLICY_BYTES)?;
            let policy = Policy::parse(&policy_text)
                .map_err(|e| CliError::bad(format!("{}: {e}", policy.display())))?;
            let key = key_from_hex(&key).map_err(|e| CliError::bad(format!("--registry-key: {e}")))?;
            let mut report = registry::audit_export(&text, &policy, &key)
                .map_err(|e| CliError::bad(format!("{source}: {e}")))?;
            if !evidence.is_empty() {
                let mut items = Vec::new();
                for path in &evidence {
                    let e: Evidence = serde_json::from_str(&read_file(path, MAX_JSON_BYTES)?)
                        .map_err(|e| CliError::bad(format!("{}: not evidence: {e}", path.display())))?;
                    items.push((path.display().to_string(), e));
                }
                registry::check_evidence(&mut report, &text, &key, &items).map_err(CliError::BadInput)?;
            }
            finish(json, &report, || registry::counts_table(&report))
        }
    }
}
