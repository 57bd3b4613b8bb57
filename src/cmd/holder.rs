//! `healthcode holder new`: the device side of enrolment.

use crate::cmd::sign_event::write_secret;
use crate::output::{emit, CliError, CliResult};
use clap::Subcommand;
use healthcode_circuits::field::to_hex;
use healthcode_registry::HolderFile;
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
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: HolderCmd) -> CliResult {
    match cmd {
        HolderCmd::New { document, out, json } => {
            if document.trim().is_empty() {
                return Err(CliError::bad("--document must not be empty"));
            }
            let h = HolderFile::generate(&document);
            write_secret(&out, &h.to_json())?;
            let (cm, pk, id) = (to_hex(&h.commitment), to_hex(&h.pk), to_hex(&h.id_hash));
            emit(json, &json!({ "file": out, "commitment": cm, "pk": pk, "id_hash": id }), || {
                format!(
                    "wrote {}\n  commitment  {cm}\nenrol with: healthcode registry enroll <registry.db> --commitment {cm}",
                    out.display()
                )
            })
        }
    }
}
