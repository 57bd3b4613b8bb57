//! `healthcode operator`: the registry operator's actions on a running registry service, each a
//! request signed with the operator's key (the one `healthcode serve --operator-key` names).

use crate::cmd::sign_event::load_key;
use crate::output::{emit, CliError, CliResult};
use clap::{Args, Subcommand};
use healthcode_registry::event::Role;
use healthcode_service::api::{AddAuditor, AddSigner, Enrol};
use healthcode_service::client::{Client, ClientError};
use serde_json::json;
use std::path::PathBuf;

#[derive(Args)]
pub struct OperatorArgs {
    /// The registry service's base URL, e.g. https://registry.example:8443
    #[arg(long)]
    pub url: String,
    /// The operator's key file (`healthcode signer keygen`).
    #[arg(long)]
    pub key: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub action: OperatorCmd,
}

#[derive(Subcommand)]
pub enum OperatorCmd {
    /// Accredit a lab or a tracer.
    AddSigner {
        /// The signer's name, unique in the registry (e.g. `lab-henan-3`).
        #[arg(long)]
        name: String,
        /// `lab` (test results) or `tracer` (contacts).
        #[arg(long, value_parser = ["lab", "tracer"])]
        role: String,
        /// The signer's public key (64 hex digits).
        #[arg(long)]
        signer_key: String,
        /// Unix seconds from which its signatures count (default: now).
        #[arg(long, value_parser = crate::output::unix_time())]
        from: Option<u64>,
    },
    /// Revoke a signer by name: its later submissions are refused.
    RevokeSigner {
        /// The signer's name, as accredited.
        #[arg(long)]
        name: String,
    },
    /// Enrol a holder: her commitment and device key, both printed by `healthcode holder new`.
    Enroll {
        /// The holder's commitment (0x-hex), from `healthcode holder new` on her device.
        #[arg(long)]
        commitment: String,
        /// Her device key (64 hex digits), printed beside it: it authenticates her reads.
        #[arg(long)]
        device_key: String,
    },
    /// Accredit an auditor, who may then read the full log entries.
    AddAuditor {
        /// The auditor's name (e.g. the audit office), unique in the registry.
        #[arg(long)]
        name: String,
        /// The auditor's public key (64 hex digits).
        #[arg(long)]
        auditor_key: String,
    },
    /// Publish the queued entries as the next epoch now.
    Publish,
}

/// A client failure as a command-line error: a refusal is the input's fault (exit 2), a network
/// failure or a garbled answer is not (exit 3).
pub fn client_error(e: ClientError) -> CliError {
    if e.is_network() {
        CliError::Network(e.to_string())
    } else {
        CliError::bad(e)
    }
}

pub fn run(a: OperatorArgs) -> CliResult {
    let key = load_key(&a.key)?;
    let client = Client::new(&a.url);
    match a.action {
        OperatorCmd::AddSigner { name, role, signer_key, from } => {
            let role = Role::parse(&role).ok_or_else(|| CliError::bad("--role is lab or tracer"))?;
            let from = from.unwrap_or_else(crate::output::unix_now);
            client
                .add_signer(
                    &key,
                    &AddSigner { name: name.clone(), role, key: signer_key, accredited_from: from },
                )
                .map_err(client_error)?;
            emit(a.json, &json!({ "accredited": name, "from": from }), || {
                format!("accredited {name} from {from}")
            })
        }
        OperatorCmd::RevokeSigner { name } => {
            client.revoke_signer(&key, &name).map_err(client_error)?;
            emit(a.json, &json!({ "revoked": name }), || format!("revoked {name}"))
        }
        OperatorCmd::Enroll { commitment, device_key } => {
            let e = client.enrol(&key, &Enrol { commitment, device_key }).map_err(client_error)?;
            emit(a.json, &e, || {
                format!("enrolled at leaf {} (in the tree from the next publish)", e.leaf_index)
            })
        }
        OperatorCmd::AddAuditor { name, auditor_key } => {
            client
                .add_auditor(&key, &AddAuditor { name: name.clone(), key: auditor_key })
                .map_err(client_error)?;
            emit(a.json, &json!({ "auditor": name }), || format!("accredited auditor {name}"))
        }
        OperatorCmd::Publish => {
            let h = client.publish(&key).map_err(client_error)?;
            emit(a.json, &h, || {
                format!("published epoch {} ({} holders, log size {})", h.epoch, h.holders, h.log_size)
            })
        }
    }
}
