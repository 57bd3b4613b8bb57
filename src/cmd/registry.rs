//! `healthcode registry …`: the registry operator's commands over one registry database (a SQLite
//! file or a PostgreSQL URL).

use crate::output::{emit, epoch_number, read_file, unix_time, write_file, CliError, CliResult};
use clap::{Args, Subcommand};
use healthcode_circuits::field::{from_hex, to_hex};
use healthcode_circuits::hashes;
use healthcode_registry::event::{key_from_hex, Role};
use healthcode_registry::history::IndexCaseStatus;
use healthcode_registry::log::hash_from_hex;
use healthcode_registry::store::Location;
use healthcode_registry::{
    LogExport, PublishHooks, Registry, RegistryError, SignedEvent, SignedHead, SignedRetraction,
};
use healthcode_verifier::input::{MAX_BATCH_BYTES, MAX_JSON_BYTES, MAX_POLICY_BYTES};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct Db {
    /// The registry database: a SQLite file, or a PostgreSQL database given as a URL
    /// (`postgresql://user@host/dbname`; the database must exist, `init` creates the tables).
    db: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum RegistryCmd {
    /// Create a registry database for a policy, with a fresh registry signing key, and sign
    /// the epoch-0 head. The database file holds the registry's secret key: protect it.
    Init {
        #[command(flatten)]
        db: Db,
        /// The policy file (TOML) whose event kinds, window of event times (`max_event_ahead`,
        /// `max_event_behind`) and look-back bounds (`max_index_case_age` for a contact's index
        /// case, `max_retraction_age` for retractions) the registry accepts.
        #[arg(long)]
        policy: PathBuf,
    },
    /// Accredit or revoke labs and tracers.
    #[command(subcommand)]
    Signer(SignerCmd),
    /// Enrol a holder: store its commitment and assign a leaf index.
    Enroll {
        #[command(flatten)]
        db: Db,
        /// The commitment printed by `healthcode holder new` (0x-hex).
        #[arg(long, conflicts_with_all = ["pk", "document"], required_unless_present = "pk")]
        commitment: Option<String>,
        /// Alternatively: the holder's public key (0x-hex) …
        #[arg(long, requires = "document")]
        pk: Option<String>,
        /// … and the identity document number checked at the desk.
        #[arg(long, requires = "pk")]
        document: Option<String>,
    },
    /// Accept signed events (a file with one JSON event per line, from `healthcode sign-event`)
    /// into the queue. Exit 2 if any was refused; accepted ones are kept.
    Submit {
        #[command(flatten)]
        db: Db,
        /// The signed event file.
        file: PathBuf,
        /// Write the receipts of the accepted events here, one JSON receipt per line (the lab
        /// hands each holder her signed event and its receipt).
        #[arg(long)]
        receipts_out: Option<PathBuf>,
    },
    /// Print the receipt of an event accepted earlier again (the same receipt `submit` gave), for
    /// a lab or holder whose copy was lost.
    Receipt {
        #[command(flatten)]
        db: Db,
        /// The event id (hex), as `submit` printed it.
        #[arg(long)]
        event: String,
    },
    /// Accept a signer's retraction of its own event (from `healthcode sign-retraction`), at
    /// most the policy's `max_retraction_age` after the event's acceptance.
    Retract {
        #[command(flatten)]
        db: Db,
        /// The signed retraction file (JSON, from `healthcode sign-retraction`).
        file: PathBuf,
    },
    /// Apply the queue as the next epoch and sign its head (also run periodically with an
    /// empty queue, so heads stay fresh).
    Publish {
        #[command(flatten)]
        db: Db,
    },
    /// Remove the event rows no acceptance rule can read again: every whole month accepted
    /// before the latest head minus the policy's look-back (the longest of the event window,
    /// `max_index_case_age` and `max_retraction_age`) and 60 s. The log keeps every entry, so
    /// audits, histories' proofs and the record are unchanged; each holder's archived events are
    /// kept as her floor, which her state is recomputed from after a retraction. On PostgreSQL
    /// the month partitions are detached and dropped. One transaction; run it after a publish
    /// (monthly, say). Refuses if events in those months are not published yet.
    Archive {
        #[command(flatten)]
        db: Db,
    },
    /// Print the latest signed head (or one epoch's, or all of them).
    Head {
        #[command(flatten)]
        db: Db,
        /// The epoch whose head to print (default: the latest).
        #[arg(long, conflicts_with = "all", value_parser = epoch_number())]
        epoch: Option<u64>,
        /// Print every head, epoch 0 first (JSON array with --json).
        #[arg(long)]
        all: bool,
    },
    /// Export a holder's witness (state, Merkle path, signed head) for its device's prover.
    Witness {
        #[command(flatten)]
        db: Db,
        /// The holder's leaf index.
        #[arg(long)]
        leaf: u32,
        /// Write the witness file here instead of stdout.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// A holder's events with signer names and log inclusion proofs: why a code has its colour.
    History {
        #[command(flatten)]
        db: Db,
        /// The holder's leaf index (printed by `registry enroll`).
        #[arg(long)]
        leaf: u32,
    },
    /// Consistency proof between the logs of two epochs' heads (RFC 9162).
    Consistency {
        #[command(flatten)]
        db: Db,
        /// The older epoch.
        #[arg(long, value_parser = epoch_number())]
        from: u64,
        /// The newer epoch.
        #[arg(long, value_parser = epoch_number())]
        to: u64,
    },
    /// Replay the whole log as an auditor would and check every head and the stored tree against
    /// it: the same audit as `healthcode audit registry --db DB`. Exit 0 clean, 1 findings.
    Audit {
        #[command(flatten)]
        db: Db,
    },
    /// Write the registry's public record (every signed head and log entry, nothing secret) to a
    /// file for auditors: `healthcode audit registry --export FILE` replays it without the
    /// database, which also holds the registry's signing key.
    Export {
        #[command(flatten)]
        db: Db,
        /// The export file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum SignerCmd {
    /// Accredit a lab (signs `*_test` kinds) or tracer (signs contact kinds).
    Add {
        #[command(flatten)]
        db: Db,
        /// The signer's name as it appears in histories and audits (e.g. "Zhengzhou CDC lab 3").
        #[arg(long)]
        name: String,
        /// `lab` or `tracer`.
        #[arg(long, value_parser = ["lab", "tracer"])]
        role: String,
        /// The signer's Ed25519 public key (64 hex digits, from `healthcode signer keygen`).
        #[arg(long)]
        key: String,
        /// Accredited from this unix time (default: now).
        #[arg(long, value_parser = unix_time())]
        from: Option<u64>,
    },
    /// Revoke a signer now: its later events and retractions are refused.
    Revoke {
        #[command(flatten)]
        db: Db,
        /// The name the signer was accredited under.
        #[arg(long)]
        name: String,
    },
    /// List the signers.
    List {
        #[command(flatten)]
        db: Db,
    },
}

use crate::output::unix_now as now;

/// Maps a registry error for the database at `db`. Refusals and unknown names are the caller's
/// input problem (exit 2), and so is a file that is no usable registry (not a database, a
/// damaged or altered one, read-only); those name the file. The rest is a failure (exit 1).
fn err_for(db: &Path) -> impl Fn(RegistryError) -> CliError + Copy + '_ {
    // A `postgres://` URL is shown without its password.
    let place = move || Location::parse(db).to_string();
    move |e| match &e {
        RegistryError::Refused(_)
        | RegistryError::Exists(_)
        | RegistryError::Policy(_)
        | RegistryError::NoSuchEpoch(_)
        | RegistryError::NoSuchSigner(_)
        | RegistryError::NotPublished(_) => CliError::bad(e),
        _ if e.is_unusable_database() => CliError::bad(format!("{}: {e}", place())),
        _ => CliError::fail(format!("{}: {e}", place())),
    }
}

/// Refuses a registry path that names nothing or a directory, before SQLite sees it (a
/// `postgres://` URL goes to the server as it is).
pub fn existing_db_file(db: &Path) -> CliResult {
    if matches!(Location::parse(db), Location::Postgres(_)) {
        return Ok(());
    }
    if !db.exists() {
        return Err(CliError::bad(format!(
            "{} does not exist (create it with `healthcode registry init`)",
            db.display()
        )));
    }
    if db.is_dir() {
        return Err(CliError::bad(format!("{} is a directory, not a registry database", db.display())));
    }
    Ok(())
}

fn open(db: &Path) -> Result<Registry, CliError> {
    existing_db_file(db)?;
    Registry::open(db).map_err(err_for(db))
}

fn head_text(h: &SignedHead) -> String {
    format!(
        "epoch {}  issued {}\n  root      {}\n  holders   {}\n  log       {} entries, root {}\n  registry  {}\n  policy    {}",
        h.epoch,
        healthcode_verifier::when::human(h.issued_at, now()),
        to_hex(&h.root),
        h.holders,
        h.log_size,
        hex::encode(h.log_root),
        hex::encode(h.registry.as_bytes()),
        hex::encode(h.policy)
    )
}

pub fn run(cmd: RegistryCmd) -> CliResult {
    match cmd {
        RegistryCmd::Init { db, policy } => {
            let err = err_for(&db.db);
            let src = read_file(&policy, MAX_POLICY_BYTES)?;
            let reg = Registry::init(&db.db, &src, now()).map_err(err)?;
            let head = reg.head().map_err(err)?;
            let key = hex::encode(reg.public_key().as_bytes());
            let vkey = healthcode_service::headlog::log_vkey(&reg.public_key());
            emit(
                db.json,
                &json!({ "registry": key, "policy": hex::encode(reg.policy_digest()), "head": head, "head_log_vkey": vkey }),
                || {
                    format!(
                        "created {}\n  registry key  {key}\n  head log key  {vkey}  (for witnesses)\n{}",
                        db.db.display(),
                        head_text(&head)
                    )
                },
            )
        }
        RegistryCmd::Signer(c) => run_signer(c),
        RegistryCmd::Enroll { db, commitment, pk, document } => {
            let err = err_for(&db.db);
            let cm = match (commitment, pk, document) {
                (Some(c), _, _) => {
                    from_hex(c.trim()).map_err(|e| CliError::bad(format!("--commitment: {e}")))?
                }
                (None, Some(pk), Some(doc)) => {
                    let pk = from_hex(pk.trim()).map_err(|e| CliError::bad(format!("--pk: {e}")))?;
                    hashes::commitment(pk, hashes::id_hash(&doc))
                }
                _ => return Err(CliError::bad("give --commitment, or --pk and --document")),
            };
            let mut reg = open(&db.db)?;
            let leaf = reg.enroll(cm, now()).map_err(err)?;
            emit(db.json, &json!({ "leaf_index": leaf, "commitment": to_hex(&cm) }), || {
                format!("enrolled at leaf {leaf} (in the tree from the next publish)")
            })
        }
        RegistryCmd::Receipt { db, event } => {
            let err = err_for(&db.db);
            let id = hash_from_hex(&event).map_err(|e| CliError::bad(format!("--event: {e}")))?;
            let receipt = open(&db.db)?.receipt_of(id).map_err(err)?;
            println!("{}", serde_json::to_string(&receipt).map_err(CliError::fail)?);
            Ok(())
        }
        RegistryCmd::Submit { db, file, receipts_out } => {
            let err = err_for(&db.db);
            let src = read_file(&file, MAX_BATCH_BYTES)?;
            let mut events = Vec::new();
            for (i, line) in src.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let ev: SignedEvent = serde_json::from_str(line).map_err(|e| {
                    CliError::bad(format!("{}:{}: not a signed event: {e}", file.display(), i + 1))
                })?;
                events.push(ev);
            }
            if events.is_empty() {
                return Err(CliError::bad(format!("{}: no events", file.display())));
            }
            // The receipts file must be writable before anything is accepted: a receipt lost after
            // the commit cannot be asked for again by resubmitting (a duplicate is refused; use
            // `registry receipt`).
            if let Some(out) = &receipts_out {
                std::fs::File::create(out).map_err(|e| {
                    CliError::bad(format!("cannot write {}: {e}; nothing was submitted", out.display()))
                })?;
            }
            let mut reg = open(&db.db)?;
            let at = now();
            let verdicts = reg.submit_batch(&events, at).map_err(err)?;
            let receipts: Vec<_> =
                verdicts.iter().filter_map(|v| v.as_ref().ok()).map(|id| reg.receipt(*id, at)).collect();
            let mut receipt = receipts.iter();
            let results: Vec<_> = verdicts
                .iter()
                .map(|v| match v {
                    Ok(id) => json!({ "accepted": true, "id": hex::encode(id), "receipt": receipt.next() }),
                    Err(r) => json!({ "accepted": false, "reason": r.to_string() }),
                })
                .collect();
            if let Some(out) = &receipts_out {
                let lines: String = receipts
                    .iter()
                    .map(|r| serde_json::to_string(r).expect("a receipt serialises") + "\n")
                    .collect();
                write_file(out, lines)?;
            }
            let refused = verdicts.iter().filter(|v| v.is_err()).count();
            emit(db.json, &json!({ "results": results, "refused": refused }), || {
                verdicts
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        Ok(id) => format!(
                            "event {}: accepted, id {}, to be published by {}",
                            i + 1,
                            hex::encode(id),
                            at + reg.policy().max_merge_delay
                        ),
                        Err(r) => format!("event {}: refused: {r}", i + 1),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
            if refused > 0 {
                return Err(CliError::BadInput(format!("{refused} of {} events refused", events.len())));
            }
            Ok(())
        }
        RegistryCmd::Retract { db, file } => {
            let err = err_for(&db.db);
            let r: SignedRetraction = serde_json::from_str(&read_file(&file, MAX_JSON_BYTES)?)
                .map_err(|e| CliError::bad(format!("{}: not a signed retraction: {e}", file.display())))?;
            let mut reg = open(&db.db)?;
            reg.retract(&r, now()).map_err(err)?;
            let id = hex::encode(r.retraction.event);
            emit(db.json, &json!({ "retracted": id }), || format!("retraction of {id} accepted"))
        }
        RegistryCmd::Archive { db } => {
            let date = healthcode_verifier::when::local;
            let err = err_for(&db.db);
            let mut reg = open(&db.db)?;
            let a = reg.archive().map_err(err)?;
            let out = json!({ "archived_before": a.before, "events": a.events, "floors": a.floors });
            emit(db.json, &out, || match a.before {
                0 => "nothing to archive yet: no whole month is older than the look-back".to_string(),
                _ if a.events == 0 => {
                    format!("no event rows to archive; the archive boundary is {}", date(a.before))
                }
                _ => format!(
                    "archived {} events accepted before {} ({} holders' floors raised); the log keeps them",
                    a.events,
                    date(a.before),
                    a.floors
                ),
            })
        }
        RegistryCmd::Publish { db } => {
            let err = err_for(&db.db);
            let mut reg = open(&db.db)?;
            let queued = reg.queue_len().map_err(err)?;
            let bar = indicatif::ProgressBar::new(queued);
            if db.json || queued < 10_000 {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            } else {
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "publishing {bar:40} {pos}/{len} entries ({per_sec}, eta {eta})",
                    )
                    .map_err(CliError::fail)?,
                );
            }
            let mut progress = |done: u64, _total: u64| bar.set_position(done);
            let head = reg
                .publish_with(now(), PublishHooks { progress: Some(&mut progress), fault: None })
                .map_err(err)?;
            bar.finish_and_clear();
            emit(db.json, &head, || format!("published {queued} entries\n{}", head_text(&head)))
        }
        RegistryCmd::Head { db, epoch, all } => {
            let err = err_for(&db.db);
            let reg = open(&db.db)?;
            if all {
                let heads = reg.heads().map_err(err)?;
                return emit(db.json, &heads, || heads.iter().map(head_text).collect::<Vec<_>>().join("\n"));
            }
            let head = match epoch {
                Some(e) => reg.head_at(e),
                None => reg.head(),
            }
            .map_err(err)?;
            emit(db.json, &head, || head_text(&head))
        }
        RegistryCmd::Witness { db, leaf, out } => {
            let err = err_for(&db.db);
            let reg = open(&db.db)?;
            let w = reg.witness(leaf).map_err(err)?;
            match out {
                Some(p) => {
                    std::fs::write(&p, w.to_json() + "\n")
                        .map_err(|e| CliError::fail(format!("cannot write {}: {e}", p.display())))?;
                    emit(db.json, &json!({ "file": p, "leaf_index": leaf, "epoch": w.head.epoch }), || {
                        format!("wrote {} (leaf {leaf}, epoch {})", p.display(), w.head.epoch)
                    })
                }
                None => {
                    println!("{}", w.to_json());
                    Ok(())
                }
            }
        }
        RegistryCmd::Export { db, out } => {
            let err = err_for(&db.db);
            let reg = open(&db.db)?;
            let export = LogExport::of(&reg).map_err(err)?;
            // Written beside the target and renamed, so a crash never leaves half an export.
            let tmp = out.with_extension("partial");
            write_file(&tmp, export.to_json() + "\n")?;
            std::fs::rename(&tmp, &out)
                .map_err(|e| CliError::fail(format!("cannot write {}: {e}", out.display())))?;
            let epoch = export.heads.last().map_or(0, |h| h.epoch);
            let summary = json!({ "file": out, "heads": export.heads.len(), "entries": export.entries.len(), "epoch": epoch });
            emit(db.json, &summary, || {
                format!(
                    "wrote {} ({} heads up to epoch {epoch}, {} log entries)",
                    out.display(),
                    export.heads.len(),
                    export.entries.len()
                )
            })
        }
        RegistryCmd::History { db, leaf } => {
            let err = err_for(&db.db);
            let reg = open(&db.db)?;
            let h = reg.history(leaf).map_err(err)?;
            emit(db.json, &h, || {
                let mut lines = vec![format!("holder {leaf}, head epoch {}", h.head.epoch)];
                if let Some(s) = &h.state {
                    lines.push(format!("  state: {}", serde_json::to_string(s).unwrap_or_default()));
                }
                for e in &h.events {
                    lines.push(format!(
                        "  {} at {} signed by {} ({}){}{}{}",
                        e.kind,
                        e.time,
                        e.signer,
                        e.role,
                        match (e.index_case, e.index_case_status) {
                            (Some(c), Some(IndexCaseStatus::Retracted)) => format!(
                                ", index case {} RETRACTED (ask the tracer to retract this contact)",
                                hex::encode(c)
                            ),
                            (Some(c), Some(IndexCaseStatus::Archived)) => {
                                format!(", index case {} (archived: see the log)", hex::encode(c))
                            }
                            (Some(c), _) => format!(", index case {} (live)", hex::encode(c)),
                            (None, _) => String::new(),
                        },
                        if e.retracted { ", RETRACTED" } else { "" },
                        match &e.inclusion {
                            Some(p) => format!(", log entry {}", p.index),
                            None => ", pending publish".into(),
                        }
                    ));
                }
                if h.archived_before > 0 {
                    lines.push(format!(
                        "  events accepted before {} are archived: not listed, still in the log and in the state",
                        h.archived_before
                    ));
                }
                lines.join("\n")
            })
        }
        RegistryCmd::Consistency { db, from, to } => {
            let err = err_for(&db.db);
            let reg = open(&db.db)?;
            if from > to {
                return Err(CliError::bad("--from must not be after --to"));
            }
            let p = reg.consistency(from, to).map_err(err)?;
            p.verify(&reg.public_key(), &reg.policy_digest()).map_err(CliError::fail)?;
            emit(db.json, &p, || {
                format!(
                    "log of epoch {from} ({} entries) is a prefix of epoch {to} ({} entries): {} proof hashes",
                    p.from.log_size,
                    p.to.log_size,
                    p.proof.len()
                )
            })
        }
        RegistryCmd::Audit { db } => crate::cmd::audit::audit_db(&db.db, db.json),
    }
}

fn run_signer(cmd: SignerCmd) -> CliResult {
    match cmd {
        SignerCmd::Add { db, name, role, key, from } => {
            let err = err_for(&db.db);
            let role = Role::parse(&role).ok_or_else(|| CliError::bad("--role must be lab or tracer"))?;
            let key = key_from_hex(&key).map_err(|e| CliError::bad(format!("--key: {e}")))?;
            let mut reg = open(&db.db)?;
            let t = now();
            reg.add_signer(&name, role, key, from.unwrap_or(t), t).map_err(err)?;
            emit(db.json, &json!({ "name": name, "role": role }), || format!("accredited {role} `{name}`"))
        }
        SignerCmd::Revoke { db, name } => {
            let err = err_for(&db.db);
            let mut reg = open(&db.db)?;
            let s = reg.revoke_signer(&name, now()).map_err(err)?;
            emit(db.json, &s, || format!("revoked `{name}` at {}", s.revoked_at.unwrap_or_default()))
        }
        SignerCmd::List { db } => {
            let err = err_for(&db.db);
            let reg = open(&db.db)?;
            let s = reg.signers().map_err(err)?;
            emit(db.json, &s, || {
                s.iter()
                    .map(|s| {
                        format!(
                            "{} ({}) {} from {}{}",
                            s.name,
                            s.role,
                            hex::encode(s.key.as_bytes()),
                            s.accredited_from,
                            s.revoked_at.map(|t| format!(", revoked at {t}")).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}
