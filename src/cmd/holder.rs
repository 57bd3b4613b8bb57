//! `healthcode holder new | backup | history`: the device side of enrolment, its backup, and the
//! holder's own history.

use crate::cmd::sign_event::write_secret;
use crate::output::{emit, CliError, CliResult};
use crate::output::{read_file, unix_now, unix_time};
use clap::Subcommand;
use healthcode_circuits::field::to_hex;
use healthcode_circuits::policy::{evaluate, Policy};
use healthcode_prover::Explanation;
use healthcode_registry::history::from_public_record;
use healthcode_registry::holder::backup;
use healthcode_registry::{HolderFile, LogExport};
use healthcode_verifier::input::{MAX_EXPORT_BYTES, MAX_JSON_BYTES, MAX_POLICY_BYTES};
use healthcode_verifier::when;
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum HolderCmd {
    /// Create a holder secret on this device and print the commitment to enrol. The file holds
    /// the secret: keep it on the device, give the registry only the commitment.
    New {
        /// The identity document number (only its hash is stored).
        #[arg(long)]
        document: String,
        /// Where to write the holder file (mode 0600; never overwritten).
        #[arg(short, long)]
        out: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Seal the holder file under a passphrase (Argon2id, XChaCha20-Poly1305) to move it to
    /// another device: the citizen's web page restores it ("I have a backup"). The passphrase
    /// is read from the environment variable named by --passphrase-env, never from the command
    /// line (which other users of the machine can see).
    Backup {
        /// The holder file to seal.
        #[arg(long)]
        holder: PathBuf,
        /// Where to write the backup (mode 0600; never overwritten).
        #[arg(short, long)]
        out: PathBuf,
        /// The environment variable holding the passphrase (8 characters or more).
        #[arg(long, default_value = "HEALTHCODE_PASSPHRASE")]
        passphrase_env: String,
    },
    /// Your own history from the registry's public record (its export), not from its database:
    /// each of your events with its signer, log position and inclusion proof, your state, and
    /// the rule that gives your colour and why.
    History {
        /// Your holder file (`healthcode holder new`): finds your leaf by your commitment.
        #[arg(long)]
        holder: PathBuf,
        /// The registry's public export (`healthcode registry export`).
        #[arg(long)]
        export: PathBuf,
        /// The registry's Ed25519 public key (hex), obtained out of band.
        #[arg(long)]
        registry_key: String,
        /// The published policy (TOML; the bundle's `policy.toml`): every head must name it.
        #[arg(long)]
        policy: PathBuf,
        /// The time to evaluate your colour at, unix seconds (default: now).
        #[arg(long, value_parser = unix_time())]
        now: Option<u64>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: HolderCmd) -> CliResult {
    match cmd {
        HolderCmd::History { holder, export, registry_key, policy, now, json } => {
            let key = crate::cmd::code::registry_key(&registry_key)?;
            let h = HolderFile::from_json(&read_file(&holder, MAX_JSON_BYTES)?)
                .map_err(|e| CliError::bad(format!("{}: {e}", holder.display())))?;
            let policy_text = read_file(&policy, MAX_POLICY_BYTES)?;
            let policy = Policy::parse(&policy_text)
                .map_err(|e| CliError::bad(format!("{}:{e}", policy.display())))?;
            let log = LogExport::parse(&read_file(&export, MAX_EXPORT_BYTES)?)
                .map_err(|e| CliError::bad(format!("{}: {e}", export.display())))?;
            let r = from_public_record(&log.heads, &log.entries, &key, &policy, &h.commitment)
                .map_err(|e| CliError::bad(format!("{}: {e}", export.display())))?;
            let now = now.unwrap_or_else(unix_now);
            let times: Vec<u64> = policy.events.iter().map(|k| r.state[k]).collect();
            let verdict = evaluate(&policy, &times, now).map_err(CliError::fail)?;
            let why = Explanation::new(&policy, &verdict, &times, now);
            let out = json!({
                "leaf_index": r.leaf_index, "epoch": r.head.epoch, "state": r.state, "events": r.events,
                "colour": verdict.colour, "rule": verdict.rule, "because": verdict.because, "now": now,
            });
            emit(json, &out, || {
                let mut lines = vec![format!(
                    "holder at leaf {}, from the public record up to epoch {} ({} log entries)",
                    r.leaf_index, r.head.epoch, r.head.log_size
                )];
                for e in &r.events {
                    lines.push(format!(
                        "  {} at {} signed by {} (key {}), accepted {}, log entry {} (inclusion proof checked){}{}",
                        e.kind,
                        when::human(e.time, now),
                        e.signer.as_deref().map_or("an UNKNOWN signer".to_string(), |n| format!("`{n}`")),
                        e.signer_key,
                        when::local(e.accepted_at),
                        e.inclusion.index,
                        e.retracted_at_entry.map(|i| format!(", RETRACTED at entry {i}")).unwrap_or_default(),
                        e.finding.as_deref().map(|f| format!(", AUDIT FINDING: {f}")).unwrap_or_default(),
                    ));
                }
                lines.push(format!("{why}"));
                lines.join("\n")
            })
        }
        HolderCmd::Backup { holder, out, passphrase_env } => {
            let h = HolderFile::from_json(&read_file(&holder, MAX_JSON_BYTES)?)
                .map_err(|e| CliError::bad(format!("{}: {e}", holder.display())))?;
            let pass = std::env::var(&passphrase_env).map_err(|_| {
                CliError::bad(format!("set the passphrase in the environment variable {passphrase_env}"))
            })?;
            let sealed =
                backup::seal(&h, &pass).map_err(|e| CliError::bad(format!("${passphrase_env}: {e}")))?;
            write_secret(&out, &format!("{sealed}\n"))?;
            eprintln!("wrote {} (restore it in the citizen's page with the same passphrase)", out.display());
            Ok(())
        }
        HolderCmd::New { document, out, json } => {
            if document.trim().is_empty() {
                return Err(CliError::bad("--document must not be empty"));
            }
            let h = HolderFile::generate(&document);
            write_secret(&out, &h.to_json())?;
            let (cm, pk, id) = (to_hex(&h.commitment), to_hex(&h.pk), to_hex(&h.id_hash));
            let device = hex::encode(h.device_key().verifying_key().as_bytes());
            emit(
                json,
                &json!({ "file": out, "commitment": cm, "pk": pk, "id_hash": id, "device_key": device }),
                || {
                    format!(
                    "wrote {}\n  commitment  {cm}\n  device key  {device}\nenrol with: healthcode registry enroll <registry.db> --commitment {cm}\n  or, at a registry service: healthcode operator --url URL --key OPERATOR.key enroll --commitment {cm} --device-key {device}",
                    out.display()
                )
                },
            )
        }
    }
}
