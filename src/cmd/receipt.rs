//! `healthcode receipt check`: is a receipted event in the registry's public record?
//! Exit 0 included (or pending before the deadline), 1 not included after it, 2 bad input.

use crate::cmd::code::registry_key;
use crate::output::{emit, read_file, unix_now, unix_time, write_file, CliError, CliResult};
use clap::Subcommand;
use healthcode_registry::receipt::{check, Receipt, Status};
use healthcode_registry::LogExport;
use healthcode_verifier::input::{MAX_EXPORT_BYTES, MAX_JSON_BYTES};
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ReceiptCmd {
    /// Check a receipt against the registry's public export: its signature, then whether the
    /// event is in the log under a signed head (inclusion proof checked). After the receipt's
    /// deadline a missing event is a finding (exit 1), and the evidence is written for
    /// `healthcode audit registry --evidence`.
    Check {
        /// The receipt (from `healthcode registry submit --receipts-out`, one JSON object).
        #[arg(long)]
        receipt: PathBuf,
        /// The registry's public export (`healthcode registry export`).
        #[arg(long)]
        export: PathBuf,
        /// The registry's Ed25519 public key (hex), obtained out of band.
        #[arg(long)]
        registry_key: String,
        /// The time to judge the deadline at, unix seconds (default: now).
        #[arg(long, value_parser = unix_time())]
        now: Option<u64>,
        /// Where to write the evidence when the event is not included (default: beside the
        /// receipt, `<receipt>.evidence.json`).
        #[arg(long)]
        evidence_out: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ReceiptCmd) -> CliResult {
    let ReceiptCmd::Check { receipt, export, registry_key: key, now, evidence_out, json } = cmd;
    let key = registry_key(&key)?;
    let r = Receipt::from_json(&read_file(&receipt, MAX_JSON_BYTES)?)
        .map_err(|e| CliError::bad(format!("{}: {e}", receipt.display())))?;
    r.verify(&key).map_err(|e| CliError::bad(format!("{}: {e}", receipt.display())))?;
    let log = LogExport::parse(&read_file(&export, MAX_EXPORT_BYTES)?)
        .map_err(|e| CliError::bad(format!("{}: {e}", export.display())))?;
    let now = now.unwrap_or_else(unix_now);
    let id = hex::encode(r.event);
    let status = check(&r, &log.heads, &log.entries, &key, now)
        .map_err(|e| CliError::bad(format!("{}: {e}", export.display())))?;
    match status {
        Status::Included { index, head, proof } => {
            let out = json!({
                "event": id, "status": "included", "log_index": index, "epoch": head.epoch,
                "log_size": head.log_size, "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
            });
            emit(json, &out, || {
                format!(
                    "event {id}: included at log entry {index} under the signed head of epoch {} ({} entries; inclusion proof of {} hashes checked)",
                    head.epoch,
                    head.log_size,
                    proof.len()
                )
            })
        }
        Status::Pending => {
            let out = json!({ "event": id, "status": "pending", "publish_by": r.publish_by });
            emit(json, &out, || {
                format!(
                    "event {id}: pending — not in the log yet; the registry promised it by {}",
                    r.publish_by
                )
            })
        }
        Status::NotIncluded { evidence } => {
            let path = evidence_out.unwrap_or_else(|| receipt.with_extension("evidence.json"));
            write_file(&path, serde_json::to_string_pretty(&evidence).expect("evidence serialises") + "\n")?;
            let out = json!({
                "event": id, "status": "not-included", "publish_by": r.publish_by,
                "epoch": evidence.head.epoch, "evidence": path,
            });
            emit(json, &out, || {
                format!(
                    "event {id}: NOT INCLUDED — the registry promised it by {}, and its signed head of epoch {} (issued at {}) lacks it.\nevidence written to {} (give it to an auditor: healthcode audit registry --export LOG --policy P --registry-key KEY --evidence FILE)",
                    r.publish_by,
                    evidence.head.epoch,
                    evidence.head.issued_at,
                    path.display()
                )
            })?;
            Err(CliError::Invalid)
        }
    }
}
