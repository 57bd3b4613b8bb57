//! The lab / tracer side: `healthcode signer keygen`, `healthcode sign-event`,
//! `healthcode sign-retraction`. Runs wherever the signing key lives; never needs the registry
//! database, only the registry's public key (from `healthcode registry head --json`).

use crate::cmd::operator::client_error;
use crate::output::{emit, read_file, unix_time, CliError, CliResult};
use clap::{Args, Subcommand};
use ed25519_dalek::SigningKey;
use healthcode_registry::event::key_from_hex;
use healthcode_registry::log::hash_from_hex;
use healthcode_registry::{Event, Retraction};
use healthcode_service::client::Client;
use healthcode_verifier::input::MAX_JSON_BYTES;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum SignerCmd {
    /// Generate an Ed25519 signing key file for a lab or tracer (give its public key to the
    /// registry operator for `healthcode registry signer add`).
    Keygen {
        /// Where to write the key file (created with mode 0600; never overwritten).
        #[arg(short, long)]
        out: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Flags shared by the signing commands.
#[derive(Args)]
pub struct SignCommon {
    /// The signer's key file (from `healthcode signer keygen`).
    #[arg(long)]
    key: PathBuf,
    /// The registry's public key (64 hex digits): events are bound to one registry.
    #[arg(long)]
    registry: String,
    /// Write the signed JSON here instead of stdout.
    #[arg(short, long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct SignEventArgs {
    #[command(flatten)]
    common: SignCommon,
    /// The holder's leaf index in the registry.
    #[arg(long)]
    holder: u32,
    /// The event kind, as named in the registry's policy (e.g. positive_test, close_contact).
    #[arg(long)]
    kind: String,
    /// When the event happened, in unix seconds.
    #[arg(long, value_parser = unix_time())]
    time: u64,
    /// Contact events: the event id (hex) of the index case's positive test.
    #[arg(long)]
    index_case: Option<String>,
    /// Submit the signed event to this registry service and print its inclusion receipt.
    #[arg(long, value_name = "URL")]
    submit: Option<String>,
    /// With --submit: write the receipt here (mode 0644) as well.
    #[arg(long, requires = "submit")]
    receipt_out: Option<PathBuf>,
}

#[derive(Args)]
pub struct SignRetractionArgs {
    #[command(flatten)]
    common: SignCommon,
    /// The id (hex) of the signer's own event to withdraw.
    #[arg(long)]
    event: String,
}

/// A signer's key file: `{"version": 1, "secret_key": "<hex>", "public_key": "<hex>"}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    secret_key: String,
    public_key: String,
}

/// Writes a secret file with mode 0600, refusing to replace an existing one.
pub fn write_secret(path: &Path, contents: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f =
        opts.open(path).map_err(|e| CliError::BadInput(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| CliError::fail(format!("cannot write {}: {e}", path.display())))
}

pub fn load_key(path: &Path) -> Result<SigningKey, CliError> {
    let bad = |why: String| CliError::BadInput(format!("{}: not a signer key file: {why}", path.display()));
    let kf: KeyFile =
        serde_json::from_str(&read_file(path, MAX_JSON_BYTES)?).map_err(|e| bad(e.to_string()))?;
    let sk: [u8; 32] = hash_from_hex(&kf.secret_key).map_err(bad)?;
    let key = SigningKey::from_bytes(&sk);
    if hex::encode(key.verifying_key().as_bytes()) != kf.public_key {
        return Err(bad("the public key does not match the secret key".into()));
    }
    Ok(key)
}

fn write_out(out: &Option<PathBuf>, json: &str) -> CliResult {
    match out {
        Some(p) => std::fs::write(p, format!("{json}\n"))
            .map_err(|e| CliError::fail(format!("cannot write {}: {e}", p.display()))),
        None => {
            println!("{json}");
            Ok(())
        }
    }
}

pub fn run_signer(cmd: SignerCmd) -> CliResult {
    match cmd {
        SignerCmd::Keygen { out, json } => {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let public_key = hex::encode(key.verifying_key().as_bytes());
            let kf = KeyFile {
                version: 1,
                secret_key: hex::encode(key.as_bytes()),
                public_key: public_key.clone(),
            };
            write_secret(&out, &serde_json::to_string_pretty(&kf).map_err(CliError::fail)?)?;
            emit(json, &json!({ "public_key": public_key, "file": out }), || {
                format!("wrote {}\n  public key  {public_key}", out.display())
            })
        }
    }
}

pub fn run_sign_event(a: SignEventArgs) -> CliResult {
    let key = load_key(&a.common.key)?;
    let registry = key_from_hex(&a.common.registry).map_err(|e| CliError::bad(format!("--registry: {e}")))?;
    let index_case = a
        .index_case
        .as_deref()
        .map(|h| hash_from_hex(h.trim()).map_err(|e| CliError::bad(format!("--index-case: {e}"))))
        .transpose()?;
    if a.kind.is_empty() || a.kind.len() > healthcode_registry::event::MAX_NAME {
        return Err(CliError::bad(format!(
            "--kind must be 1 to {} bytes",
            healthcode_registry::event::MAX_NAME
        )));
    }
    if a.time == 0 || a.time > healthcode_circuits::time::MAX_TIME {
        return Err(CliError::bad(format!("--time {} is not a valid unix time", a.time)));
    }
    let event = Event {
        registry,
        holder: a.holder,
        kind: a.kind,
        time: a.time,
        signer: key.verifying_key(),
        index_case,
    };
    let signed = event.sign(&key);
    let Some(url) = &a.submit else {
        write_out(&a.common.out, &serde_json::to_string(&signed).map_err(CliError::fail)?)?;
        if a.common.out.is_some() {
            eprintln!("event id {}", hex::encode(signed.event.id()));
        }
        return Ok(());
    };
    if let Some(out) = &a.common.out {
        write_out(&Some(out.clone()), &serde_json::to_string(&signed).map_err(CliError::fail)?)?;
    }
    let receipt = Client::new(url).submit_event(&signed).map_err(client_error)?;
    let json = serde_json::to_string_pretty(&receipt).map_err(CliError::fail)?;
    if let Some(p) = &a.receipt_out {
        crate::output::write_file(p, format!("{json}\n"))?;
    }
    eprintln!(
        "accepted: event {}, in a signed head by {}",
        hex::encode(signed.event.id()),
        receipt.publish_by
    );
    println!("{json}");
    Ok(())
}

pub fn run_sign_retraction(a: SignRetractionArgs) -> CliResult {
    let key = load_key(&a.common.key)?;
    let registry = key_from_hex(&a.common.registry).map_err(|e| CliError::bad(format!("--registry: {e}")))?;
    let event = hash_from_hex(a.event.trim()).map_err(|e| CliError::bad(format!("--event: {e}")))?;
    let signed = Retraction { registry, event, signer: key.verifying_key() }.sign(&key);
    write_out(&a.common.out, &serde_json::to_string(&signed).map_err(CliError::fail)?)
}
