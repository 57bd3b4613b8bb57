//! `healthcode setup | prove | verify`: policy bundles, the citizen's code and the checkpoint.

use crate::cmd::operator::client_error;
use crate::output::{emit, read_bytes, read_file, unix_now, unix_time, write_file, CliError, CliResult};
use clap::Args;
use ed25519_dalek::VerifyingKey;
use healthcode_circuits::{hashes, policy::Colour, Fr};
use healthcode_prover::{ProveRequest, ProverBundle};
use healthcode_registry::{event::key_from_hex, HolderFile, SignedHead, WitnessFile};
use healthcode_service::client::Client;
use healthcode_verifier::input::{MAX_BATCH_BYTES, MAX_IMAGE_BYTES, MAX_JSON_BYTES, MAX_POLICY_BYTES};
use healthcode_verifier::{
    challenge, qr, superseded, Checkpoint, HealthQr, Posted, TrustedHead, VerifierBundle,
};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct SetupArgs {
    /// The policy file (TOML) to compile and make keys for.
    #[arg(long)]
    pub policy: PathBuf,
    /// Directory for the bundle (policy, proving key, verifying key, manifest).
    #[arg(long)]
    pub out: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Which challenge a code answers: a venue code, or by default the current five-minute slot.
#[derive(Args, Clone)]
pub struct ChallengeArgs {
    /// The venue code shown at the checkpoint (prove: answer it; verify: require it).
    #[arg(long)]
    pub venue: Option<String>,
}

#[derive(Args)]
pub struct ProveArgs {
    /// The policy bundle made by `healthcode setup`.
    #[arg(long)]
    pub bundle: PathBuf,
    /// The holder file made on this device by `healthcode holder new`.
    #[arg(long)]
    pub holder: PathBuf,
    /// The witness exported by the registry (`healthcode registry witness`). Or use --registry.
    #[arg(long, required_unless_present = "registry", conflicts_with = "registry")]
    pub witness: Option<PathBuf>,
    /// The registry service's URL: fetch this holder's witness (a request signed with the
    /// holder's device key) and the latest head from it, instead of --witness and --heads.
    #[arg(long, conflicts_with = "heads")]
    pub registry: Option<String>,
    /// The registry's public key (hex), obtained out of band: the witness's head must carry its
    /// signature.
    #[arg(long)]
    pub registry_key: String,
    /// Time to claim the colour at, unix seconds (default: now).
    #[arg(long, value_parser = unix_time())]
    pub now: Option<u64>,
    /// The registry's latest signed heads (`healthcode registry head --all --json`, or the latest
    /// one): if one of them supersedes the witness's head by more than the policy's head_grace,
    /// checkpoints refuse the code (`superseded-head`), so proving is refused too.
    #[arg(long)]
    pub heads: Option<PathBuf>,
    /// With --heads: prove over a superseded head anyway, only warning (the code will be refused
    /// by every checkpoint that holds the newer head).
    #[arg(long, requires = "heads")]
    pub allow_superseded_head: bool,
    #[command(flatten)]
    pub challenge: ChallengeArgs,
    /// Bind the code to the identity document, so a checkpoint that checks the document can tell
    /// the code is its holder's. Needs the checkpoint's --nonce.
    #[arg(long, requires = "nonce")]
    pub bind: bool,
    /// With --bind: the secret nonce the checkpoint issued for this binding (`healthcode nonce`,
    /// shown by the checkpoint to this device only). The code answers it without carrying it.
    #[arg(long, requires = "bind", conflicts_with = "venue")]
    pub nonce: Option<String>,
    /// Write the code's text form to this file (it is always printed).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the code as a QR PNG image.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Write the code as a QR SVG image.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Show the QR code on the terminal.
    #[arg(long)]
    pub qr: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The code's text form (`HCV1:…`). Or use --image or --batch.
    pub code: Option<String>,
    /// A photo or screenshot of the QR code (PNG or JPEG).
    #[arg(long, conflicts_with = "code")]
    pub image: Option<PathBuf>,
    /// A file of codes, one text form per line: verified together (batch verification).
    #[arg(long, conflicts_with_all = ["code", "image"])]
    pub batch: Option<PathBuf>,
    /// The policy bundle this checkpoint enforces.
    #[arg(long)]
    pub bundle: PathBuf,
    /// The registry's public key (hex).
    #[arg(long)]
    pub registry_key: String,
    /// Recent signed heads (`healthcode registry head --all --json`, or one head). Or use
    /// --registry.
    #[arg(long, required_unless_present = "registry", conflicts_with = "registry")]
    pub heads: Option<PathBuf>,
    #[command(flatten)]
    pub network: NetworkHeads,
    /// The checkpoint clock, unix seconds (default: now).
    #[arg(long, value_parser = unix_time())]
    pub now: Option<u64>,
    #[command(flatten)]
    pub challenge: ChallengeArgs,
    /// Require the code to answer this checkpoint's current five-minute time slot (or the one
    /// before, for codes made at a slot boundary) when no venue code is posted.
    #[arg(long, conflicts_with = "venue")]
    pub slot: bool,
    /// Check no challenge: accept a code made for any venue or time slot. GIVES UP REPLAY
    /// PROTECTION: a screenshot or forwarded copy of anyone's code passes here for max_code_age.
    /// Without it, `verify` needs --venue or --slot.
    #[arg(long, conflicts_with_all = ["venue", "slot"])]
    pub insecure_accept_any_challenge: bool,
    /// The secret nonce this checkpoint issued for one identity binding (`healthcode nonce`):
    /// the challenge of a bound code, which the code does not carry.
    #[arg(long, conflicts_with_all = ["venue", "slot", "insecure_accept_any_challenge"])]
    pub nonce: Option<String>,
    /// Document number of an identity document the staff checked: the code must be bound to it,
    /// for the --nonce this checkpoint issued.
    #[arg(long, requires = "nonce")]
    pub document: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A gate's heads from the registry service, trusted only under a cosigned checkpoint.
#[derive(Args)]
pub struct NetworkHeads {
    /// The registry service's URL: refresh the trusted heads from it (cached in --heads-cache
    /// for offline use) instead of --heads.
    #[arg(long, requires_all = ["witness_keys", "heads_cache"])]
    pub registry: Option<String>,
    /// A witness's cosignature key (C2SP vkey) this checkpoint trusts (repeat for each).
    #[arg(long = "witness-key", value_name = "VKEY")]
    pub witness_keys: Vec<String>,
    /// How many of the --witness-key witnesses must have cosigned the registry's checkpoint.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub quorum: u64,
    /// Where the last verified heads are kept; used, with their age shown, when the registry
    /// cannot be reached.
    #[arg(long)]
    pub heads_cache: Option<PathBuf>,
}

pub fn registry_key(hex: &str) -> Result<VerifyingKey, CliError> {
    key_from_hex(hex).map_err(|e| CliError::bad(format!("--registry-key: {e}")))
}

pub fn trusted(head: &SignedHead) -> TrustedHead {
    TrustedHead { epoch: head.epoch, issued_at: head.issued_at, root: head.root }
}

/// Reads signed heads (an array or one object) and keeps those signed by `key` for `policy`.
pub fn load_heads(path: &Path, key: &VerifyingKey, policy: &[u8; 32]) -> Result<Vec<SignedHead>, CliError> {
    let src = read_file(path, MAX_JSON_BYTES)?;
    let heads: Vec<SignedHead> = serde_json::from_str::<Vec<SignedHead>>(&src)
        .or_else(|_| serde_json::from_str::<SignedHead>(&src).map(|h| vec![h]))
        .map_err(|e| CliError::bad(format!("{}: not signed heads: {e}", path.display())))?;
    if heads.is_empty() {
        return Err(CliError::bad(format!(
            "{}: holds no signed heads (fetch them with `healthcode registry head DB --all --json`)",
            path.display()
        )));
    }
    for h in &heads {
        h.verify(key, policy).map_err(|e| {
            CliError::bad(format!("{}: head of epoch {} refused: {e}", path.display(), h.epoch))
        })?;
    }
    Ok(heads)
}

pub fn run_setup(a: SetupArgs) -> CliResult {
    let text = read_file(&a.policy, MAX_POLICY_BYTES)?;
    healthcode_circuits::policy::Policy::parse(&text)
        .map_err(|e| CliError::bad(format!("{}:{e}", a.policy.display())))?;
    let manifest = healthcode_prover::setup(&text, &a.out, &mut rand::rngs::OsRng).map_err(CliError::fail)?;
    emit(a.json, &manifest, || {
        format!(
            "bundle written to {}\n  policy   {} v{} ({})\n  circuit  {} ({} constraints)\n\nWARNING: {}",
            a.out.display(),
            manifest.policy.id,
            manifest.policy.version,
            manifest.policy.digest,
            manifest.circuit.digest,
            manifest.circuit.constraints,
            manifest.warning
        )
    })
}

fn load_holder(path: &Path) -> Result<HolderFile, CliError> {
    HolderFile::from_json(&read_file(path, MAX_JSON_BYTES)?)
        .map_err(|e| CliError::bad(format!("{}: {e}", path.display())))
}

fn load_witness(path: &Path) -> Result<WitnessFile, CliError> {
    WitnessFile::from_json(&read_file(path, MAX_JSON_BYTES)?)
        .map_err(|e| CliError::bad(format!("{}: {e}", path.display())))
}

pub fn run_prove(a: ProveArgs) -> CliResult {
    if a.bind && a.nonce.is_none() {
        // Clap lets a conflicting --venue satisfy `requires`: say it here.
        return Err(CliError::bad(
            "--bind needs the checkpoint's --nonce: a binding to a posted venue code or time slot \
             would let anyone who sees the code test guesses of the document number",
        ));
    }
    let bundle = ProverBundle::load(&a.bundle).map_err(CliError::bad)?;
    let key = registry_key(&a.registry_key)?;
    let holder = load_holder(&a.holder)?;
    let (file, source, fetched_heads) = match (&a.witness, &a.registry) {
        (Some(path), _) => (load_witness(path)?, path.display().to_string(), None),
        (None, Some(url)) => {
            let client = Client::new(url);
            let file = client.witness(&holder.device_key()).map_err(client_error)?;
            let latest = client.latest_head().map_err(client_error)?;
            latest
                .verify(&key, &bundle.policy.digest())
                .map_err(|e| CliError::bad(format!("{url}: head: {e}")))?;
            (file, url.clone(), Some(vec![latest]))
        }
        (None, None) => return Err(CliError::bad("give --witness FILE or --registry URL")),
    };
    let witness = file
        .statement_witness(&holder, &key, &bundle.policy, a.bind)
        .map_err(|e| CliError::bad(format!("{source}: {e}")))?;
    let now = a.now.unwrap_or_else(unix_now);
    let heads = match (&a.heads, fetched_heads) {
        (Some(path), _) => Some(load_heads(path, &key, &bundle.policy.digest())?),
        (None, fetched) => fetched,
    };
    if let Some(heads) = heads {
        let newer: Vec<TrustedHead> = heads.iter().map(trusted).collect();
        if let Some(n) = superseded(&trusted(&file.head), &newer, bundle.policy.head_grace, now) {
            let why = format!(
                "the witness is over the head of epoch {}, superseded by epoch {} {} s before `now`, \
                 more than the policy's head_grace {} s: checkpoints that hold epoch {} refuse this \
                 code (superseded-head). Get a fresh witness from the registry (`healthcode registry \
                 witness REGISTRY_DB --leaf {} -o FILE`) and prove again",
                file.head.epoch,
                n.epoch,
                now - n.issued_at,
                bundle.policy.head_grace,
                n.epoch,
                file.leaf_index
            );
            if !a.allow_superseded_head {
                return Err(CliError::bad(why));
            }
            eprintln!("warning: {why}");
        }
    }
    let challenge = match (&a.challenge.venue, &a.nonce) {
        (_, Some(n)) => challenge::nonce(n).map_err(|e| CliError::bad(format!("--nonce: {e}")))?,
        (Some(v), None) => challenge::venue(v),
        (None, None) => challenge::time_slot(now),
    };
    let request = ProveRequest { head: trusted(&file.head), now, challenge, bind: a.bind, claim: None };
    let prover = bundle.prover().map_err(CliError::fail)?;
    let proved = prover.prove_code(&witness, &request, &mut rand::rngs::OsRng).map_err(CliError::bad)?;
    let text = proved.payload.to_text().map_err(CliError::fail)?;
    let qr = HealthQr::new(&proved.payload).map_err(CliError::fail)?;
    if let Some(p) = &a.out {
        write_file(p, format!("{text}\n"))?;
    }
    if let Some(p) = &a.png {
        write_file(p, qr.to_coloured_png(proved.explanation.colour, &healthcode_verifier::when::local(now)))?;
    }
    if let Some(p) = &a.svg {
        write_file(p, qr.to_svg())?;
    }
    let e = &proved.explanation;
    let out = json!({
        "colour": e.colour, "rule": e.rule, "because": e.because,
        "epoch": file.head.epoch, "now": now, "code": text,
        "bytes": proved.payload.encode().map_err(CliError::fail)?.len(), "qr_version": qr.version(),
    });
    emit(a.json, &out, || {
        let mut s = format!("{e}\n{text}");
        if a.qr {
            s = format!("{}\n{s}", qr.to_terminal());
        }
        s
    })
}

pub fn run_verify(a: VerifyArgs) -> CliResult {
    if a.document.is_some() && a.nonce.is_none() {
        // Clap lets a conflicting --venue satisfy `requires`: say it here.
        return Err(CliError::bad(
            "--document needs the --nonce this checkpoint issued for the binding (`healthcode nonce`)",
        ));
    }
    if a.challenge.venue.is_none() && !a.slot && a.nonce.is_none() {
        if !a.insecure_accept_any_challenge {
            return Err(CliError::bad(
                "give the challenge this checkpoint issued: --venue CODE (the posted venue code), \
                 --slot (the current time slot) or --nonce HEX (an identity binding's nonce); without \
                 one a screenshot of anyone's code would pass (--insecure-accept-any-challenge \
                 accepts that, knowingly)",
            ));
        }
        eprintln!(
            "warning: --insecure-accept-any-challenge: no challenge is checked, so a screenshot or \
             forwarded copy of anyone's code passes here for max_code_age"
        );
    }
    let bundle = VerifierBundle::load(&a.bundle).map_err(CliError::bad)?;
    let key = registry_key(&a.registry_key)?;
    let digest = bundle.policy.digest();
    let mut checkpoint = Checkpoint::from_bundle(&bundle).map_err(CliError::bad)?;
    let heads = match (&a.heads, &a.network.registry) {
        (Some(path), _) => load_heads(path, &key, &digest)?,
        (None, Some(url)) => crate::cmd::gate::refresh_heads(url, &a.network, key, digest)?,
        (None, None) => return Err(CliError::bad("give --heads FILE or --registry URL")),
    };
    for h in heads {
        checkpoint.add_head(trusted(&h)).map_err(CliError::bad)?;
    }
    let clock = a.now.unwrap_or_else(unix_now);
    let nonce = match &a.nonce {
        Some(n) => Some(challenge::nonce(n).map_err(|e| CliError::bad(format!("--nonce: {e}")))?),
        None => None,
    };
    let id: Option<Fr> = a.document.as_deref().map(hashes::id_hash);

    let codes: Vec<Vec<u8>> = if let Some(batch) = &a.batch {
        let codes: Vec<Vec<u8>> = read_file(batch, MAX_BATCH_BYTES)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().as_bytes().to_vec())
            .collect();
        if codes.is_empty() {
            return Err(CliError::bad(format!("{}: holds no codes (one per line)", batch.display())));
        }
        codes
    } else if let Some(image) = &a.image {
        let bytes = read_bytes(image, MAX_IMAGE_BYTES)?;
        vec![qr::read_image(&bytes).map_err(|e| CliError::bad(format!("{}: {e}", image.display())))?]
    } else if let Some(code) = &a.code {
        vec![code.trim().as_bytes().to_vec()]
    } else {
        return Err(CliError::bad("give a code, --image FILE or --batch FILE"));
    };
    let posted = match (&nonce, &a.challenge.venue) {
        (Some(_), _) => None,
        (None, Some(v)) => Some(Posted::Venue(challenge::venue(v))),
        (None, None) => a.slot.then_some(Posted::Slot),
    };
    let results = match posted {
        Some(posted) => checkpoint.verify_posted(&codes, clock, posted, id),
        None => checkpoint.verify_batch(&codes, clock, nonce, id),
    };
    let rows: Vec<serde_json::Value> = results
        .iter()
        .map(|r| match r {
            Ok(c) => json!({"valid": true, "colour": c}),
            Err(e) => json!({"valid": false, "reason": e.reason(), "detail": e.to_string()}),
        })
        .collect();
    let all_valid = results.iter().all(|r| r.is_ok());
    let out =
        if rows.len() == 1 { rows[0].clone() } else { json!({ "codes": rows, "all_valid": all_valid }) };
    emit(a.json, &out, || {
        results
            .iter()
            .map(|r| match r {
                Ok(c) => banner(*c),
                Err(e) => format!("INVALID — {e}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    if all_valid {
        Ok(())
    } else {
        Err(CliError::Invalid)
    }
}

#[derive(Args)]
pub struct NonceArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `healthcode nonce`: a fresh secret nonce for one identity binding. The checkpoint shows it to
/// the holder's device only (not on a poster), the device proves with `--bind --nonce`, and the
/// checkpoint verifies with the same `--nonce` and the document it inspected.
pub fn run_nonce(a: NonceArgs) -> CliResult {
    let n = challenge::fresh_nonce(&mut rand::rngs::OsRng);
    emit(a.json, &json!({ "nonce": n }), || n.clone())
}

fn banner(c: Colour) -> String {
    c.name().to_uppercase()
}
